import { adminRoute } from './commons/admin-route.ts';
import { ownedBroadcast } from './commons/broadcasts.ts';
import { json } from './commons/http.ts';
import { logger } from './commons/powertools.ts';
import { broadcastStore, sendTaskQueue } from './commons/wiring.ts';
import { ApiError } from './core/errors.ts';
import type { SendTask } from './core/ports.ts';
import { isRetryable } from './core/retry-policy.ts';
import { isFinalBroadcastStatus } from './core/statuses.ts';

/**
 * POST /v1/broadcasts/{id}/cancel and /retry.
 *
 * Cancel is one conditional write: the broadcast becomes `cancelled` at once, and its
 * recipients not yet sent follow as the queue drains (the send consumer cancels each queued
 * one instead of sending it, the fan-out writes any list not expanded yet as cancelled, the
 * retry job drops scheduled retries), so a cancel of 100,000 answers in milliseconds and the
 * counts still add up. Retry re-queues failed/undelivered recipients now, except those whose
 * reason no retry can fix (permanent or suppressing codes).
 */
export const handler = adminRoute(async (event, tenantId) => {
  const store = broadcastStore();
  const broadcast = await ownedBroadcast(store, tenantId, event);
  const now = new Date();
  switch (event.routeKey) {
    case 'POST /v1/broadcasts/{id}/cancel': {
      const refuse = () =>
        new ApiError('INVALID_STATE', `Broadcast ${broadcast.broadcastId} is already ${broadcast.status}.`, {
          status: broadcast.status,
        });
      if (isFinalBroadcastStatus(broadcast.status)) throw refuse();
      const { counts } = await store.getCounts(broadcast);
      if (!(await store.cancelBroadcast(tenantId, broadcast.broadcastId, now))) throw refuse();
      const cancelledCount = counts.pending + counts.queued;
      logger.info('broadcast cancelled', { broadcastId: broadcast.broadcastId, cancelledCount });
      return json(200, { broadcastId: broadcast.broadcastId, status: 'cancelled', cancelledCount });
    }
    case 'POST /v1/broadcasts/{id}/retry': {
      if (broadcast.status === 'cancelled')
        throw new ApiError(
          'INVALID_STATE',
          `Broadcast ${broadcast.broadcastId} was cancelled; nothing is retried.`,
        );
      const failed = await store.recipientsIn(broadcast, ['failed', 'undelivered']);
      const tasks: SendTask[] = [];
      for (const recipient of failed) {
        if (!isRetryable(recipient.errorCode, recipient.phone)) continue;
        const key = { tenantId, broadcastId: broadcast.broadcastId, index: recipient.index };
        if ((await store.requeueForRetry(key, recipient.attempts, now)).moved)
          tasks.push({ ...key, attempt: recipient.attempts + 1 });
      }
      await sendTaskQueue().enqueue(tasks);
      // A final broadcast with recipients queued again is running again.
      if (tasks.length > 0) await store.finalizeIfDone(broadcast, now);
      logger.info('broadcast retried', { broadcastId: broadcast.broadcastId, retriedCount: tasks.length });
      return json(202, { broadcastId: broadcast.broadcastId, retriedCount: tasks.length });
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});
