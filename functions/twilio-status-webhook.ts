import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { publicBaseUrl, retryBackoffSeconds, twilioAuthToken } from './commons/config.ts';
import { emptyTwiml, errorResponse } from './commons/http.ts';
import { logger as defaultLogger, type HandlerLogger } from './commons/powertools.ts';
import { isValidTwilioSignature, twilioWebhookRequest } from './commons/twilio-signature.ts';
import { broadcastStore, contactStore } from './commons/wiring.ts';
import { providerSuppression, sentMessageEntry } from './core/contacts.ts';
import { ApiError } from './core/errors.ts';
import { maskPhone, sameWhatsAppIdentity, stripWhatsAppPrefix } from './core/phones.ts';
import type { BroadcastStore, ContactStore, MessageRef, RecipientKey } from './core/ports.ts';
import { retryDecision } from './core/retry-policy.ts';
import {
  canAdvance,
  isProcessed,
  NOT_SUCCEEDED,
  providerStatusToRecipient,
  type RecipientStatus,
  SUCCEEDED,
} from './core/statuses.ts';

/**
 * POST /webhooks/twilio/status: Twilio's status callbacks (API.md "Twilio webhooks").
 *
 * 1. X-Twilio-Signature over PUBLIC_BASE_URL + path + query and the form: missing or wrong → 403.
 * 2. The recipient by MessageSid; when the SID was never recorded (the send's answer was lost: a 5xx,
 *    a timeout, a crash) the signed query `?b=&i=&a=&t=` names the recipient and attempt, and the
 *    SID is adopted if that attempt has none yet. Still unknown → 200, nothing changes.
 * 3. MessageStatus → recipient status, moved forward only (duplicates and reordered callbacks are
 *    no-ops in the store), then the broadcast is finalized when this was a final status.
 */
export interface StatusWebhookDeps {
  readonly store: BroadcastStore;
  /** Suppressions from opt-out codes (21610, 63014) and the history of adopted sends. */
  readonly contacts: ContactStore;
  readonly authToken: () => Promise<string | undefined>;
  readonly publicBaseUrl: () => string;
  /** Retry windows for transient failures (RETRY_BACKOFF_SECONDS). */
  readonly backoffSeconds?: readonly number[];
  readonly now?: () => Date;
  readonly logger?: HandlerLogger;
}

/** The send's identity as carried in the StatusCallback query (built by send-messages). */
export interface CallbackRef extends MessageRef {
  readonly attempt: number;
}

export function callbackRefOf(query: URLSearchParams): CallbackRef | undefined {
  const tenantId = query.get('t');
  const broadcastId = query.get('b');
  const index = Number(query.get('i'));
  const attempt = Number(query.get('a'));
  if (!tenantId || !broadcastId) return undefined;
  if (!Number.isSafeInteger(index) || index < 0 || query.get('i') === '') return undefined;
  if (!Number.isSafeInteger(attempt) || attempt < 1) return undefined;
  return { tenantId, broadcastId, index, attempt, kind: query.get('k') === 'f' ? 'followUp' : 'template' };
}

const sameRecipient = (a: RecipientKey, b: RecipientKey) =>
  a.tenantId === b.tenantId && a.broadcastId === b.broadcastId && a.index === b.index;

