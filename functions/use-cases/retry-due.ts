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
}

export function createRetryJob(deps: RetryJobDeps) {
  const pageSize = deps.pageSize ?? 1000;
  return async (remainingMs: () => number = () => Number.POSITIVE_INFINITY): Promise<RetryRunSummary> => {
    const now = deps.now?.() ?? new Date();
    let requeued = 0;
    let dropped = 0;
    let skipped = 0;
    for (const broadcast of await deps.broadcasts.active()) {
      if (remainingMs() < 20_000) break; // the next run carries on
      if (broadcast.status === 'cancelled') {
        for (const entry of await deps.ledger.scheduledRetries(broadcast.broadcastId)) {
          await deps.ledger.dropRetry(entry, entry.attempt);
          dropped += 1;
        }
        continue;
      }
      if (broadcast.status === 'paused') continue;
      const due = await deps.ledger.scheduledRetries(broadcast.broadcastId, now, pageSize);
      const again: Recipient[] = [];
      for (const entry of due) {
        const recipient = await deps.ledger.requeueForRetry(entry, entry.attempt, now);
        if (recipient) again.push(recipient);
        else skipped += 1;
      }
      if (again.length === 0) continue;
      await deps.sendQueue.enqueue(await sendTasksFor(deps.broadcasts, again, now));
      requeued += again.length;
    }
    const summary = { requeued, dropped, skipped };
    if (requeued + dropped + skipped > 0) deps.logger.info('retry run', summary);
    return summary;
  };
}
