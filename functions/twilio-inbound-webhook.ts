import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { optOutConfirmationText, publicBaseUrl, twilioAuthToken } from './commons/config.ts';
import { publishMetrics, serviceMetrics } from './commons/emf-metrics.ts';
import { emptyTwiml, errorResponse, twimlMessage } from './commons/http.ts';
import { logger as defaultLogger, type HandlerLogger } from './commons/powertools.ts';
import { tenantSenders, webhookTokenFor } from './commons/tenant-twilio-wiring.ts';
import { traceInvocation } from './commons/tracing.ts';
import { isValidTwilioSignature, twilioWebhookRequest } from './commons/twilio-signature.ts';
import {
  broadcasts,
  contactStore,
  followUpLedger,
  messageIndex,
  sendLedger,
  sendTaskQueue,
} from './commons/wiring.ts';
import { ApiError } from './core/errors.ts';
import { decideTap } from './core/follow-up.ts';
import { type ContactIntent, contactIntent } from './core/opt-out.ts';
import { maskPhone, sameWhatsAppIdentity, whatsAppIdentity } from './core/phones.ts';
import type {
  Broadcasts,
  ContactMessage,
  ContactStore,
  FollowUpLedger,
  MessageIndex,
  MessageRef,
  Recipient,
  SendLedger,
  SendTask,
  TaskQueue,
} from './core/ports.ts';
import type { ServiceMetrics } from './core/service-metrics.ts';
import { whatsAppSender } from './core/tenant-senders.ts';

/**
 * POST /webhooks/twilio/inbound: WhatsApp messages people send us (API.md "Twilio webhooks").
 *
 * 1. X-Twilio-Signature over PUBLIC_BASE_URL + path + query and the form, with the token of the form's
 *    AccountSid (the deployment's, or a tenant's own subaccount's): missing or wrong → 403, nothing changes.
 *    A tenant's own account or sender (core/tenant-senders.ts) makes the message that tenant's alone:
 *    steps 4 and 5 then concern that tenant only, and an opt-out goes on its list, not sender-wide.
 * 2. A MessageSid handled before (Twilio retries a webhook it got no answer to) → 200, nothing more.
 * 3. Who wrote: the person's WhatsApp identity (phones.ts whatsAppIdentity), so `From=whatsapp:+521…`
 *    is the Mexican number we sent to as `+52…`, and a Brazilian account older than the ninth digit
 *    (`+55 41 8…`, 12 digits) the number we sent to with it.
 * 4. Whose is it: `OriginalRepliedMessageSid` names our message, hence the tenant, broadcast and
 *    recipient (its phone must be the same person's); without it, the tenants that have messaged
 *    this contact (they all send from the number the person wrote to).
 * 5. What it asks:
 *    - an opt-out word or button: the person is suppressed sender-wide, once, for every tenant of
 *      this deployment, those that never messaged them and those created later included (they all
 *      send from the number the person wrote to), and on the list of each tenant that messages them;
 *      START lifts the sender-wide opt-out and takes the number off those tenants' lists. An opt-out
 *      from someone no tenant ever messaged counts too: WhatsApp's policy is that every opt-out is
 *      honoured. With OPT_OUT_CONFIRMATION_TEXT set, the answer's TwiML carries one <Message> with
 *      that text, which Twilio sends as a reply inside the 24-hour window the person just opened;
 *    - a tap on a two-step broadcast's confirmation button: confirmedAt once, and the follow-up
 *      enqueued on the send queue (the same claimed, once-only send path as the template);
 *    - anything else is only recorded.
 * 6. The message enters each concerned tenant's contact history, and its MessageSid is marked
 *    handled, in one write: a crash before it makes Twilio's retry redo only idempotent steps.
 */
