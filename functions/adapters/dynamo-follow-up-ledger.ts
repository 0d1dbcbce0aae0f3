import { canAdvanceFollowUp, FOLLOW_UP_STATUSES } from '../core/follow-up.ts';
import type { ClaimResult, FollowUpLedger, FollowUpReport, Recipient, RecipientKey } from '../core/ports.ts';
import { inList, updateExpression } from './dynamo-items.ts';
import { type DynamoSendLedger, reportParts } from './dynamo-send-ledger.ts';
import { recipientKey } from './table-layout.ts';

/**
 * The follow-up's ledger, a map `followUp` on the recipient item: the same claim, release and
 * forward-only moves as the template's, on its own status.
 */
export class DynamoFollowUpLedger implements FollowUpLedger {
  readonly #writer: DynamoSendLedger['writer'];

  constructor(ledger: DynamoSendLedger) {
    this.#writer = ledger.writer;
  }

  confirm(key: RecipientKey, at: Date, followUp: 'queued' | 'expired'): Promise<boolean> {
    const stamp = at.toISOString();
    return this.#writer.conditional(key, {
      UpdateExpression: 'SET confirmedAt = :at, followUp = :followUp, updatedAt = :at',
      // Once: a second tap, or Twilio delivering the same tap again, confirms nothing more.
      ConditionExpression: 'attribute_exists(pk) AND tenantId = :t AND attribute_not_exists(confirmedAt)',
      ExpressionAttributeValues: {
        ':at': stamp,
        ':followUp': { status: followUp, updatedAt: stamp },
        ':t': key.tenantId,
      },
    });
  }

  claim(key: RecipientKey, at: Date, leaseUntil: Date): Promise<ClaimResult> {
    const stamp = at.toISOString();
    return this.#writer.claimWith(recipientKey(key.broadcastId, key.index), {
      UpdateExpression:
        'SET followUp.#status = :sending, followUp.claimedAt = :at, followUp.leaseUntil = :lease, followUp.updatedAt = :at',
      ConditionExpression: 'tenantId = :t AND followUp.#status = :queued',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':sending': 'sending',
        ':queued': 'queued',
        ':at': stamp,
        ':lease': leaseUntil.toISOString(),
        ':t': key.tenantId,
      },
    });
  }

  takeOver(recipient: Recipient, at: Date, leaseUntil: Date): Promise<boolean> {
    return this.#writer.conditional(recipient, {
      UpdateExpression:
        'SET followUp.claimedAt = :at, followUp.leaseUntil = :lease, followUp.updatedAt = :at',
      ConditionExpression:
        'followUp.#status = :sending AND followUp.claimedAt = :previous AND attribute_not_exists(followUp.messageSid)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':at': at.toISOString(),
        ':lease': leaseUntil.toISOString(),
        ':sending': 'sending',
        ':previous': recipient.followUp?.claimedAt ?? '',
      },
    });
  }

  release(key: RecipientKey, at: Date): Promise<boolean> {
    return this.#writer.conditional(key, {
      UpdateExpression:
        'SET followUp.#status = :queued, followUp.updatedAt = :at REMOVE followUp.claimedAt, followUp.leaseUntil',
      // Once a SID is known, Twilio has the message: never send it again.
      ConditionExpression: 'followUp.#status = :sending AND attribute_not_exists(followUp.messageSid)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':queued': 'queued', ':sending': 'sending', ':at': at.toISOString() },
    });
  }

  report(key: RecipientKey, report: FollowUpReport): Promise<boolean> {
    const parts = reportParts(report, '#p.');
    const update = updateExpression(parts.set, ['leaseUntil'], {
      within: 'followUp',
      ifAbsent: parts.ifAbsent,
    });
    const from = inList(
      '#p.#c_status',
      'f',
      FOLLOW_UP_STATUSES.filter((s) => canAdvanceFollowUp(s, report.to)),
    );
    return this.#writer.conditional(key, {
      UpdateExpression: update.expression,
      ConditionExpression: `tenantId = :c_tenant AND ${from.expression}${parts.sidCondition}`,
      ExpressionAttributeNames: { ...update.names, '#c_status': 'status' },
      ExpressionAttributeValues: {
        ...update.values,
        ...from.values,
        ...parts.sidValues,
        ':c_tenant': key.tenantId,
      },
    });
  }
}
