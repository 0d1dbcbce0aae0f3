import type { HandlerLogger } from '../commons/powertools.ts';
import { KEEP_ANY_ENTRY, providerSuppression } from '../core/contacts.ts';
import { maskPhone, stripWhatsAppPrefix } from '../core/phones.ts';
import type { ContactStore, FollowUpLedger, MessageIndex, MessageRef, SendLedger } from '../core/ports.ts';
import { retryDecision } from '../core/retry-policy.ts';
import { parseProviderErrorCode } from '../core/send-outcome.ts';
import { NO_METRICS, type ServiceMetrics } from '../core/service-metrics.ts';
import { providerStatusToRecipient } from '../core/statuses.ts';

/**
 * One Twilio status callback applied to the send ledger (API.md "Twilio webhooks", DESIGN.md
 * "Monotonic status"), signature already checked.
 *
 * The per-message StatusCallback URL names the send (`?b=&i=&a=&t=` and `k=f` for a follow-up, all
 * covered by Twilio's signature), so a callback is ONE conditional update of that recipient: no SID
 * lookup, no read before, no counter write (the stream aggregator counts). The update holds only
 * for that attempt, from a status it moves forward from, and while the recipient has no SID or this
 * SID: a duplicate, a reordered callback, or one of an earlier attempt changes nothing.
 *
 * A callback that names no send (a sender-level callback URL configured in Twilio's console) is
 * applied only to the recipient whose recorded SID it carries, found through the SID index (kept for
 * two-step broadcasts); otherwise it is ignored.
 */
export interface StatusCallbackDeps {
  readonly ledger: SendLedger;
  readonly followUps: FollowUpLedger;
  readonly messageIndex: MessageIndex;
  /** Suppressions from the opt-out codes (21610, 63014). */
  readonly contacts: ContactStore;
  readonly backoffSeconds: readonly number[];
  readonly now?: () => Date;
  readonly logger: HandlerLogger;
  /** Callbacks by status, failures by code, retries scheduled (core/service-metrics.ts). */
  readonly metrics?: ServiceMetrics;
}

/** The send's identity as carried in the StatusCallback query (built by use-cases/send-task.ts). */
export interface CallbackRef extends MessageRef {
  readonly attempt: number;
  /** A test send's message (`x=1`): left out of the metrics. */
  readonly test?: boolean;
}

export function callbackRefOf(query: URLSearchParams): CallbackRef | undefined {
  const tenantId = query.get('t');
  const broadcastId = query.get('b');
  const index = Number(query.get('i'));
  const attempt = Number(query.get('a'));
  if (!tenantId || !broadcastId) return undefined;
  if (!Number.isSafeInteger(index) || index < 0 || query.get('i') === '') return undefined;
  if (!Number.isSafeInteger(attempt) || attempt < 1) return undefined;
  return {
    tenantId,
    broadcastId,
    index,
    attempt,
    kind: query.get('k') === 'f' ? 'followUp' : 'template',
    ...(query.get('x') === '1' ? { test: true } : {}),
  };
}

/** What a callback did: moved its recipient, changed nothing (duplicate, stale, not a move), or named nobody. */
export type CallbackOutcome = 'applied' | 'unchanged' | 'unknown';

export async function applyStatusCallback(
  deps: StatusCallbackDeps,
  callback: { readonly params: Readonly<Record<string, string>>; readonly query: URLSearchParams },
): Promise<CallbackOutcome> {
  const log = deps.logger;
  const { params } = callback;
  const sid = params.MessageSid ?? params.SmsSid;
  const providerStatus = params.MessageStatus ?? params.SmsStatus ?? '';
  const phone = stripWhatsAppPrefix(params.To ?? '');
  const context = { messageSid: sid, messageStatus: providerStatus };
  if (!sid) {
    log.warn('status callback without MessageSid ignored');
    return 'unknown';
  }
  const to = providerStatusToRecipient(providerStatus);
  if (!to) return 'unchanged'; // queued/accepted/sending: Twilio only says it holds the message

  let ref: CallbackRef | undefined = callbackRefOf(callback.query);
  let requireRecordedSid = false;
  if (!ref) {
    const owner = await deps.messageIndex.find(sid);
    const recipient = owner && (await deps.ledger.get(owner));
    if (!owner || !recipient) {
      log.info('status callback for an unknown MessageSid ignored', context);
      return 'unknown';
    }
    ref = { ...owner, attempt: recipient.attempts };
    requireRecordedSid = true;
  }
  const at = (deps.now ?? (() => new Date()))();
  const errorCode = parseProviderErrorCode(params.ErrorCode);
  const errorMessage = params.ErrorMessage || params.ChannelStatusMessage || undefined;
  const common = {
    at,
    messageSid: sid,
    requireRecordedSid,
    ...(errorCode !== undefined ? { errorCode } : {}),
    ...(errorMessage ? { errorMessage } : {}),
  };
  // An opt-out code suppresses the number before the recipient moves: a write that fails here keeps
  // the callback for a later try (the webhook's retry queue), whose move then still lies ahead. Once
  // moved, a repeat of the callback changes nothing, so a suppression written after it could be lost.
  // Only if absent: a repeated callback leaves the entry (or an admin's) as it is.
  const suppression = phone && providerSuppression({ tenantId: ref.tenantId, phone }, errorCode, at);
  if (suppression) {
    await deps.contacts.suppress(suppression, KEEP_ANY_ENTRY);
    log.info("number on the tenant's suppression list after a provider opt-out code", {
      tenantId: ref.tenantId,
      to: maskPhone(phone),
      errorCode,
    });
  }
  let moved: boolean;
  let retryScheduled = false;
  if (ref.kind === 'followUp') moved = await deps.followUps.report(ref, { ...common, to });
  else {
    // A transient failure is scheduled for the retry job in the same write (one retry layer).
    const decision =
      to === 'failed' || to === 'undelivered'
        ? retryDecision(errorCode, phone, ref.attempt, deps.backoffSeconds, at)
        : undefined;
    moved = await deps.ledger.report(ref, {
      ...common,
      to,
      attempt: ref.attempt,
      ...(decision?.retry ? { retryAt: decision.at } : {}),
    });
    retryScheduled = moved && Boolean(decision?.retry);
  }
  const metrics = ref.test ? NO_METRICS : (deps.metrics ?? NO_METRICS);
  metrics.record('StatusCallbacks', 1, { Status: to });
  if (moved && (to === 'failed' || to === 'undelivered'))
    metrics.record('MessagesFailed', 1, { ErrorCode: String(errorCode ?? 'none') });
  if (retryScheduled) metrics.record('RetriesScheduled', 1, {});
  const fields = {
    ...context,
    tenantId: ref.tenantId,
    broadcastId: ref.broadcastId,
    index: ref.index,
    kind: ref.kind,
    status: to,
  };
  if (!moved) {
    log.debug('status callback changed nothing (duplicate, reordered or stale)', fields);
    return 'unchanged';
  }
  log.debug('recipient status advanced', { ...fields, ...(errorCode !== undefined ? { errorCode } : {}) });
  return 'applied';
}