export interface InboundWebhookDeps {
  readonly broadcasts: Broadcasts;
  readonly ledger: SendLedger;
  readonly followUps: FollowUpLedger;
  readonly messageIndex: MessageIndex;
  readonly contacts: ContactStore;
  readonly sendQueue: TaskQueue<SendTask>;
  readonly authToken: () => Promise<string | undefined>;
  /** The token of the form's AccountSid and the tenant owning it when it is a tenant's own; without it, `authToken`. */
  readonly accountToken?: (
    accountSid: string | undefined,
  ) => Promise<{ token: string | undefined; accountOwner?: string }>;
  /** The tenant whose own sender (whatsapp:+E164 or MG…) this is; undefined: the deployment's shared sender. */
  readonly ownerOfSender?: (address: string) => Promise<string | undefined>;
  /** Whether the tenant sends from a sender of its own (then nothing written to the shared sender is its). */
  readonly hasOwnSender?: (tenantId: string) => Promise<boolean>;
  readonly publicBaseUrl: () => string;
  /** The reply to an opt-out (OPT_OUT_CONFIRMATION_TEXT); undefined: no reply. */
  readonly optOutConfirmationText?: () => string | undefined;
  readonly now?: () => Date;
  readonly logger?: HandlerLogger;
  /** Signature failures (core/service-metrics.ts TwilioAuthFailures). */
  readonly metrics?: ServiceMetrics;
}

const E164 = /^\+[1-9]\d{6,14}$/;

