import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger as defaultLogger, type HandlerLogger } from './commons/powertools.ts';
import { broadcastStore, sendTaskQueue } from './commons/wiring.ts';
import type { Broadcast, BroadcastStore, SendTask, TaskQueue } from './core/ports.ts';

/**
 * The retry job, run by the EventBridge rule every 5 minutes (locally by the twin's timer,
 * RETRY_SCHEDULE_SECONDS). It reads the due-retry index, never the table: each recipient in it
 * failed with a transient error and its backoff window has passed (the window was chosen when it
 * failed, functions/core/retry-policy.ts). It goes back to `queued` with `attempts + 1` and gets
 * a send task; a crash in between leaves it `queued`, which the sweeper re-enqueues.
 */
export interface RetryJobDeps {
  readonly store: BroadcastStore;
  readonly sendQueue: TaskQueue<SendTask>;
  readonly now?: () => Date;
  readonly logger?: HandlerLogger;
  /** Due retries read per page. */
  readonly pageSize?: number;
}

export interface RetryRunSummary {
  readonly requeued: number;
  /** Retries dropped because their broadcast was cancelled. */
  readonly dropped: number;
  /** Due entries that had moved on (a late callback, a manual retry) by the time they were read. */
  readonly skipped: number;
}

export function createRetryJob(deps: RetryJobDeps) {
  const log = deps.logger ?? defaultLogger;
  const pageSize = deps.pageSize ?? 500;

  return async (context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<RetryRunSummary> => {
    const now = deps.now?.() ?? new Date();
    const broadcasts = new Map<string, Promise<Broadcast | undefined>>();
    const broadcastOf = (tenantId: string, broadcastId: string) => {
      const id = `${tenantId}/${broadcastId}`;
      if (!broadcasts.has(id)) broadcasts.set(id, deps.store.getBroadcast(tenantId, broadcastId));
      return broadcasts.get(id) as Promise<Broadcast | undefined>;
    };
    let requeued = 0;
    let dropped = 0;
    let skipped = 0;
    // Pages until nothing is due, or until little time is left (the next run carries on).
    for (;;) {
      const due = await deps.store.dueRetries(now, pageSize);
      const tasks: SendTask[] = [];
      for (const entry of due) {
        const { attempt, ...key } = entry;
        const broadcast = await broadcastOf(key.tenantId, key.broadcastId);
        if (!broadcast || broadcast.status === 'cancelled') {
          await deps.store.dropRetry(key, attempt);
          dropped += 1;
          continue;
        }
        const moved = await deps.store.requeueForRetry(key, attempt, now);
        if (moved.moved) tasks.push({ ...key, attempt: attempt + 1 });
        else skipped += 1;
      }
      await deps.sendQueue.enqueue(tasks);
      requeued += tasks.length;
      const timeLeft = context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY;
      if (due.length < pageSize || tasks.length + dropped === 0 || timeLeft < 30_000) break;
    }
    const summary = { requeued, dropped, skipped };
    if (requeued + dropped + skipped > 0) log.info('retry run', summary);
    return summary;
  };
}

let live: ReturnType<typeof createRetryJob> | undefined;

export const handler = middy(async (_event: unknown, context?: Context): Promise<RetryRunSummary> => {
  live ??= createRetryJob({
    store: broadcastStore(),
    sendQueue: sendTaskQueue(),
  });
  return live(context);
}).use(injectLambdaContext(defaultLogger, { resetKeys: true }));