export function createStatusWebhookHandler(deps: StatusWebhookDeps) {
  const log = deps.logger ?? defaultLogger;
  const now = deps.now ?? (() => new Date());

  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const request = twilioWebhookRequest(event, deps.publicBaseUrl());
    const token = await deps.authToken();
    if (!isValidTwilioSignature(token, request)) {
      log.warn('status callback refused: missing or invalid X-Twilio-Signature', {
        path: event.rawPath,
        hasSignature: Boolean(request.signature),
        tokenConfigured: Boolean(token),
      });
      return errorResponse(new ApiError('FORBIDDEN', 'Missing or invalid X-Twilio-Signature'));
    }

    const { params } = request;
    const sid = params.MessageSid ?? params.SmsSid;
    const providerStatus = params.MessageStatus ?? params.SmsStatus ?? '';
    if (!sid) {
      log.warn('status callback without MessageSid ignored');
      return emptyTwiml();
    }
    const ref = callbackRefOf(request.query);
    const context = {
      messageSid: sid,
      messageStatus: providerStatus,
      ...(ref ? { tenantId: ref.tenantId, broadcastId: ref.broadcastId } : {}),
    };

    let key = await deps.store.findRecipientBySid(sid);
    if (!key && ref) key = await adopt(ref, sid, params.To);
    if (!key) {
      log.info('status callback for an unknown MessageSid ignored', context);
      return emptyTwiml();
    }

    const to = providerStatusToRecipient(providerStatus);
    if (!to) {
      log.debug('status callback moves nothing', context);
      return emptyTwiml();
    }
    const errorCode = Number(params.ErrorCode) || undefined;
    const errorMessage = params.ErrorMessage || params.ChannelStatusMessage || undefined;
    if (key.kind === 'followUp') {
      // The follow-up's own ledger: forward only, never retried, never the broadcast's outcome.
      const at = now();
      const result = await deps.store.advanceFollowUp(key, to, {
        at,
        messageSid: sid,
        ...(errorCode !== undefined ? { errorCode } : {}),
        ...(errorMessage ? { errorMessage } : {}),
      });
      log.info(result.moved ? 'follow-up status advanced' : 'follow-up callback changed nothing', {
        ...context,
        index: key.index,
        status: to,
      });
      if (result.moved) await suppressOnOptOutCode(key, errorCode, at);
      return emptyTwiml();
    }
    // One consistent read of the ledger entry: it tells whether this move can take the recipient out
    // of flight (only then can the broadcast become final, so only then are its counters summed), and
    // spares the write of a duplicate or reordered callback.
    const before = await deps.store.getRecipient(key);
    // A callback speaks for the attempt whose message it reports: one from an earlier attempt (the
    // recipient was retried since) must not move the current one.
    const attempt = ref && sameRecipient(ref, key) ? ref.attempt : undefined;
    const fields = {
      ...context,
      tenantId: key.tenantId,
      broadcastId: key.broadcastId,
      index: key.index,
      status: to,
      ...(before ? { currentStatus: before.status } : {}),
    };
    if (!before || !canAdvance(before.status, to) || (attempt !== undefined && before.attempts !== attempt)) {
      log.info('status callback changed nothing (duplicate, reordered or stale)', fields);
      return emptyTwiml();
    }
    const at = now();
    // A transient failure is scheduled for the retry job in the same write (one retry layer).
    const decision =
      to === 'failed' || to === 'undelivered'
        ? retryDecision(errorCode, before.attempts, deps.backoffSeconds ?? retryBackoffSeconds(), at)
        : undefined;
    const result = await deps.store.advance(key, to, {
      at,
      messageSid: sid,
      attempt: attempt ?? before.attempts,
      ...(errorCode !== undefined ? { errorCode } : {}),
      ...(errorMessage ? { errorMessage } : {}),
      ...(decision?.retry ? { retryAt: decision.at } : {}),
      current: before,
    });
    log.info(result.moved ? 'recipient status advanced' : 'status callback changed nothing (lost a race)', {
      ...fields,
      ...(errorCode !== undefined ? { errorCode } : {}),
    });
    if (result.moved) await suppressOnOptOutCode(key, errorCode, at);
    if (result.moved && changesOutcome(before.status, to)) {
      const broadcast = await deps.store.getBroadcast(key.tenantId, key.broadcastId);
      if (broadcast && broadcast.status !== 'cancelled') {
        const final = await deps.store.finalizeIfDone(broadcast, at, key);
        if (final) log.info('broadcast finished', { ...context, broadcastId: key.broadcastId, final });
      }
    }
    return emptyTwiml();
  };

  /**
   * Whether a move can change the broadcast's outcome, so its counters are worth summing: the
   * recipient left flight, or a success turned into a failure (undelivered after sent), which
   * turns a `completed` broadcast into `partial`.
   */
  function changesOutcome(from: RecipientStatus, to: RecipientStatus): boolean {
    if (!isProcessed(to)) return false;
    return !isProcessed(from) || (SUCCEEDED.includes(from) && NOT_SUCCEEDED.includes(to));
  }

  /** 21610 (opted out) and 63014 (blocked us): the number goes on the tenant's suppression list. */
  async function suppressOnOptOutCode(key: RecipientKey, errorCode: number | undefined, at: Date) {
    if (errorCode === undefined) return;
    const recipient = await deps.store.getRecipient(key);
    const suppression = recipient && providerSuppression(recipient, errorCode, at);
    if (!suppression) return;
    await deps.contacts.suppress(suppression);
    log.info('number suppressed after a provider opt-out code', {
      tenantId: key.tenantId,
      to: maskPhone(suppression.phone),
      errorCode,
    });
  }

  /** Adopts an unrecorded SID for the send the signed query names; its owner, or undefined. */
  async function adopt(
    ref: CallbackRef,
    sid: string,
    to: string | undefined,
  ): Promise<MessageRef | undefined> {
    const recipient = await deps.store.getRecipient(ref);
    if (!recipient || recipient.attempts !== ref.attempt) return undefined;
    if (to && !sameWhatsAppIdentity(to, recipient.phone)) {
      log.warn('status callback names a recipient whose phone does not match; not adopted', {
        tenantId: ref.tenantId,
        broadcastId: ref.broadcastId,
        messageSid: sid,
        to: maskPhone(stripWhatsAppPrefix(to)),
      });
      return undefined;
    }
    const known = ref.kind === 'followUp' ? recipient.followUp?.messageSid : recipient.messageSid;
    if (ref.kind === 'followUp' && !recipient.followUp) return undefined;
    if (known && known !== sid) return undefined;
    if (!known) {
      if (ref.kind === 'followUp') await deps.store.recordFollowUpSid(ref, sid);
      else await deps.store.recordSid(ref, ref.attempt, sid);
      await deps.contacts.recordMessage(sentMessageEntry(recipient, ref.kind, sid));
      log.info('adopted an unrecorded MessageSid from its status callback', {
        tenantId: ref.tenantId,
        broadcastId: ref.broadcastId,
        index: ref.index,
        kind: ref.kind,
        messageSid: sid,
      });
    }
    return { tenantId: ref.tenantId, broadcastId: ref.broadcastId, index: ref.index, kind: ref.kind };
  }
}

let live: ReturnType<typeof createStatusWebhookHandler> | undefined;

export const handler = middy(
  async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      live ??= createStatusWebhookHandler({
        store: broadcastStore(),
        contacts: contactStore(),
        authToken: () => twilioAuthToken(),
        publicBaseUrl: () => publicBaseUrl(),
      });
      return await live(event);
    } catch (error) {
      defaultLogger.error('status callback failed', { error: error as Error });
      // 500 (not 200): Twilio may retry it, and nothing was half-done that a retry would repeat badly.
      return errorResponse(error);
    }
  },
).use(injectLambdaContext(defaultLogger, { resetKeys: true }));
