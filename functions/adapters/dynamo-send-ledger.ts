import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { decodeShardCursor, encodeShardCursor } from '../core/cursor.ts';
import type {
  Broadcast,
  ClaimResult,
  OutcomeReport,
  Recipient,
  RecipientKey,
  SendLedger,
  SendTask,
} from '../core/ports.ts';
import { DEFAULT_RECIPIENT_RETENTION_DAYS, expiresAfter } from '../core/retention.ts';
import type { WaitReason } from '../core/send-timing.ts';
import type { RecipientSkipReason as SkipReason } from '../core/skips.ts';
import { canAdvance, type RecipientStatus } from '../core/statuses.ts';
import {
  batchGet,
  type Item,
  inList,
  isConditionFailure,
  queryAll,
  strip,
  updateExpression,
} from './dynamo-items.ts';
import { recipientKey, recipientPartition, SHARDS } from './table-layout.ts';

/** The sort keys a recipients cursor may name (core/cursor.ts checks them). */
const RECIPIENT_SK = /^R#[0-9]{7}$/;

/** The sparse index of scheduled retries: `retryKey` (the broadcast) → `nextRetryAt`. */
export const RETRY_INDEX = 'retriesByBroadcast';

/** Statuses a written recipient can be in when a provider report arrives (never pending or queued). */
const REPORTABLE_FROM: readonly RecipientStatus[] = [
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
  'undelivered',
];
const STAMP: Partial<Record<string, string>> = { sent: 'sentAt', delivered: 'deliveredAt', read: 'readAt' };

/**
 * The send ledger on the single table: one item per recipient (table-layout.ts), every write one
 * conditional UpdateItem of it, conditioned on where the move starts (status, attempt, SID), so a
 * duplicate, stale or reordered write changes nothing. Counts are not written here: the stream
 * aggregator derives them from these items' changes (core/count-deltas.ts).
 */
export class DynamoSendLedger implements SendLedger {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionDays: number;

  /**
   * `retentionDays` (RECIPIENT_RETENTION_DAYS, core/retention.ts): a recipient item's `expiresAt` is
   * set by its first write (claim, skip or wait) to that many days later, and never moved.
   */
  constructor(db: DynamoDBDocumentClient, table: string, options: { retentionDays?: number } = {}) {
    this.#db = db;
    this.#table = table;
    this.#retentionDays = options.retentionDays ?? DEFAULT_RECIPIENT_RETENTION_DAYS;
  }

  /** The TTL a recipient first written at `at` gets. */
  #expiresAt(at: Date): number {
    return expiresAfter(at, this.#retentionDays);
  }

