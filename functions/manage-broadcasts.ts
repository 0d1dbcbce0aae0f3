import { setTimeout as sleep } from 'node:timers/promises';
import { adminRoute } from './commons/admin-route.ts';
import { ADMIN_PAUSE_REASON, pauseBroadcast, resumeBroadcast } from './commons/broadcast-pause.ts';
import { ownedBroadcast } from './commons/broadcasts.ts';
import { retryBackoffSeconds } from './commons/config.ts';
import { json } from './commons/http.ts';
import { logger } from './commons/powertools.ts';
import { broadcasts, counters, schedules, sendLedger, sendTaskQueue } from './commons/wiring.ts';
import { LIST_RETENTION_DAYS, listExpiresAt } from './core/chunks.ts';
import { displayCounts } from './core/counts.ts';
import { ApiError } from './core/errors.ts';
import { MAX_PACING_WAIT_MS } from './core/pacing.ts';
import type { Broadcast, Recipient } from './core/ports.ts';
import { isRetryable } from './core/retry-policy.ts';
import { isFinalBroadcastStatus } from './core/statuses.ts';
import { type SettleDeps, settle } from './use-cases/settle-broadcast.ts';
import { sendTasksFor } from './use-cases/tasks-for-recipients.ts';

/**
 * How long the cancel route waits for sends already under way to settle, so its count is the final
 * one: a claim waiting for its slot learns of the cancel at that slot (at most MAX_PACING_WAIT_MS
 * after it was booked) and is released then; 5 s more for that read and write on a busy table.
 * Within the function's 29 s timeout (lib/topology-functions.ts).
 */
const CANCEL_SETTLE_MS = MAX_PACING_WAIT_MS + 5_000;
/** Between two reads of the cancelled broadcast's ledger while sends under way settle (each reads it all). */
const CANCEL_POLL_MS = 500;
/** A retry this close to the list's expiry could find it gone by the time its tasks are built. */
const LIST_EXPIRY_MARGIN_SECONDS = 3600;

/**
 * POST /v1/broadcasts/{id}/cancel, /pause, /resume and /retry.
 *
 * Pause and resume: commons/broadcast-pause.ts.
 *
 * Cancel is one conditional write: the broadcast becomes `cancelled` at once; no send starts more
 * than about a second after it (each send decides on a read of the broadcast begun after its claim
 * and at most a second old), and its recipients not yet sent end `cancelled` without a write each
 * (the counts show them so). The answer waits, at most CANCEL_SETTLE_MS (15 s), for the sends
 * already under way to settle, so `cancelledCount`, read from the ledger, is the count the
 * broadcast ends with.
 *
 * Retry re-queues failed/undelivered recipients now, within the same attempt budget as the retry job
 * (1 + RETRY_BACKOFF_SECONDS windows), except those whose reason no retry can fix; a recipient
 * already re-queued is not re-queued again.
 */
