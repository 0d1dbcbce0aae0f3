import { KEEP_ANY_ENTRY, providerSuppression } from '../core/contacts.ts';
import type {
  ContactStore,
  FollowUpLedger,
  Messenger,
  ProviderMessage,
  Recipient,
  RecipientKey,
  SendLedger,
} from '../core/ports.ts';
import { retryDecision } from '../core/retry-policy.ts';
import { providerStatusToRecipient } from '../core/statuses.ts';

/**
 * A send whose claim outlived its invocation (a crash, a timeout, an ambiguous 5xx): did the provider
 * get the message? DESIGN.md "Send ledger": never resend before asking. The answer comes from, in
 * order, the SID the recipient already carries (a callback adopted it), the history entry the send
 * wrote when Twilio answered, and Twilio's list of messages to that number since the claim
 * (TWILIO.md: list Messages by To, From and date before sending again).
 */
export interface ReconcileDeps {
  readonly ledger: SendLedger;
  readonly followUps: FollowUpLedger;
  readonly contacts: ContactStore;
  readonly backoffSeconds: readonly number[];
  /** How far before the claim Twilio's list is searched (clock skew between us and Twilio); default 60 s. */
  readonly skewSeconds?: number;
}

export type SendKind = 'template' | 'followUp';

const claimOf = (recipient: Recipient, kind: SendKind) =>
  kind === 'followUp' ? recipient.followUp?.claimedAt : recipient.claimedAt;
const sidOf = (recipient: Recipient, kind: SendKind) =>
  kind === 'followUp' ? recipient.followUp?.messageSid : recipient.messageSid;

/**
 * The provider's message for this claim, or undefined when the provider has none (only then is a
 * resend safe). A SID we recorded that the provider does not know is still "found": never resend on
 * a guess.
 */
export async function findClaimedMessage(
  deps: ReconcileDeps,
  provider: Messenger,
  recipient: Recipient,
  kind: SendKind,
): Promise<ProviderMessage | undefined> {
  const claimedAt = claimOf(recipient, kind) ?? recipient.updatedAt;
  const known = sidOf(recipient, kind);
  if (known)
    return (
      (await provider.fetchMessage(known)) ?? {
        sid: known,
        to: recipient.phone,
        status: 'unknown',
        dateCreated: new Date(claimedAt),
      }
    );
  const since = new Date(Date.parse(claimedAt) - (deps.skewSeconds ?? 60) * 1000);
  const candidates = (await provider.findMessages(recipient.phone, since)).toSorted(
    (a, b) => a.dateCreated.getTime() - b.dateCreated.getTime(),
  );
  for (const candidate of candidates) {
    // A message to the same number that another send recorded (another broadcast, the follow-up) is not ours.
    const owner = await deps.contacts.messageWithSid(recipient.phone, candidate.sid);
    if (
      !owner ||
      (owner.tenantId === recipient.tenantId &&
        owner.broadcastId === recipient.broadcastId &&
        owner.index === recipient.index &&
        owner.type === (kind === 'followUp' ? 'follow_up' : 'broadcast'))
    )
      return candidate;
  }
  return undefined;
}

/**
 * Makes a found message the claim's own: the status the provider reports for it, with its SID
 * (forward only; a transient failure is scheduled for the retry job as a callback would). The SID
 * reaching the ledger gives the message its history entry (the stream aggregator writes it).
 * Returns whether the recipient moved; a message still queued at the provider moves nothing yet.
 */
export async function adoptMessage(
  deps: ReconcileDeps,
  recipient: Recipient,
  kind: SendKind,
  message: ProviderMessage,
  at: Date,
): Promise<boolean> {
  const to = providerStatusToRecipient(message.status);
  const key: RecipientKey = {
    tenantId: recipient.tenantId,
    broadcastId: recipient.broadcastId,
    index: recipient.index,
  };
  if (!to) return false; // queued/accepted/sending at the provider: the callback will come
  const errorCode = message.errorCode;
  // As a callback with the code would (status-callback.ts): the number first, then the final status.
  const suppression = providerSuppression(recipient, errorCode, at);
  if (suppression) await deps.contacts.suppress(suppression, KEEP_ANY_ENTRY);
  if (kind === 'followUp')
    return deps.followUps.report(key, {
      to,
      at,
      messageSid: message.sid,
      ...(errorCode !== undefined ? { errorCode } : {}),
    });
  const decision =
    to === 'failed' || to === 'undelivered'
      ? retryDecision(errorCode, recipient.phone, recipient.attempts, deps.backoffSeconds, at)
      : undefined;
  return deps.ledger.report(key, {
    to,
    at,
    attempt: recipient.attempts,
    messageSid: message.sid,
    ...(errorCode !== undefined ? { errorCode } : {}),
    ...(decision?.retry ? { retryAt: decision.at } : {}),
  });
}
