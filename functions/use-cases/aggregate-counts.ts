import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import pLimit from 'p-limit';
import { parseRecipientPartition } from '../adapters/table-layout.ts';
import type { HandlerLogger } from '../commons/powertools.ts';
import { historyEntriesOf, type SentImage } from '../core/contacts.ts';
import {
  activityOf,
  addDeltas,
  type CountedImage,
  type CounterDeltas,
  deltasOf,
} from '../core/count-deltas.ts';
import type { ContactMessage, ContactStore } from '../core/ports.ts';
import { isTimeToLiveRemoval } from '../core/retention.ts';
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
  /** Where the history entries of sent messages go (each SID once it reaches the ledger). */
  readonly contacts: Pick<ContactStore, 'recordMessages'>;
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
      {
        tenantId: string;
        broadcastId: string;
        shard: string;
        changedAt: string;
        changes: { sequence: string; deltas: CounterDeltas }[];
        activity: ({ kind: 'sent' | 'failed'; minute: string } | undefined)[];
      }
    >();
    const history: ContactMessage[] = [];
    const batchAt = now().toISOString();
    for (const record of records) {
      // Retention (DynamoDB TTL) deleting a recipient is no outcome: its counts stay as they were.
      if (isTimeToLiveRemoval(record)) continue;
      const data = record.dynamodb;
      const pk = data?.Keys?.pk?.S;
      const sk = data?.Keys?.sk?.S;
      const where = pk ? parseRecipientPartition(pk) : undefined;
      if (!data || !where || !sk?.startsWith('R#') || !data.SequenceNumber) continue;
      const newImage = data.NewImage
        ? (unmarshall(data.NewImage as never) as CountedImage & SentImage)
        : undefined;
      const oldImage = data.OldImage
        ? (unmarshall(data.OldImage as never) as CountedImage & SentImage)
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
        changedAt: batchAt,
        changes: [],
        activity: [],
      };
      group.changes.push({ sequence: data.SequenceNumber, deltas });
      group.activity.push(activity ? { kind: activity, minute: at.toISOString().slice(0, 16) } : undefined);
      groups.set(id, group);
      if (record.eventName !== 'REMOVE') history.push(...historyEntriesOf(oldImage, newImage));
    }
    // History first: idempotent (keyed by claim and SID), so a batch retried after it wrote them is harmless.
    if (history.length > 0) await deps.contacts.recordMessages(history);
    // The broadcasts the batch touched, read once: a test send's activity is not the tenant's (metrics).
    const touched = new Map<string, string>();
    for (const group of groups.values()) touched.set(group.broadcastId, group.tenantId);
    const read = new Map(
      await pLimit(APPLY_CONCURRENCY).map(
        [...touched],
        async ([broadcastId, tenantId]) =>
          [broadcastId, await deps.broadcasts.get(tenantId, broadcastId)] as const,
      ),
    );
    const applied: CounterDeltas = {};
    const activity = new Map<string, { tenantId: string; minute: string; sent: number; failed: number }>();
    await pLimit(APPLY_CONCURRENCY).map([...groups.values()], async (group) => {
      const result = await deps.counters.apply(group);
      addDeltas(applied, result.deltas);
      if (read.get(group.broadcastId)?.test) return;
      // Only the changes counted now (a retried batch's earlier ones were counted with their batch).
      for (const change of group.activity.slice(group.activity.length - result.applied)) {
        if (!change) continue;
        const key = `${group.tenantId}/${change.minute}`;
        const minute = activity.get(key) ?? {
          tenantId: group.tenantId,
          minute: change.minute,
          sent: 0,
          failed: 0,
        };
        minute[change.kind] += 1;
        activity.set(key, minute);
      }
    });
    // At most once: a failure after the counters took these changes leaves their minute short, never doubled.
    await pLimit(APPLY_CONCURRENCY).map([...activity.values()], (m) =>
      deps.counters.addActivity(m.tenantId, m.minute, { sent: m.sent, failed: m.failed }),
    );
    // Every broadcast the batch touched may have ended (or come back to life).
    await pLimit(APPLY_CONCURRENCY).map([...touched], async ([broadcastId, tenantId]) => {
      const broadcast = read.get(broadcastId);
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
