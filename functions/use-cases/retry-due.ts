import pLimit from 'p-limit';
import type { HandlerLogger } from '../commons/powertools.ts';
import type { Broadcasts, Recipient, SendLedger, SendTask, TaskQueue } from '../core/ports.ts';
import { sendTasksFor } from './tasks-for-recipients.ts';

/**
 * The retry job (EventBridge, every minute; locally RETRY_SCHEDULE_SECONDS): for each active broadcast,
 * the recipients whose retry is due (its own partition of the scheduled-retries index, never a table
 * scan) go back to `queued` with `attempts + 1` and get a send task. A crash between the two leaves
 * the recipient `queued`, which the sweeper enqueues again. A cancelled broadcast's scheduled retries
 * are all dropped: its failures stay failures. A paused broadcast's retries wait: the first run after
 * the resume handles those that fell due meanwhile.
 *
 * The same index holds recipients that wait (quiet hours, the messaging limit: core/send-timing.ts):
 * when due, and while their broadcast is accepted, queued or running, they leave the index (still
 * `queued`, same attempt) and get their send task. A cancelled broadcast's waiting recipients end
 * `cancelled`. Pages follow one another within a run until nothing more is due.
 */
export interface RetryJobDeps {
  readonly broadcasts: Broadcasts;
  readonly ledger: SendLedger;
  readonly sendQueue: TaskQueue<SendTask>;
  readonly now?: () => Date;
  readonly logger: HandlerLogger;
  /** Due retries handled per broadcast and run. */
  readonly pageSize?: number;
}

export interface RetryRunSummary {
  readonly requeued: number;
  /** Retries dropped because their broadcast was cancelled. */
  readonly dropped: number;
  /** Due entries that had moved on (a late callback, a manual retry) by the time they were handled. */
  readonly skipped: number;
  /** Of `requeued`, recipients that waited (quiet hours, the messaging limit) and were released. */
  readonly released: number;
}

/** The statuses in which waiting recipients are released (never paused, cancelled or final). */
const RELEASABLE: readonly string[] = ['accepted', 'queued', 'running'];
/** Releases written at once. */
const RELEASE_WRITES = 16;
/** Pages of one broadcast handled per run at most; the next run carries on. */
const MAX_PAGES = 200;

export function createRetryJob(deps: RetryJobDeps) {
  const pageSize = deps.pageSize ?? 1000;
  return async (remainingMs: () => number = () => Number.POSITIVE_INFINITY): Promise<RetryRunSummary> => {
    const now = deps.now?.() ?? new Date();
    let requeued = 0;
    let dropped = 0;
    let skipped = 0;
    let released = 0;
    for (const broadcast of await deps.broadcasts.active()) {
      if (remainingMs() < 20_000) break; // the next run carries on
      if (broadcast.status === 'cancelled') {
        for (const entry of await deps.ledger.scheduledRetries(broadcast.broadcastId)) {
          // A waiting recipient of a cancelled broadcast is never sent: cancelled, like its queued ones.
          if (entry.waitReason) await deps.ledger.cancel(entry, entry.attempt, now);
          else await deps.ledger.dropRetry(entry, entry.attempt);
          dropped += 1;
        }
        continue;
      }
      if (broadcast.status === 'paused') continue;
      // Waiting recipients go only while the broadcast may send (never paused); retries as before.
      const releasing = RELEASABLE.includes(broadcast.status);
      for (let pages = 0; ; ) {
        const due = await deps.ledger.scheduledRetries(broadcast.broadcastId, now, pageSize);
        const again: Recipient[] = [];
        for (const entry of due.filter((e) => !e.waitReason)) {
          const recipient = await deps.ledger.requeueForRetry(entry, entry.attempt, now);
          if (recipient) again.push(recipient);
          else skipped += 1;
        }
        if (releasing)
          await pLimit(RELEASE_WRITES).map(
            due.filter((e) => e.waitReason),
            async (entry) => {
              const recipient = await deps.ledger.releaseWaiting(entry, entry.attempt, now);
              if (recipient) {
                again.push(recipient);
                released += 1;
              } else skipped += 1;
            },
          );
        if (again.length > 0) {
          await deps.sendQueue.enqueue(await sendTasksFor(deps.broadcasts, again, now));
          requeued += again.length;
        }
        // A full page that mostly moved: there may be more due (a release of 100,000 at 08:00 is many
        // pages). Entries that did not move stay first in the index, so a page of them ends the loop.
        if (due.length < pageSize || again.length * 2 < due.length || ++pages >= MAX_PAGES) break;
        if (remainingMs() < 20_000) break;
      }
    }
    const summary = { requeued, dropped, skipped, released };
    if (requeued + dropped + skipped > 0) deps.logger.info('retry run', summary);
    return summary;
  };
}
