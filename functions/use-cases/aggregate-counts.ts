import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { mapLimit } from '../adapters/sqs-queues.ts';
import { parseRecipientPartition } from '../adapters/table-layout.ts';
import type { HandlerLogger } from '../commons/powertools.ts';
import {
  activityOf,
  addDeltas,
  type CountedImage,
  type CounterDeltas,
  deltasOf,
} from '../core/count-deltas.ts';
import type { CounterUpdate } from '../core/ports.ts';
import { type SettleDeps, settle } from './settle-broadcast.ts';

/**
 * The counters' only writer: a DynamoDB Streams consumer of the main table's recipient items
 * (DESIGN.md "Counters", next version). Per batch, each broadcast shard's changes become one
 * conditional update of its counter item (core/count-deltas.ts says what each change adds), applied
 * exactly once through the shard's watermark; then every broadcast the batch touched is settled
 * (final, reopened, or still running: settle-broadcast.ts).
 *
 * Stream order holds per item collection, and a broadcast shard's recipients are one item
 * collection, so its watermark only ever grows. A batch that fails is retried whole (or bisected) by
 * Lambda; what was applied before is skipped by the watermark, so nothing counts twice.
 */
export interface AggregatorDeps extends SettleDeps {
  readonly logger: HandlerLogger;
  readonly now?: () => Date;
}

/** What the batch changed, for the caller's metrics. */
export interface AggregateSummary {
  readonly records: number;
  readonly broadcasts: number;
  /** The counter deltas applied, summed over the batch (c_sent, e_63024, …). */
  readonly applied: CounterDeltas;
}

const APPLY_CONCURRENCY = 8;

export function createAggregator(deps: AggregatorDeps) {
  const now = deps.now ?? (() => new Date());
  return async (records: readonly DynamoDBRecord[]): Promise<AggregateSummary> => {
    const groups = new Map<
      string,
      { tenantId: string; broadcastId: string; shard: string; changes: CounterUpdate['changes'][number][] }
    >();
    for (const record of records) {
      const data = record.dynamodb;
      const pk = data?.Keys?.pk?.S;
      const sk = data?.Keys?.sk?.S;
      const where = pk ? parseRecipientPartition(pk) : undefined;
      if (!data || !where || !sk?.startsWith('R#') || !data.SequenceNumber) continue;
      const newImage = data.NewImage
        ? (unmarshall(data.NewImage as never) as CountedImage & { tenantId?: string })
        : undefined;
      const oldImage = data.OldImage
        ? (unmarshall(data.OldImage as never) as CountedImage & { tenantId?: string })
        : undefined;
      const tenantId = newImage?.tenantId ?? oldImage?.tenantId;
      if (!tenantId) continue;
      const change = {
        eventName: (record.eventName ?? 'MODIFY') as 'INSERT' | 'MODIFY' | 'REMOVE',
        oldImage,
        newImage,
      };
      const deltas = deltasOf(change);
      const activity = activityOf(change);
      const at = data.ApproximateCreationDateTime
        ? new Date(Number(data.ApproximateCreationDateTime) * 1000)
        : now();
      const id = `${where.broadcastId}/${where.shard}`;
      const group = groups.get(id) ?? {
        tenantId,
        broadcastId: where.broadcastId,
        shard: where.shard,
        changes: [],
      };
      group.changes.push({
        sequence: data.SequenceNumber,
        deltas,
        ...(activity ? { activity: { kind: activity, minute: at.toISOString().slice(0, 16) } } : {}),
      });
      groups.set(id, group);
    }
    const applied: CounterDeltas = {};
    await mapLimit([...groups.values()], APPLY_CONCURRENCY, async (group) => {
      addDeltas(applied, await deps.counters.apply(group));
    });
    // Every broadcast the batch touched may have ended (or come back to life).
    const touched = new Map<string, string>();
    for (const group of groups.values()) touched.set(group.broadcastId, group.tenantId);
    await mapLimit([...touched], APPLY_CONCURRENCY, async ([broadcastId, tenantId]) => {
      const broadcast = await deps.broadcasts.get(tenantId, broadcastId);
      if (!broadcast) return;
      const { broadcast: after } = await settle(deps, broadcast, now());
      if (after.status !== broadcast.status)
        deps.logger.info('broadcast status follows its counts', {
          tenantId,
          broadcastId,
          from: broadcast.status,
          to: after.status,
        });
    });
    return { records: records.length, broadcasts: touched.size, applied };
  };
}