export const handler = adminRoute(async (event, tenantId) => {
  const deps = { broadcasts: broadcasts(), counters: counters() };
  const broadcast = await ownedBroadcast(deps.broadcasts, tenantId, event);
  const now = new Date();
  switch (event.routeKey) {
    case 'POST /v1/broadcasts/{id}/cancel': {
      const refuse = (status: string) =>
        new ApiError('INVALID_STATE', `Broadcast ${broadcast.broadcastId} is already ${status}.`, [
          { path: 'status', message: `already ${status}`, status },
        ]);
      if (isFinalBroadcastStatus(broadcast.status)) throw refuse(broadcast.status);
      if (!(await deps.broadcasts.cancel(tenantId, broadcast.broadcastId, now))) {
        const current = await deps.broadcasts.get(tenantId, broadcast.broadcastId);
        throw refuse(current?.status ?? broadcast.status);
      }
      // A scheduled broadcast's start schedule goes with it. Best effort: the cancel is done, and a
      // firing that still comes finds the broadcast cancelled and starts nothing (then Scheduler
      // deletes the one-time schedule itself).
      if (broadcast.status === 'scheduled')
        await schedules()
          .delete(broadcast.broadcastId)
          .catch((error: unknown) =>
            logger.warn(
              'the cancelled broadcast’s start schedule could not be deleted; its firing will do nothing',
              {
                broadcastId: broadcast.broadcastId,
                error: error as Error,
              },
            ),
          );
      const cancelled: Broadcast = { ...broadcast, status: 'cancelled', cancelledAt: now.toISOString() };
      const cancelledCount = await cancelledCountOnceSettled(deps, cancelled);
      logger.info('broadcast cancelled', { broadcastId: broadcast.broadcastId, cancelledCount });
      return json(200, { broadcastId: broadcast.broadcastId, status: 'cancelled', cancelledCount });
    }
    case 'POST /v1/broadcasts/{id}/pause':
      return json(200, await pauseBroadcast(tenantId, broadcast.broadcastId, ADMIN_PAUSE_REASON, now));
    case 'POST /v1/broadcasts/{id}/resume':
      return json(200, await resumeBroadcast(tenantId, broadcast.broadcastId, now));
    case 'POST /v1/broadcasts/{id}/retry': {
      if (broadcast.status === 'cancelled')
        throw new ApiError(
          'INVALID_STATE',
          `Broadcast ${broadcast.broadcastId} was cancelled; nothing is retried.`,
          [{ path: 'status', message: 'cancelled', status: 'cancelled' }],
        );
      // Retried recipients are sent their template values from the stored list: none once it expired.
      if (now.getTime() / 1000 >= listExpiresAt(broadcast) - LIST_EXPIRY_MARGIN_SECONDS)
        throw new ApiError(
          'INVALID_STATE',
          `Broadcast ${broadcast.broadcastId} started more than ${LIST_RETENTION_DAYS} days ago; its recipient list is no longer kept, so nothing can be retried. Create a new broadcast for the recipients you want to reach.`,
          [
            {
              path: 'createdAt',
              message: `older than ${LIST_RETENTION_DAYS} days`,
              createdAt: broadcast.createdAt,
            },
          ],
        );
      const ledger = sendLedger();
      const maxAttempts = 1 + retryBackoffSeconds().length;
      const again: Recipient[] = [];
      let permanent = 0;
      let exhausted = 0;
      for (const recipient of await ledger.inStatuses(broadcast, ['failed', 'undelivered'])) {
        if (!isRetryable(recipient.errorCode, recipient.phone)) permanent += 1;
        else if (recipient.attempts >= maxAttempts) exhausted += 1;
        else {
          const requeued = await ledger.requeueForRetry(recipient, recipient.attempts, now);
          if (requeued) again.push(requeued);
        }
      }
      await sendTaskQueue().enqueue(await sendTasksFor(deps.broadcasts, again, now));
      // A final broadcast with recipients queued again is running again.
      if (again.length > 0) await settle(deps, broadcast, now);
      logger.info('broadcast retried', {
        broadcastId: broadcast.broadcastId,
        retriedCount: again.length,
        permanent,
        exhausted,
      });
      return json(202, {
        broadcastId: broadcast.broadcastId,
        retriedCount: again.length,
        notRetried: { permanent, attemptsExhausted: exhausted },
      });
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});

/**
 * How many of a cancelled broadcast's recipients end `cancelled`, once the sends under way at the
 * cancel settled (bounded wait); the broadcast is then settled. Counted from the ledger, strongly
 * consistent, not from the counters, which trail it by the aggregator's batching (more under load):
 * every claim made before the cancel is in it, `sending` until its send settles; a claim made after
 * it is released unsent (each send checks the broadcast after its claim), and unsent recipients,
 * written `queued` or never written, are shown cancelled (core/counts.ts).
 */
async function cancelledCountOnceSettled(deps: SettleDeps, broadcast: Broadcast): Promise<number> {
  const ledger = sendLedger();
  const deadline = Date.now() + CANCEL_SETTLE_MS;
  let tally = await ledger.statusTally(broadcast);
  while ((tally.sending ?? 0) > 0 && Date.now() < deadline) {
    await sleep(CANCEL_POLL_MS);
    tally = await ledger.statusTally(broadcast);
  }
  if ((tally.sending ?? 0) > 0)
    logger.warn('cancel answered before every send under way settled; its count may be short', {
      broadcastId: broadcast.broadcastId,
      sending: tally.sending,
      waitedMs: CANCEL_SETTLE_MS,
    });
  await settle(deps, broadcast, new Date());
  return displayCounts(broadcast, tally).cancelled;
}
