import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { addDeltas, type CounterDeltas, type CounterTotals, totalsOf } from '../core/count-deltas.ts';
import type { BroadcastCounters, CounterUpdate, ShardCounts } from '../core/ports.ts';
import { addExpression, batchGet, isConditionFailure, queryAll } from './dynamo-items.ts';
import { activityKey, broadcastPartition, COUNTS_PREFIX, shardCountsKey } from './table-layout.ts';

/** Activity items are read for the last few minutes only (/v1/metrics); an hour is plenty. */
const ACTIVITY_TTL_SECONDS = 3600;
/**
 * Stream sequence numbers are strings of up to 40 digits (DynamoDB Streams API reference,
 * StreamRecord.SequenceNumber); padded to 40 they compare as numbers do, in a condition too.
 */
const SEQUENCE_DIGITS = 40;
const padded = (sequence: string) => sequence.padStart(SEQUENCE_DIGITS, '0');

/**
 * The counters the stream aggregator keeps (table-layout.ts `COUNTS#…`) and the tenants' per-minute
 * activity. One counter item per broadcast shard, written only by the aggregator for that shard's
 * recipients, so stream order holds on it and its watermark `seq` makes each change count once.
 */
export class DynamoCounters implements BroadcastCounters {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async totals(broadcastId: string): Promise<CounterTotals> {
    const items = await queryAll(this.#db, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': broadcastPartition(broadcastId), ':prefix': COUNTS_PREFIX },
      ConsistentRead: true,
    });
    return totalsOf(items);
  }

  async recentActivity(tenantId: string, now: Date, minutes: number) {
    const keys = Array.from({ length: minutes }, (_, m) =>
      activityKey(tenantId, new Date(now.getTime() - m * 60_000).toISOString().slice(0, 16)),
    );
    let sent = 0;
    let failed = 0;
    for (const item of await batchGet(this.#db, this.#table, keys)) {
      sent += Number(item.sent ?? 0);
      failed += Number(item.failed ?? 0);
    }
    return { sent, failed };
  }

  async apply(update: CounterUpdate): Promise<{ deltas: CounterDeltas; applied: number }> {
    let watermark: string | undefined;
    for (let round = 0; round < 5; round++) {
      const applicable = update.changes.filter(
        (c) => watermark === undefined || padded(c.sequence) > watermark,
      );
      if (applicable.length === 0) return { deltas: {}, applied: 0 };
      const deltas: CounterDeltas = {};
      for (const change of applicable) addDeltas(deltas, change.deltas);
      const first = padded((applicable[0] as { sequence: string }).sequence);
      const last = padded((applicable.at(-1) as { sequence: string }).sequence);
      // One conditional write of a small item (1 WCU), whatever the number of changes.
      const written = await this.#update({
        TableName: this.#table,
        Key: shardCountsKey(update.broadcastId, update.shard),
        ...merge(
          addExpression(deltas, { seq: last, tenantId: update.tenantId, changedAt: update.changedAt }),
          {
            ConditionExpression: 'attribute_not_exists(seq) OR seq < :first',
            ExpressionAttributeValues: { ':first': first },
          },
        ),
      });
      if (written) return { deltas, applied: applicable.length };
      // Some of these changes were applied before (a retried batch): start after what was.
      const { Item } = await this.#db.send(
        new GetCommand({
          TableName: this.#table,
          Key: shardCountsKey(update.broadcastId, update.shard),
          ConsistentRead: true,
          ProjectionExpression: 'seq',
        }),
      );
      watermark = typeof Item?.seq === 'string' ? Item.seq : undefined;
      if (watermark === undefined) throw new Error('Counter item refused the write but has no watermark');
    }
    throw new Error(`Counters of ${update.broadcastId}/${update.shard} kept moving under the aggregator`);
  }

  async addActivity(
    tenantId: string,
    minute: string,
    counts: { sent: number; failed: number },
  ): Promise<void> {
    if (counts.sent === 0 && counts.failed === 0) return;
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: activityKey(tenantId, minute),
        ...addExpression(counts, { expiresAt: Math.floor(Date.now() / 1000) + ACTIVITY_TTL_SECONDS }),
      }),
    );
  }

  async shardCounts(broadcastId: string): Promise<Map<string, ShardCounts>> {
    const items = await queryAll(this.#db, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': broadcastPartition(broadcastId), ':prefix': `${COUNTS_PREFIX}S` },
      ConsistentRead: true,
    });
    return new Map(
      items.map((item) => [
        String(item.sk).slice(COUNTS_PREFIX.length),
        { fields: item, seq: typeof item.seq === 'string' ? item.seq : undefined },
      ]),
    );
  }

  correct(update: {
    tenantId: string;
    broadcastId: string;
    shard: string;
    deltas: CounterDeltas;
    seenSeq: string | undefined;
    changedAt: string;
  }): Promise<boolean> {
    return this.#update({
      TableName: this.#table,
      Key: shardCountsKey(update.broadcastId, update.shard),
      ...merge(addExpression(update.deltas, { tenantId: update.tenantId, changedAt: update.changedAt }), {
        ConditionExpression: update.seenSeq === undefined ? 'attribute_not_exists(seq)' : 'seq = :seen',
        ExpressionAttributeValues: update.seenSeq === undefined ? {} : { ':seen': update.seenSeq },
      }),
    });
  }

  async #update(input: ConstructorParameters<typeof UpdateCommand>[0]): Promise<boolean> {
    try {
      await this.#db.send(new UpdateCommand(input));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

/** An update's expression parts with a condition and its values added. */
function merge(
  update: ReturnType<typeof addExpression>,
  condition: { ConditionExpression: string; ExpressionAttributeValues: Record<string, unknown> },
) {
  return {
    UpdateExpression: update.UpdateExpression,
    ExpressionAttributeNames: update.ExpressionAttributeNames,
    ExpressionAttributeValues: {
      ...update.ExpressionAttributeValues,
      ...condition.ExpressionAttributeValues,
    },
    ConditionExpression: condition.ConditionExpression,
  };
}
