import type { CounterTotals } from '../core/count-deltas.ts';
import { displayCounts, type StatusCounts } from '../core/counts.ts';
import type { Broadcast, BroadcastCounters, Broadcasts } from '../core/ports.ts';
import { finalBroadcastStatus } from '../core/statuses.ts';

export interface SettleDeps {
  readonly broadcasts: Broadcasts;
  readonly counters: BroadcastCounters;
}

/** A broadcast with its counts as the API shows them. */
export interface BroadcastState {
  readonly broadcast: Broadcast;
  readonly counts: StatusCounts;
  readonly totals: CounterTotals;
}

/** The broadcast's counts, read now (strongly consistent) and shown as the API shows them. */
export async function stateOf(deps: SettleDeps, broadcast: Broadcast): Promise<BroadcastState> {
  const totals = await deps.counters.totals(broadcast.broadcastId);
  return { broadcast, totals, counts: displayCounts(broadcast, totals.statuses) };
}

/**
 * Brings a broadcast's status in line with its counts, and says where it stands:
 * - nothing pending, queued or sending, and no retry scheduled → its outcome (completed, partial,
 *   failed), out of the active index; a late provider outcome may still change it (completed →
 *   partial);
 * - a final broadcast that has work again (a late failure scheduled a retry; a manual retry) →
 *   running again;
 * - cancelled, once its last sends settled → out of the active index (it stays cancelled);
 * - paused or scheduled → as it is: a paused broadcast whose counts look final is not ended (`sent`
 *   is not final: a late `undelivered` schedules a retry, which would reopen it to `running` and lose
 *   the pause); it settles once resumed.
 * Run by the stream aggregator after each batch that touched the broadcast, by the sweeper for every
 * active broadcast, and by the routes that change a broadcast's course. Every write is conditional on
 * the status it reads, so concurrent runs agree.
 */
export async function settle(deps: SettleDeps, broadcast: Broadcast, at: Date): Promise<BroadcastState> {
  const state = await stateOf(deps, broadcast);
  const { counts, totals } = state;
  if (broadcast.status === 'scheduled' || broadcast.status === 'paused') return state;
  if (broadcast.status === 'cancelled') {
    if (counts.sending === 0) await deps.broadcasts.settleCancelled(broadcast);
    return state;
  }
  const final = finalBroadcastStatus(counts, { retryPending: totals.retriesPending > 0 });
  if (final) {
    if (broadcast.status === final) return state;
    if (await deps.broadcasts.finish(broadcast, final, at))
      return { ...state, broadcast: { ...broadcast, status: final, completedAt: at.toISOString() } };
    return asItIsNow(deps, state);
  }
  if (broadcast.status === 'completed' || broadcast.status === 'partial' || broadcast.status === 'failed') {
    if (await deps.broadcasts.reopen(broadcast)) {
      const { completedAt: _completedAt, ...rest } = broadcast;
      return { ...state, broadcast: { ...rest, status: 'running' } };
    }
    return asItIsNow(deps, state);
  }
  return state;
}

/**
 * A write refused because another settle (the aggregator's, a route's) or a cancel moved the
 * broadcast meanwhile: the broadcast as it is now, never the status read before (a `completed`
 * shown beside a pending retry).
 */
async function asItIsNow(deps: SettleDeps, state: BroadcastState): Promise<BroadcastState> {
  const now = await deps.broadcasts.get(state.broadcast.tenantId, state.broadcast.broadcastId);
  return now ? { ...state, broadcast: now } : state;
}