  async get(key: RecipientKey): Promise<Recipient | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: recipientKey(key.broadcastId, key.index),
        ConsistentRead: true,
      }),
    );
    return Item && Item.tenantId === key.tenantId ? toRecipient(Item) : undefined;
  }

  async page(
    broadcast: Broadcast,
    page: { limit: number; cursor?: string; statuses?: readonly RecipientStatus[] },
  ): Promise<{ items: Recipient[]; nextCursor?: string }> {
    // A filter no stored status matches (queued, on a cancelled broadcast) finds nobody.
    if (page.statuses?.length === 0) return { items: [] };
    const filter = page.statuses ? inList('#status', 's', page.statuses) : undefined;
    // Shards are read in order; the cursor names the shard and the position within it.
    let shard = 0;
    let key: Item | undefined;
    if (page.cursor) {
      const from = decodeShardCursor('recipients', page.cursor, {
        owner: broadcast.broadcastId,
        shards: SHARDS,
        sk: RECIPIENT_SK,
      });
      shard = from.shard;
      if (from.sk !== undefined) key = { pk: recipientPartition(broadcast.broadcastId, shard), sk: from.sk };
    }
    const items: Recipient[] = [];
    let last: Item | undefined;
    while (shard < SHARDS && items.length <= page.limit) {
      const result = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': recipientPartition(broadcast.broadcastId, shard),
            ':prefix': 'R#',
            ...filter?.values,
          },
          ...(filter
            ? { FilterExpression: filter.expression, ExpressionAttributeNames: { '#status': 'status' } }
            : {}),
          // One more than the page: the last page hands out no cursor.
          Limit: page.limit + 1 - items.length,
          ExclusiveStartKey: key,
        }),
      );
      for (const item of result.Items ?? []) {
        if (items.length < page.limit) last = item;
        items.push(toRecipient(item));
      }
      if (result.LastEvaluatedKey && items.length <= page.limit) key = result.LastEvaluatedKey;
      else if (!result.LastEvaluatedKey) {
        shard += 1;
        key = undefined;
      } else break;
    }
    const more = items.length > page.limit;
    const shown = items.slice(0, page.limit);
    if (!more || !last) return { items: shown };
    const lastShard = Number(/#S(\d{2})$/.exec(String(last.pk))?.[1] ?? 0);
    return {
      items: shown,
      nextCursor: encodeShardCursor('recipients', broadcast.broadcastId, {
        shard: lastShard,
        sk: String(last.sk),
      }),
    };
  }

  async getMany(broadcast: Broadcast, indexes: readonly number[]): Promise<Map<number, Recipient>> {
    const items = await batchGet(
      this.#db,
      this.#table,
      indexes.map((index) => recipientKey(broadcast.broadcastId, index)),
    );
    const found = new Map<number, Recipient>();
    for (const item of items)
      if (item.tenantId === broadcast.tenantId) {
        const recipient = toRecipient(item);
        found.set(recipient.index, recipient);
      }
    return found;
  }

  async inStatuses(broadcast: Broadcast, statuses: readonly RecipientStatus[]): Promise<Recipient[]> {
    const filter = inList('#status', 's', statuses);
    const shards = await Promise.all(
      Array.from({ length: SHARDS }, (_, shard) =>
        queryAll(this.#db, {
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          FilterExpression: filter.expression,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':pk': recipientPartition(broadcast.broadcastId, shard),
            ':prefix': 'R#',
            ...filter.values,
          },
        }),
      ),
    );
    return shards.flat().map(toRecipient);
  }

  async statusTally(broadcast: Broadcast): Promise<Partial<Record<RecipientStatus, number>>> {
    const shards = await Promise.all(
      Array.from({ length: SHARDS }, (_, shard) =>
        queryAll(this.#db, {
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ProjectionExpression: '#status',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':pk': recipientPartition(broadcast.broadcastId, shard),
            ':prefix': 'R#',
          },
          ConsistentRead: true,
        }),
      ),
    );
    const tally: Partial<Record<RecipientStatus, number>> = {};
    for (const item of shards.flat()) {
      const status = item.status as RecipientStatus;
      tally[status] = (tally[status] ?? 0) + 1;
    }
    return tally;
  }

  async claim(task: SendTask, at: Date, leaseUntil: Date): Promise<ClaimResult> {
    const stamp = at.toISOString();
    const update = updateExpression(
      {
        status: 'sending',
        attempts: task.attempt,
        claimedAt: stamp,
        leaseUntil: leaseUntil.toISOString(),
        updatedAt: stamp,
        tenantId: task.tenantId,
        broadcastId: task.broadcastId,
        index: task.index,
        phone: task.phone,
        ...(task.chunk !== undefined ? { chunk: task.chunk } : {}),
      },
      [],
      { ifAbsent: { queuedAt: task.queuedAt ?? stamp, expiresAt: this.#expiresAt(at) } },
    );
    return this.#claimWith(recipientKey(task.broadcastId, task.index), {
      UpdateExpression: update.expression,
      // The first claim creates the entry; a released claim or a re-queued retry is claimed again. A
      // recipient that waits (quiet hours, the messaging limit) is not: the retry job releases it.
      ConditionExpression:
        'attribute_not_exists(pk) OR (#c_status = :queued AND attempts = :c_attempt AND attribute_not_exists(nextRetryAt))',
      ExpressionAttributeNames: { ...update.names, '#c_status': 'status' },
      ExpressionAttributeValues: { ...update.values, ':queued': 'queued', ':c_attempt': task.attempt },
    });
  }

  async takeOver(recipient: Recipient, at: Date, leaseUntil: Date): Promise<boolean> {
    return this.#conditional(recipient, {
      UpdateExpression: 'SET claimedAt = :at, leaseUntil = :lease, updatedAt = :at',
      ConditionExpression:
        '#status = :sending AND attempts = :a AND claimedAt = :previous AND attribute_not_exists(messageSid)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':at': at.toISOString(),
        ':lease': leaseUntil.toISOString(),
        ':sending': 'sending',
        ':a': recipient.attempts,
        ':previous': recipient.claimedAt ?? '',
      },
    });
  }

  async markSkipped(task: SendTask, at: Date, why: string, reason?: SkipReason): Promise<boolean> {
    const stamp = at.toISOString();
    const update = updateExpression({
      status: 'skipped',
      attempts: task.attempt,
      errorMessage: why,
      ...(reason ? { skipReason: reason } : {}),
      updatedAt: stamp,
      tenantId: task.tenantId,
      broadcastId: task.broadcastId,
      index: task.index,
      phone: task.phone,
      ...(task.chunk !== undefined ? { chunk: task.chunk } : {}),
      expiresAt: this.#expiresAt(at),
    });
    return this.#conditional(task, {
      UpdateExpression: update.expression,
      ConditionExpression: 'attribute_not_exists(pk)',
      ExpressionAttributeNames: update.names,
      ExpressionAttributeValues: update.values,
    });
  }

  release(key: RecipientKey, attempt: number, at: Date): Promise<boolean> {
    // Once a SID is known (a callback adopted it), the provider has the message: never send it again.
    return this.#move(key, attempt, at, {
      from: 'sending',
      to: 'queued',
      remove: 'claimedAt, leaseUntil',
      unlessSid: true,
    });
  }

  cancel(key: RecipientKey, attempt: number, at: Date): Promise<boolean> {
    return this.#move(key, attempt, at, {
      from: 'queued',
      to: 'cancelled',
      remove: 'nextRetryAt, retryKey, waitReason',
    });
  }

  async wait(task: SendTask, until: Date, reason: WaitReason, at: Date): Promise<boolean> {
    const stamp = at.toISOString();
    const update = updateExpression(
      {
        status: 'queued',
        attempts: task.attempt,
        nextRetryAt: until.toISOString(),
        retryKey: task.broadcastId,
        waitReason: reason,
        updatedAt: stamp,
        tenantId: task.tenantId,
        broadcastId: task.broadcastId,
        index: task.index,
        phone: task.phone,
        ...(task.chunk !== undefined ? { chunk: task.chunk } : {}),
      },
      [],
      { ifAbsent: { queuedAt: task.queuedAt ?? stamp, expiresAt: this.#expiresAt(at) } },
    );
    return this.#conditional(task, {
      UpdateExpression: update.expression,
      // Never written, or queued for this attempt (never a claim: its invocation may be sending).
      ConditionExpression: 'attribute_not_exists(pk) OR (attempts = :c_attempt AND #c_status = :queued)',
      ExpressionAttributeNames: { ...update.names, '#c_status': 'status' },
      ExpressionAttributeValues: { ...update.values, ':c_attempt': task.attempt, ':queued': 'queued' },
    });
  }

  async releaseWaiting(key: RecipientKey, attempt: number, at: Date): Promise<Recipient | undefined> {
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: recipientKey(key.broadcastId, key.index),
          UpdateExpression: 'SET updatedAt = :at REMOVE nextRetryAt, retryKey, waitReason',
          ConditionExpression:
            'tenantId = :t AND #status = :queued AND attempts = :a AND attribute_exists(waitReason)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':queued': 'queued',
            ':a': attempt,
            ':at': at.toISOString(),
            ':t': key.tenantId,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? toRecipient(Attributes) : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  skip(key: RecipientKey, attempt: number, at: Date, why: string): Promise<boolean> {
    return this.#move(key, attempt, at, { from: 'sending', to: 'skipped', remove: 'leaseUntil', why });
  }

  /** One status move of one attempt: `from` → `to`, a few attributes removed, an error message set. */
  #move(
    key: RecipientKey,
    attempt: number,
    at: Date,
    move: { from: RecipientStatus; to: RecipientStatus; remove: string; why?: string; unlessSid?: boolean },
  ): Promise<boolean> {
    return this.#conditional(key, {
      UpdateExpression: `SET #status = :to, updatedAt = :at${move.why !== undefined ? ', errorMessage = :why' : ''} REMOVE ${move.remove}`,
      ConditionExpression: `#status = :from AND attempts = :a${move.unlessSid ? ' AND attribute_not_exists(messageSid)' : ''}`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':to': move.to,
        ':from': move.from,
        ':a': attempt,
        ':at': at.toISOString(),
        ...(move.why !== undefined ? { ':why': move.why } : {}),
      },
    });
  }

  report(key: RecipientKey, report: OutcomeReport): Promise<boolean> {
    const parts = reportParts(report, '');
    const remove = ['leaseUntil'];
    if ((report.to === 'failed' || report.to === 'undelivered') && report.retryAt) {
      parts.set.nextRetryAt = report.retryAt.toISOString();
      parts.set.retryKey = key.broadcastId;
    } else remove.push('nextRetryAt', 'retryKey');
    const update = updateExpression(parts.set, remove, { ifAbsent: parts.ifAbsent });
    const from = inList(
      '#c_status',
      'f',
      REPORTABLE_FROM.filter((s) => canAdvance(s, report.to)),
    );
    return this.#conditional(key, {
      UpdateExpression: update.expression,
      ConditionExpression: `tenantId = :c_tenant AND attempts = :c_attempt AND ${from.expression}${parts.sidCondition}`,
      ExpressionAttributeNames: { ...update.names, '#c_status': 'status' },
      ExpressionAttributeValues: {
        ...update.values,
        ...from.values,
        ...parts.sidValues,
        ':c_tenant': key.tenantId,
        ':c_attempt': report.attempt,
      },
    });
  }

  async requeueForRetry(key: RecipientKey, attempt: number, at: Date): Promise<Recipient | undefined> {
    const stamp = at.toISOString();
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: recipientKey(key.broadcastId, key.index),
          // The new attempt starts clean: its SID, timestamps and outcome are its own.
          UpdateExpression:
            'SET #status = :queued, attempts = :next, queuedAt = :at, updatedAt = :at ' +
            'REMOVE nextRetryAt, retryKey, messageSid, claimedAt, leaseUntil, sentAt, deliveredAt, readAt, errorCode, errorMessage',
          // An erased recipient (dynamo-erasures.ts) is never sent again: it has no number any more.
          ConditionExpression:
            'tenantId = :t AND #status IN (:failed, :undelivered) AND attempts = :a AND attribute_not_exists(erasedAt)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':queued': 'queued',
            ':failed': 'failed',
            ':undelivered': 'undelivered',
            ':a': attempt,
            ':next': attempt + 1,
            ':at': stamp,
            ':t': key.tenantId,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? toRecipient(Attributes) : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async dropRetry(key: RecipientKey, attempt: number): Promise<void> {
    await this.#conditional(key, {
      UpdateExpression: 'REMOVE nextRetryAt, retryKey',
      ConditionExpression: 'attempts = :a AND attribute_exists(nextRetryAt)',
      ExpressionAttributeValues: { ':a': attempt },
    });
  }

  async scheduledRetries(broadcastId: string, until?: Date, limit = Number.POSITIVE_INFINITY) {
    const items = await queryAll(
      this.#db,
      {
        TableName: this.#table,
        IndexName: RETRY_INDEX,
        KeyConditionExpression: until ? 'retryKey = :b AND nextRetryAt <= :until' : 'retryKey = :b',
        ExpressionAttributeValues: { ':b': broadcastId, ...(until ? { ':until': until.toISOString() } : {}) },
      },
      limit,
    );
    return items.map((item) => ({
      tenantId: String(item.tenantId),
      broadcastId: String(item.broadcastId),
      index: Number(item.index),
      attempt: Number(item.attempts),
      nextRetryAt: String(item.nextRetryAt),
      ...(item.waitReason ? { waitReason: item.waitReason as WaitReason } : {}),
    }));
  }

  /** A claim-like update: the entry as written, or (not written) as it is, read for free with the refusal. */
  async #claimWith(
    key: Item,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames?: Record<string, string>;
      ExpressionAttributeValues?: Record<string, unknown>;
    },
  ): Promise<ClaimResult> {
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: key,
          ...update,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true, recipient: toRecipient(Attributes ?? {}) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // The document client does not translate an error's item: it comes in DynamoDB's typed form.
      const item = (error as { Item?: Parameters<typeof unmarshall>[0] }).Item;
      return item ? { claimed: false, current: toRecipient(unmarshall(item)) } : { claimed: false };
    }
  }

  async #conditional(
    key: RecipientKey | Recipient,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames?: Record<string, string>;
      ExpressionAttributeValues?: Record<string, unknown>;
    },
  ): Promise<boolean> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: recipientKey(key.broadcastId, key.index),
          ...update,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** For DynamoFollowUpLedger: the same conditional writes on the `followUp` map. */
  get writer() {
    return { conditional: this.#conditional.bind(this), claimWith: this.#claimWith.bind(this) };
  }
}

