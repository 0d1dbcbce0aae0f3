import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import pLimit from 'p-limit';
import type { HandlerLogger } from '../commons/powertools.ts';
import { displayCounts } from '../core/counts.ts';
import { type DerivedEvent, eventsOfChange, type ItemChange, withCounts } from '../core/lifecycle-changes.ts';
import type { LifecycleEvent } from '../core/lifecycle-events.ts';
import type { BroadcastCounters, EventPublisher } from '../core/ports.ts';

/**
 * The lifecycle events of one batch of the main table's stream (core/lifecycle-changes.ts says which
 * changes are events), put on the bus, at least once:
 * 1. each record's events are derived from its old and new images; a broadcast's end gets its final
 *    counts, read as GET /v1/broadcasts/{id} reads them;
 * 2. all of them are put (EventPublisher: batches of 10, refused entries retried);
 * 3. if some are still refused, or a record's counts could not be read, the batch answers
 *    `batchItemFailures` naming the first such record (Lambda's ReportBatchItemFailures for streams:
 *    it checkpoints before the lowest sequence number named and delivers again from it). The records
 *    after it are delivered again too, so some events are put twice, with the same eventId.
 * A record whose images cannot be read as events (an item written by hand, say) is logged and passed
 * over: retrying it would hold every later event of its shard for the stream's 24 hours.
 */
export interface PublishEventsDeps {
  readonly publisher: EventPublisher;
  readonly counters: Pick<BroadcastCounters, 'totals'>;
  readonly logger: HandlerLogger;
}

export interface PublishSummary extends DynamoDBBatchResponse {
  readonly records: number;
  readonly published: number;
  readonly byType: Readonly<Record<string, number>>;
}

const COUNTS_CONCURRENCY = 8;

export function createEventPublication(deps: PublishEventsDeps) {
  return async (records: readonly DynamoDBRecord[]): Promise<PublishSummary> => {
    const derived: { index: number; events: DerivedEvent[] }[] = [];
    records.forEach((record, index) => {
      const change = changeOf(record);
      if (!change) return;
      try {
        const events = eventsOfChange(change);
        if (events.length > 0) derived.push({ index, events });
      } catch (error) {
        deps.logger.error('stream record not readable as lifecycle events; passed over', {
          pk: change.pk.replace(/\+\d+/g, '+…'),
          eventName: change.eventName,
          sequence: record.dynamodb?.SequenceNumber,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    });

    // Finished broadcasts: their final counts (a failed read fails the record, to be delivered again).
    const unreadable = new Set<number>();
    const ready: { index: number; event: LifecycleEvent }[] = [];
    await pLimit(COUNTS_CONCURRENCY).map(derived, async ({ index, events }) => {
      for (const item of events) {
        if ('event' in item) {
          ready.push({ index, event: item.event });
          continue;
        }
        try {
          const totals = await deps.counters.totals(item.finished.broadcastId);
          ready.push({
            index,
            event: withCounts(item.finished, displayCounts(item.finished.broadcast, totals.statuses)),
          });
        } catch (error) {
          unreadable.add(index);
          deps.logger.warn("a finished broadcast's counts could not be read; its record is delivered again", {
            tenantId: item.finished.tenantId,
            broadcastId: item.finished.broadcastId,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
    });
    ready.sort((a, b) => a.index - b.index);

    const { failedEventIds } =
      ready.length > 0 ? await deps.publisher.publish(ready.map((r) => r.event)) : { failedEventIds: [] };
    const refused = new Set(failedEventIds);
    const failedIndexes = [
      ...unreadable,
      ...ready.filter((r) => refused.has(r.event.detail.eventId)).map((r) => r.index),
    ];
    const byType: Record<string, number> = {};
    for (const r of ready)
      if (!refused.has(r.event.detail.eventId)) byType[r.event.type] = (byType[r.event.type] ?? 0) + 1;
    const published = ready.length - refused.size;
    if (failedIndexes.length === 0)
      return { records: records.length, published, byType, batchItemFailures: [] };
    const first = records[Math.min(...failedIndexes)]?.dynamodb?.SequenceNumber ?? '';
    deps.logger.warn('lifecycle events refused by the bus; the stream delivers them again', {
      refused: refused.size,
      unreadableCounts: unreadable.size,
      fromSequence: first,
    });
    return { records: records.length, published, byType, batchItemFailures: [{ itemIdentifier: first }] };
  };
}

/** A stream record as an item change, or undefined when it has no keys. */
function changeOf(record: DynamoDBRecord): ItemChange | undefined {
  const data = record.dynamodb;
  const pk = data?.Keys?.pk?.S;
  const sk = data?.Keys?.sk?.S;
  if (!data || !pk || !sk) return undefined;
  return {
    eventName: (record.eventName ?? 'MODIFY') as ItemChange['eventName'],
    pk,
    sk,
    ...(data.OldImage ? { oldImage: unmarshall(data.OldImage as never) } : {}),
    ...(data.NewImage ? { newImage: unmarshall(data.NewImage as never) } : {}),
    at: data.ApproximateCreationDateTime ? new Date(data.ApproximateCreationDateTime * 1000) : new Date(),
  };
}
