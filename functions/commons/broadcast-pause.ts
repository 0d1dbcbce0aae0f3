import { SqsTaskQueue } from '../adapters/sqs-queues.ts';
import { ApiError } from '../core/errors.ts';
import type { Broadcast, FanOutTask } from '../core/ports.ts';
import { isFinalBroadcastStatus, type PausableBroadcastStatus } from '../core/statuses.ts';
import { releaseUnsent } from '../use-cases/broadcast-release.ts';
import { requiredEnv } from './config.ts';
import { logger } from './powertools.ts';
import { broadcasts, sqs } from './wiring.ts';

/** The pause reason when an admin pauses through the API (a campaign or the canary give their own). */
export const ADMIN_PAUSE_REASON = 'paused by an admin';

export interface PauseAnswer {
  readonly broadcastId: string;
  readonly status: 'paused';
  readonly pausedAt: string;
  readonly pauseReason: string;
}

export interface ResumeAnswer {
  readonly broadcastId: string;
  /** The status it went back to (the one it was paused from), or the one it is in when it was not paused. */
  readonly status: PausableBroadcastStatus;
  /**
   * Chunks of its list (up to 1,000 recipients each) handed to the fan-out queue to release their unsent
   * recipients, within seconds (0 for a broadcast that was not paused).
   */
  readonly releasedChunks: number;
}

/**
 * Pauses a tenant's broadcast: no template send starts after it (each send checks the broadcast with a
 * read newer than its claim; a claim taken before may finish its one send), and its unsent recipients'
 * tasks are dropped as they come up rather than kept on the queue; resumeBroadcast enqueues them again.
 * Retries due while paused wait; follow-ups after a tap are still sent (they answer the person's tap).
 * Idempotent: pausing a paused broadcast answers as the first pause did (its reason is kept).
 * Throws ApiError NOT_FOUND (not this tenant's), INVALID_STATE (final, or scheduled and not started).
 */
export async function pauseBroadcast(
  tenantId: string,
  broadcastId: string,
  reason: string,
  now: Date = new Date(),
): Promise<PauseAnswer> {
  const paused = await broadcasts().pause(tenantId, broadcastId, now, reason);
  if (!paused) throw notFound(broadcastId);
  if (paused.status !== 'paused') throw refused(paused, 'paused');
  logger.info('broadcast paused', { tenantId, broadcastId, pauseReason: paused.pauseReason });
  return {
    broadcastId,
    status: 'paused',
    pausedAt: paused.pausedAt ?? now.toISOString(),
    pauseReason: paused.pauseReason ?? reason,
  };
}

/**
 * Resumes a paused broadcast: back to the status it was paused from, and its unsent recipients handed
 * to the send queue again by the fan-out, a release task per chunk (use-cases/broadcast-release.ts), so
 * the answer does not wait for a large list; nobody is sent twice (the ledger's claim
 * admits one send per attempt). Resuming a broadcast that is not paused but still sending answers 200
 * with its status and nothing released. Throws ApiError NOT_FOUND, INVALID_STATE (final or scheduled).
 */
export async function resumeBroadcast(
  tenantId: string,
  broadcastId: string,
  now: Date = new Date(),
): Promise<ResumeAnswer> {
  const store = broadcasts();
  const resumed = await store.resume(tenantId, broadcastId, now);
  if (!resumed) {
    const current = await store.get(tenantId, broadcastId);
    if (!current) throw notFound(broadcastId);
    if (current.status === 'accepted' || current.status === 'queued' || current.status === 'running')
      return { broadcastId, status: current.status, releasedChunks: 0 };
    throw refused(current, 'resumed');
  }
  const fanOutQueue = new SqsTaskQueue<FanOutTask>(sqs(), requiredEnv('FAN_OUT_QUEUE_URL'));
  const releasedChunks = await releaseUnsent({ fanOutQueue }, resumed);
  logger.info('broadcast resumed', { tenantId, broadcastId, status: resumed.status, releasedChunks });
  return { broadcastId, status: resumed.status as PausableBroadcastStatus, releasedChunks };
}

function notFound(broadcastId: string): ApiError {
  return new ApiError('NOT_FOUND', `No broadcast ${broadcastId} for this API key.`);
}

function refused(broadcast: Broadcast, asked: 'paused' | 'resumed'): ApiError {
  const why = isFinalBroadcastStatus(broadcast.status)
    ? `it is already ${broadcast.status}`
    : broadcast.status === 'scheduled'
      ? `it is scheduled and has not started${asked === 'paused' ? '; cancel it, or create it again later' : ''}`
      : `it is ${broadcast.status}`;
  return new ApiError('INVALID_STATE', `Broadcast ${broadcast.broadcastId} cannot be ${asked}: ${why}.`, [
    { path: 'status', message: why, status: broadcast.status },
  ]);
}
