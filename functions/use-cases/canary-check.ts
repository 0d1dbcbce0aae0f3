import type { HandlerLogger } from '../commons/powertools.ts';
import { type CanaryDecision, canaryPauseReason, canaryVerdict } from '../core/canary.ts';
import type { Broadcasts, FanOutTask, TaskQueue } from '../core/ports.ts';
import { releaseUnsent } from './broadcast-release.ts';
import type { BroadcastState } from './settle-broadcast.ts';

export interface CanaryCheckDeps {
  readonly broadcasts: Pick<Broadcasts, 'decideCanary' | 'pause'>;
  readonly fanOutQueue: TaskQueue<FanOutTask>;
  readonly logger: HandlerLogger;
}

/**
 * The canary's decision for a broadcast whose canary is waiting (core/canary.ts has the rule): once
 * ready, it is recorded once (a conditional write, so two sweeps cannot both act), then the rest are
 * released (a release task per chunk: broadcast-release.ts), or the broadcast pauses itself with the
 * failure rate and the top error code as its reason. Nothing is decided while the broadcast is paused by an admin, cancelled or
 * scheduled. Returns the canary's decision as it stands after the check (undefined: no canary).
 */
export async function checkCanary(
  deps: CanaryCheckDeps,
  state: BroadcastState,
  now: Date,
): Promise<CanaryDecision | undefined> {
  const { broadcast, counts, totals } = state;
  const canary = broadcast.canary;
  if (canary?.decision !== 'waiting') return canary?.decision;
  if (broadcast.status === 'paused' || broadcast.status === 'cancelled' || broadcast.status === 'scheduled')
    return 'waiting';
  const verdict = canaryVerdict(canary, {
    counts,
    errors: totals.errors,
    startedAt: broadcast.startedAt ?? broadcast.createdAt,
    now,
  });
  if (!verdict.ready) return 'waiting';
  const decided = {
    decision: verdict.decision,
    decidedAt: now.toISOString(),
    outcomes: verdict.outcomes,
    failureRate: verdict.failureRate,
    ...(verdict.topErrorCode !== undefined ? { topErrorCode: verdict.topErrorCode } : {}),
  };
  const ids = { tenantId: broadcast.tenantId, broadcastId: broadcast.broadcastId };
  if (!(await deps.broadcasts.decideCanary(broadcast, decided))) return undefined;
  if (verdict.decision === 'paused') {
    const reason = canaryPauseReason(verdict, canary.maxFailureRate);
    await deps.broadcasts.pause(broadcast.tenantId, broadcast.broadcastId, now, reason);
    deps.logger.warn('canary failed: broadcast paused', { ...ids, ...decided, pauseReason: reason });
    return 'paused';
  }
  const chunks = await releaseUnsent(deps, broadcast);
  deps.logger.info('canary passed: the rest of the broadcast goes out', { ...ids, ...decided, chunks });
  return 'proceeded';
}
