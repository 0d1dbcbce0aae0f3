/**
 * What the product remembers about a contact: the messages it sent them and got from them (their
 * history), and whether they may be messaged at all (the tenant's suppression list).
 */
import type { ContactMessage, Recipient, Suppression, SuppressionReason } from './ports.ts';
import { errorClassOf } from './retry-policy.ts';

/** The part of a recipient item its history entries are made from (a stream image, unmarshalled). */
export interface SentImage {
  readonly tenantId?: string;
  readonly broadcastId?: string;
  readonly index?: number;
  readonly phone?: string;
  readonly claimedAt?: string;
  readonly updatedAt?: string;
  readonly messageSid?: string;
  readonly followUp?: { readonly messageSid?: string; readonly claimedAt?: string };
  /** Set by an erasure (use-cases/erase-person.ts): the item no longer names the person. */
  readonly erasedAt?: string;
}

/**
 * The history entries a recipient's change calls for: one for each SID it carries that it did not
 * carry before (the template's, the follow-up's). A SID reaches the ledger with the first report of
 * its message (a status callback, or a reconciliation that found it at Twilio), so every message
 * Twilio took gets its entry, once, however the SID was learned.
 */
export function historyEntriesOf(
  before: SentImage | undefined,
  after: SentImage | undefined,
): ContactMessage[] {
  if (!after?.tenantId || !after.broadcastId || after.index === undefined || !after.phone) return [];
  // An erased person gets no history again from a callback that lands after the erasure.
  if (after.erasedAt) return [];
  const entries: ContactMessage[] = [];
  const base = {
    tenantId: after.tenantId,
    phone: after.phone,
    direction: 'outbound' as const,
    broadcastId: after.broadcastId,
    index: after.index,
  };
  if (after.messageSid && after.messageSid !== before?.messageSid)
    entries.push({
      ...base,
      at: after.claimedAt ?? after.updatedAt ?? '',
      type: 'broadcast',
      messageSid: after.messageSid,
    });
  const followUpSid = after.followUp?.messageSid;
  if (followUpSid && followUpSid !== before?.followUp?.messageSid)
    entries.push({
      ...base,
      at: after.followUp?.claimedAt ?? after.updatedAt ?? '',
      type: 'follow_up',
      messageSid: followUpSid,
    });
  return entries;
}

/**
 * How a suppression write treats an entry already on the tenant's list (ContactStore.suppress):
 * Twilio's opt-out code keeps any entry there (it may come again with a repeated callback, and an
 * admin's note or a STOP says more); an admin's add keeps the person's own opt-out and Twilio's, the
 * record of why they are not messaged, and replaces only an admin's entry.
 */
export const KEEP_ANY_ENTRY = { replaces: [] } as const satisfies { replaces: readonly SuppressionReason[] };
export const KEEP_OPT_OUTS = { replaces: ['admin'] } as const satisfies {
  replaces: readonly SuppressionReason[];
};

/** A provider error that means the person opted out or blocked us (21610, 63014) suppresses them. */
export function providerSuppression(
  recipient: Pick<Recipient, 'tenantId' | 'phone'>,
  errorCode: number | undefined,
  at: Date,
): Suppression | undefined {
  if (errorCode === undefined || errorClassOf(errorCode) !== 'suppress') return undefined;
  return {
    tenantId: recipient.tenantId,
    phone: recipient.phone,
    reason: 'provider_error',
    detail: String(errorCode),
    createdAt: at.toISOString(),
  };
}

/** Why a recipient was skipped, as its errorMessage says. */
export function skippedMessage(suppression: Pick<Suppression, 'reason' | 'detail'>): string {
  return `Suppressed (${suppression.reason}${suppression.detail ? `: ${suppression.detail}` : ''})`;
}
