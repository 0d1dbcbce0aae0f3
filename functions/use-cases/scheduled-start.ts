import type { HandlerLogger } from '../commons/powertools.ts';
import type { Broadcasts } from '../core/ports.ts';

export interface ScheduledStartDeps {
  readonly broadcasts: Broadcasts;
  /** Hands the broadcast's chunks to the fan-out (idempotent: a chunk already handed on is skipped there). */
  readonly enqueueFanOut: (tenantId: string, broadcastId: string, chunkCount: number) => Promise<void>;
  readonly logger: HandlerLogger;
}

/**
 * The firing of a scheduled broadcast's at() schedule (core/scheduled-start.ts): `scheduled` →
 * `accepted`, then its chunks to the fan-out. A cancelled broadcast stays as it is. Safe to repeat
 * (Scheduler delivers at least once): an `accepted` one has its chunks handed on again, which the
 * fan-out skips when done, so a crash between the two steps is repaired by the next delivery.
 */
export function createScheduledStart(deps: ScheduledStartDeps) {
  return async (firing: { tenantId: string; broadcastId: string }): Promise<'started' | 'not-scheduled'> => {
    const { tenantId, broadcastId } = firing;
    let broadcast = await deps.broadcasts.get(tenantId, broadcastId);
    if (broadcast?.status === 'scheduled' && !(await deps.broadcasts.startScheduled(tenantId, broadcastId)))
      broadcast = await deps.broadcasts.get(tenantId, broadcastId);
    else if (broadcast?.status === 'scheduled') broadcast = { ...broadcast, status: 'accepted' };
    if (!broadcast || !['scheduled', 'accepted'].includes(broadcast.status)) {
      deps.logger.info('scheduled start: nothing to start', {
        broadcastId,
        status: broadcast?.status ?? 'missing',
      });
      return 'not-scheduled';
    }
    await deps.enqueueFanOut(tenantId, broadcastId, broadcast.chunkCount);
    deps.logger.info('scheduled broadcast started', { broadcastId, chunks: broadcast.chunkCount });
    return 'started';
  };
}