export function createInboundWebhookHandler(deps: InboundWebhookDeps) {
  const log = deps.logger ?? defaultLogger;
  const now = deps.now ?? (() => new Date());

  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const request = twilioWebhookRequest(event, deps.publicBaseUrl());
    const { token, accountOwner } = deps.accountToken
      ? await deps.accountToken(request.params.AccountSid)
      : { token: await deps.authToken(), accountOwner: undefined };
    if (!isValidTwilioSignature(token, request)) {
      deps.metrics?.record('TwilioAuthFailures', 1, { Source: 'webhook' });
      log.warn('inbound message refused: missing or invalid X-Twilio-Signature', {
        path: event.rawPath,
        hasSignature: Boolean(request.signature),
        tokenConfigured: Boolean(token),
      });
      return errorResponse(new ApiError('FORBIDDEN', 'Missing or invalid X-Twilio-Signature'));
    }

    const { params } = request;
    const messageSid = params.MessageSid ?? params.SmsMessageSid ?? params.SmsSid;
    const phone = whatsAppIdentity(params.From ?? '');
    if (!messageSid || !E164.test(phone)) {
      log.warn('inbound message without a MessageSid or a phone sender ignored');
      return emptyTwiml();
    }
    const context = { messageSid, from: maskPhone(phone) };
    if (await deps.contacts.inboundHandled(messageSid)) {
      log.info('inbound message handled before (a Twilio retry); nothing more', context);
      return emptyTwiml();
    }

    const at = now();
    // A tenant's own sender (or account) is that tenant's alone: what is written to it concerns no other.
    const owner = accountOwner ?? (await ownerOf(params));
    const repliedToSid = params.OriginalRepliedMessageSid || undefined;
    let replied = repliedToSid ? await repliedMessage(repliedToSid, phone) : undefined;
    if (owner && replied && replied.ref.tenantId !== owner) {
      log.warn(
        "inbound reply names another tenant's message than the sender's owner; treated as unaddressed",
        {
          ...context,
          repliedToSid,
        },
      );
      replied = undefined;
    }
    const intent = contactIntent({
      ...(params.Body !== undefined ? { body: params.Body } : {}),
      ...(params.ButtonPayload ? { buttonPayload: params.ButtonPayload } : {}),
      ...(params.ButtonText ? { buttonText: params.ButtonText } : {}),
    });
    // An opt-out or opt-in is recorded sender-wide and on the list of every tenant messaging this
    // number, even when none has (then only its MessageSid is marked handled); anything else concerns
    // the tenant whose message it answers, or else the one that wrote to the person last.
    let tenants: string[];
    if (owner) tenants = [owner];
    else if (intent) {
      const known = (await onSharedSender(await deps.contacts.tenantsOfContact(phone))).map(
        (t) => t.tenantId,
      );
      tenants = [...new Set([...(replied ? [replied.ref.tenantId] : []), ...known])];
    } else if (replied) tenants = [replied.ref.tenantId];
    else {
      const known = await onSharedSender(await deps.contacts.tenantsOfContact(phone));
      const latest = known.toSorted((a, b) => b.lastAt.localeCompare(a.lastAt))[0];
      tenants = latest ? [latest.tenantId] : [];
    }
    if (tenants.length === 0 && !intent) {
      log.info('inbound message from a contact no tenant has messaged; not recorded', context);
      return emptyTwiml();
    }

    if (intent) await applyIntent(intent, tenants, phone, at, context, owner === undefined);
    else if (replied?.ref.kind === 'template')
      await confirmIfTap(replied.recipient, params.ButtonPayload, at);

    const entries: ContactMessage[] = tenants.map((tenantId) => ({
      tenantId,
      phone,
      at: at.toISOString(),
      direction: 'inbound',
      type: 'inbound',
      messageSid,
      ...(params.Body ? { body: params.Body } : {}),
      ...(params.ButtonPayload ? { buttonPayload: params.ButtonPayload } : {}),
      ...(repliedToSid ? { repliedToSid } : {}),
      ...(replied && replied.ref.tenantId === tenantId ? { broadcastId: replied.ref.broadcastId } : {}),
    }));
    const first = await deps.contacts.recordInbound(messageSid, entries);
    log.info(first ? 'inbound message recorded' : 'inbound message recorded by a concurrent delivery', {
      ...context,
      tenants: tenants.length,
      intent: intent?.kind ?? (params.ButtonPayload ? 'tap' : 'message'),
      ...(replied ? { broadcastId: replied.ref.broadcastId, index: replied.ref.index } : {}),
    });
    const confirmation = intent?.kind === 'opt_out' ? deps.optOutConfirmationText?.() : undefined;
    return confirmation ? twimlMessage(confirmation) : emptyTwiml();
  };

  /**
   * Of the tenants that messaged the person, those that send from the shared sender: written to there,
   * a tenant with its own sender was not (its messages went from its own number).
   */
  async function onSharedSender<T extends { tenantId: string }>(known: readonly T[]): Promise<T[]> {
    const hasOwn = deps.hasOwnSender;
    if (!hasOwn) return [...known];
    const own = await Promise.all(known.map((t) => hasOwn(t.tenantId)));
    return known.filter((_, i) => !own[i]);
  }

  /** The tenant owning the sender the person wrote to (its Messaging Service, or its address). */
  async function ownerOf(params: Record<string, string>): Promise<string | undefined> {
    if (!deps.ownerOfSender) return undefined;
    const service = params.MessagingServiceSid;
    const byService = service ? await deps.ownerOfSender(service) : undefined;
    if (byService) return byService;
    const to = params.To ? whatsAppSender(params.To) : undefined;
    return to ? deps.ownerOfSender(to) : undefined;
  }

  /** Our message the person answered, when its SID is ours and it went to this very phone. */
  async function repliedMessage(
    sid: string,
    phone: string,
  ): Promise<{ ref: MessageRef; recipient: Recipient } | undefined> {
    const ref = await deps.messageIndex.find(sid);
    if (!ref) return undefined;
    const recipient = await deps.ledger.get(ref);
    if (!recipient || !sameWhatsAppIdentity(recipient.phone, phone)) {
      log.warn('inbound reply names a message sent to another number; treated as unaddressed', {
        repliedToSid: sid,
        from: maskPhone(phone),
      });
      return undefined;
    }
    return { ref, recipient };
  }

  async function applyIntent(
    intent: ContactIntent,
    tenants: readonly string[],
    phone: string,
    at: Date,
    context: Record<string, unknown>,
    sharedSender: boolean,
  ): Promise<void> {
    const reason =
      intent.kind === 'opt_out' && intent.via === 'button' ? 'opt_out_button' : 'opt_out_keyword';
    // The sender-wide list is the deployment's shared sender's; a tenant's own sender has its tenant's list.
    if (sharedSender && intent.kind === 'opt_out')
      await deps.contacts.suppressForSender({
        phone,
        reason,
        detail: intent.keyword,
        createdAt: at.toISOString(),
      });
    else if (sharedSender) await deps.contacts.unsuppressForSender(phone);
    for (const tenantId of tenants) {
      if (intent.kind === 'opt_out')
        await deps.contacts.suppress({
          tenantId,
          phone,
          reason,
          detail: intent.keyword,
          createdAt: at.toISOString(),
        });
      else await deps.contacts.unsuppress(tenantId, phone);
    }
    log.info(
      intent.kind === 'opt_out'
        ? 'contact opted out, for every tenant of the sender'
        : 'contact opted back in, for every tenant of the sender',
      { ...context, keyword: intent.keyword, tenantLists: tenants.length },
    );
  }

  /**
   * A tap on a two-step broadcast's template: confirm once, and hand the follow-up to the send
   * queue. When the confirmation is already there but its follow-up still waits in `queued` (an
   * earlier delivery of this webhook crashed before enqueueing), enqueue it again: the send claim
   * admits one send, so a duplicate task is harmless.
   */
  async function confirmIfTap(recipient: Recipient, buttonPayload: string | undefined, at: Date) {
    const broadcast = await deps.broadcasts.get(recipient.tenantId, recipient.broadcastId);
    const decision = decideTap({
      followUp: broadcast?.followUp,
      buttonPayload,
      templateSentAt: recipient.sentAt ?? recipient.claimedAt,
      now: at,
    });
    const fields = {
      tenantId: recipient.tenantId,
      broadcastId: recipient.broadcastId,
      index: recipient.index,
    };
    if (!decision.confirm) {
      log.info('inbound tap confirms nothing', { ...fields, reason: decision.reason });
      return;
    }
    const confirmed = await deps.followUps.confirm(recipient, at, decision.followUp);
    const followUp = confirmed ? decision.followUp : recipient.followUp?.status;
    if (followUp === 'queued')
      await deps.sendQueue.enqueue([
        { ...fields, attempt: recipient.attempts, kind: 'followUp', phone: recipient.phone },
      ]);
    log.info(
      confirmed
        ? decision.followUp === 'queued'
          ? 'recipient confirmed; follow-up enqueued'
          : 'recipient confirmed after the 24-hour window; follow-up not sent'
        : 'recipient had confirmed before; nothing more sent',
      { ...fields, followUp },
    );
  }
}

let live: ReturnType<typeof createInboundWebhookHandler> | undefined;

export const handler = middy(
  async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      live ??= createInboundWebhookHandler({
        broadcasts: broadcasts(),
        ledger: sendLedger(),
        followUps: followUpLedger(),
        messageIndex: messageIndex(),
        contacts: contactStore(),
        sendQueue: sendTaskQueue(),
        authToken: () => twilioAuthToken(),
        accountToken: (accountSid) => webhookTokenFor(accountSid),
        ownerOfSender: (address) => tenantSenders().ownerOfSender(address),
        hasOwnSender: async (tenantId) => (await tenantSenders().get(tenantId)) !== undefined,
        publicBaseUrl: () => publicBaseUrl(),
        optOutConfirmationText: () => optOutConfirmationText(),
        metrics: serviceMetrics,
      });
      return await live(event);
    } catch (error) {
      defaultLogger.error('inbound message failed', { error: error as Error });
      // 500: Twilio retries, and every step before the handled-marker is safe to repeat.
      return errorResponse(error);
    }
  },
)
  .use(injectLambdaContext(defaultLogger, { resetKeys: true }))
  .use(traceInvocation())
  .use(publishMetrics());