/**
 * What a provider report writes, shared by the template's ledger and the follow-up's: the status,
 * its timestamp and error; the stamps a lost earlier report implies (`sent` before `delivered`);
 * the SID by its first report; and the SID condition (`requireRecordedSid`: only the recipient
 * whose recorded SID it is). `path` prefixes attribute names in the condition (`#p.` for a map).
 */
export function reportParts(
  report: Pick<OutcomeReport, 'at' | 'errorCode' | 'errorMessage' | 'messageSid' | 'requireRecordedSid'> & {
    to: string;
  },
  path: '' | '#p.',
) {
  const at = report.at.toISOString();
  const set: Record<string, unknown> = { status: report.to, updatedAt: at };
  const stamp = STAMP[report.to];
  if (stamp) set[stamp] = at;
  if (report.errorCode !== undefined) set.errorCode = report.errorCode;
  if (report.errorMessage !== undefined) set.errorMessage = report.errorMessage;
  const ifAbsent: Record<string, unknown> = {};
  if (report.to === 'delivered' || report.to === 'read') ifAbsent.sentAt = at;
  if (report.to === 'read') ifAbsent.deliveredAt = at;
  if (report.messageSid && !report.requireRecordedSid) ifAbsent.messageSid = report.messageSid;
  const sidCondition = !report.messageSid
    ? ''
    : report.requireRecordedSid
      ? ` AND ${path}messageSid = :c_sid`
      : ` AND (attribute_not_exists(${path}messageSid) OR ${path}messageSid = :c_sid)`;
  const sidValues: Record<string, unknown> = report.messageSid ? { ':c_sid': report.messageSid } : {};
  return { set, ifAbsent, sidCondition, sidValues };
}

function toRecipient(item: Item): Recipient {
  const { retryKey: _retryKey, expiresAt: _expiresAt, ...rest } = strip(item);
  return rest as unknown as Recipient;
}
