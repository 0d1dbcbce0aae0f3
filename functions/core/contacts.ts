/**
 * What the product remembers about a contact: the messages it sent them and got from them (their
 * history), and whether they may be messaged at all (the tenant's suppression list).
 */
import type { ContactMessage, Recipient, Suppression } from './ports.ts';
import { errorClassOf } from './retry-policy.ts';

/**
 * The history entry of a message we sent a recipient. Its time is the claim's, which every path
 * that learns the SID (the send's answer, a callback adopting it, the sweeper) reads from the same
 * ledger entry, so recording it twice writes the same entry.
 */
export function sentMessageEntry(
  recipient: Recipient,
  kind: 'template' | 'followUp',
  messageSid: string,
): ContactMessage {
  const at =
    (kind === 'followUp' ? recipient.followUp?.claimedAt : recipient.claimedAt) ?? recipient.updatedAt;
  return {
    tenantId: recipient.tenantId,
    phone: recipient.phone,
    at,
    direction: 'outbound',
    type: kind === 'followUp' ? 'follow_up' : 'broadcast',
    messageSid,
    broadcastId: recipient.broadcastId,
    index: recipient.index,
  };
}

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
