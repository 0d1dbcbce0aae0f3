import pLimit from 'p-limit';
import { shardName, shardOf } from '../adapters/table-layout.ts';
import type { HandlerLogger } from '../commons/powertools.ts';
import { canaryHolds } from '../core/canary.ts';
import { countCorrection, ledgerCounts, RECOUNT_QUIET_SECONDS } from '../core/count-deltas.ts';
import { maskPhone } from '../core/phones.ts';
import type {
  Broadcast,
  Broadcasts,
  FanOutTask,
  Messenger,
  Recipient,
  SendTask,
  TaskQueue,
} from '../core/ports.ts';
import type { ServiceMetrics } from '../core/service-metrics.ts';
import { RECIPIENT_STATUSES } from '../core/statuses.ts';
import { checkCanary } from './canary-check.ts';
import { adoptMessage, findClaimedMessage, type ReconcileDeps } from './reconcile-send.ts';
import { type SettleDeps, settle } from './settle-broadcast.ts';
import { sendTasksFor } from './tasks-for-recipients.ts';

/**
 * The sweeper (EventBridge, every minute; locally SWEEP_SCHEDULE_SECONDS). Crashes are recovered on
 * the fast path, by the queues themselves (core/recovery.ts); the sweeper covers what no queue
 * brings back, without ever risking a second message:
 *
 * - every active broadcast is settled (final, reopened, or a cancelled one leaving the index), so an
 *   outcome never waits for a stream batch that will not come; a paused one is only settled (its
 *   waiting recipients are not stalled: the resume enqueues them);
 * - a broadcast whose canary is waiting gets its decision when it is ready (canary-check.ts): the
 *   rest go out, or it pauses itself; meanwhile its held rest is never taken for stalled;
 * - chunks of a list still not handed to the send queue `fanOutStaleSeconds` after the broadcast was
 *   created (or became due): their fan-out task again (its message was lost);
 * - a broadcast whose counts have not moved for `staleSeconds` while recipients are still in flight
 *   (a send task lost for good, callbacks that never came, or counts that lost a change): its
 *   recipients are read and
 *   - its counters recounted from them, when no recipient changed for `recountQuietSeconds` (past the
 *     stream's record age, so no change can still be on its way to the counters): a stream batch the
 *     aggregator gave up on (the `countFailures` queue) leaves counts that never add up, and this
 *     repairs them;
 *   - `sending` past its lease → the provider is asked (reconcile-send.ts): adopted when it has the
 *     message, otherwise released and sent again;
 *   - `queued`, or never written although its chunk was handed over → its send task again (the claim
 *     admits one send per attempt).
 */
export interface SweepDeps extends SettleDeps, ReconcileDeps {
  readonly broadcasts: Broadcasts;
  /** The messenger of a broadcast's sender (its snapshot), to ask Twilio about its stalled claims. */
  readonly messenger: (broadcast: Broadcast) => Promise<Messenger>;
  readonly sendQueue: TaskQueue<SendTask>;
  readonly fanOutQueue: TaskQueue<FanOutTask>;
  /** How long a broadcast's counts may stand still with recipients in flight before they are looked at; default 900. */
  readonly staleSeconds?: number;
  /** How long every recipient must have stood still before a recount; default RECOUNT_QUIET_SECONDS. */
  readonly recountQuietSeconds?: number;
  /** How long a chunk may stay unhanded before its fan-out task is presumed lost; default 180. */
  readonly fanOutStaleSeconds?: number;
  readonly now?: () => Date;
  readonly logger: HandlerLogger;
  /** StuckBroadcasts: this run's stalled count, 0 included, so its alarm always has data. */
  readonly metrics?: ServiceMetrics;
}

export interface SweepSummary {
  readonly broadcasts: number;
  readonly stalled: number;
  readonly refannedChunks: number;
  /** Send tasks enqueued again (queued or never-written recipients, and released claims). */
  readonly requeued: number;
  /** Abandoned claims whose message was found at the provider and adopted. */
  readonly adopted: number;
  /** Broadcasts whose status changed in this run. */
  readonly settled: number;
  /** Counter shards repaired by a recount. */
  readonly recounted: number;
  readonly errors: number;
}

/** The counts as a stable string: the same counts always give the same signature. */
export function countsSignature(counts: Readonly<Record<string, number>>): string {
  return JSON.stringify(
    Object.fromEntries(
      Object.keys(counts)
        .sort()
        .map((k) => [k, counts[k] ?? 0]),
    ),
  );
}

const ms = (iso: string | undefined): number => (iso ? Date.parse(iso) : Number.NaN);

export function createSweeper(deps: SweepDeps) {
  const log = deps.logger;
  const staleMs = (deps.staleSeconds ?? 900) * 1000;
  const fanOutStaleMs = (deps.fanOutStaleSeconds ?? 180) * 1000;
  const recountQuietMs = (deps.recountQuietSeconds ?? RECOUNT_QUIET_SECONDS) * 1000;
  const clock = deps.now ?? (() => new Date());

  return async (remainingMs: () => number = () => Number.POSITIVE_INFINITY): Promise<SweepSummary> => {
    const tally = {
      broadcasts: 0,
      stalled: 0,
      refannedChunks: 0,
      requeued: 0,
      adopted: 0,
      settled: 0,
      recounted: 0,
      errors: 0,
    };
    for (const broadcast of await deps.broadcasts.active()) {
      if (remainingMs() < 30_000) {
        log.warn('sweep stopped early: little time left; the next run carries on');
        break;
      }
      const now = clock();
      if (broadcast.status === 'scheduled' && !(ms(broadcast.scheduledAt) <= now.getTime())) continue;
      tally.broadcasts += 1;
      try {
        await sweepBroadcast(broadcast, now, tally);
      } catch (error) {
        tally.errors += 1;
        log.error('sweep of a broadcast failed; the next run tries again', {
          tenantId: broadcast.tenantId,
          broadcastId: broadcast.broadcastId,
          error: error as Error,
        });
      }
    }
    const worked =
      tally.refannedChunks + tally.requeued + tally.adopted + tally.settled + tally.recounted + tally.errors >
      0;
    (worked ? log.info : log.debug).call(log, 'sweep run', { ...tally });
    deps.metrics?.record('StuckBroadcasts', tally.stalled, {});
    return tally;
  };

  async function sweepBroadcast(
    broadcast: Broadcast,
    now: Date,
    tally: { -readonly [K in keyof SweepSummary]: number },
  ) {
    const ids = { tenantId: broadcast.tenantId, broadcastId: broadcast.broadcastId };
    const state = await settle(deps, broadcast, now);
    if (state.broadcast.status !== broadcast.status) tally.settled += 1;
    const { counts, totals } = state;

    const since = Math.max(ms(broadcast.createdAt), ms(broadcast.scheduledAt) || 0);
    if (totals.chunksEnqueued < broadcast.chunkCount && now.getTime() - since > fanOutStaleMs) {
      const chunks = await deps.broadcasts.unfinishedChunks(broadcast);
      if (chunks.length > 0) {
        await deps.fanOutQueue.enqueue(chunks.map((chunk) => ({ ...ids, chunk })));
        tally.refannedChunks += chunks.length;
        log.warn('chunks not handed to the send queue in time: fanned out again', { ...ids, chunks });
      }
    }

    // A canary still deciding (canary-check.ts) holds its rest `queued` on purpose: never stalled. Its
    // own recipients are recovered as any others, or it could never decide.
    const canary = await checkCanary({ ...deps, logger: log }, state, now);
    if (canary === undefined && broadcast.canary) return; // decided by another run just now
    const canaryRest = (index: number) => canary === 'waiting' && canaryHolds(broadcast.canary, index);

    // In flight, or counts no ledger can have (a lost change): either way, worth a look once stalled.
    const impossible = Object.values(counts).some((n) => n < 0);
    // A paused broadcast's queued recipients wait for the resume, which enqueues them: not lost.
    // Recipients that wait (quiet hours, the messaging limit) are not stalled: the retry job releases them.
    const waiting = Object.values(totals.waiting).reduce((sum, n) => sum + n, 0);
    if (
      broadcast.status === 'cancelled' ||
      broadcast.status === 'paused' ||
      (counts.queued - waiting <= 0 && counts.sending <= 0 && !impossible)
    )
      return;
    const stalledSince = await deps.broadcasts.noteSweep(broadcast, countsSignature(counts), now);
    if (now.getTime() - stalledSince.getTime() < staleMs) return;
    tally.stalled += 1;

    // The counters first (with their watermarks), then the ledger: a repair is written only while no
    // stream batch has moved a watermark since.
    const held = await deps.counters.shardCounts(broadcast.broadcastId);
    const written = await deps.ledger.inStatuses(broadcast, RECIPIENT_STATUSES);
    if (written.every((r) => now.getTime() - ms(r.updatedAt) >= recountQuietMs))
      tally.recounted += await recount(broadcast, held, written);
    const again: Recipient[] = written.filter(
      (r) => r.status === 'queued' && !r.waitReason && !canaryRest(r.index),
    );
    const messenger = await deps.messenger(broadcast);
    await pLimit(8).map(
      written.filter((r) => r.status === 'sending' && ms(r.leaseUntil) < now.getTime()),
      async (recipient) => {
        const found = await findClaimedMessage(deps, messenger, recipient, 'template');
        if (found) {
          await adoptMessage(deps, recipient, 'template', found, clock());
          tally.adopted += 1;
          log.warn('stalled claim: the message was found at Twilio and adopted', {
            ...ids,
            index: recipient.index,
            to: maskPhone(recipient.phone),
            messageSid: found.sid,
          });
        } else if (await deps.ledger.release(recipient, recipient.attempts, clock()))
          again.push({ ...recipient, status: 'queued' });
      },
    );
    const tasks = await sendTasksFor(deps.broadcasts, again, now);
    // Recipients whose chunk was handed over but who were never written: their task was lost.
    const seen = new Set(written.map((r) => r.index));
    if (counts.queued > again.length)
      for (const chunk of await handedChunks(broadcast))
        for (const entry of (await deps.broadcasts.readChunk(broadcast.broadcastId, chunk)).entries)
          if (!seen.has(entry.index) && !entry.skipped && !canaryRest(entry.index))
            tasks.push({
              ...ids,
              index: entry.index,
              attempt: 1,
              phone: entry.phone,
              variables: entry.contentVariables,
              chunk,
              queuedAt: now.toISOString(),
            });
    await deps.sendQueue.enqueue(tasks);
    tally.requeued += tasks.length;
    if (tasks.length > 0)
      log.warn('stalled broadcast: send tasks enqueued again', { ...ids, enqueued: tasks.length });
  }

  /** Repairs each shard whose counters differ from its recipients; returns how many were repaired. */
  async function recount(
    broadcast: Broadcast,
    held: Awaited<ReturnType<SweepDeps['counters']['shardCounts']>>,
    written: readonly Recipient[],
  ): Promise<number> {
    const byShard = new Map<string, Recipient[]>();
    for (const r of written) {
      const shard = shardName(shardOf(r.index));
      const list = byShard.get(shard);
      if (list) list.push(r);
      else byShard.set(shard, [r]);
    }
    let repaired = 0;
    for (const shard of new Set([...held.keys(), ...byShard.keys()])) {
      const item = held.get(shard);
      const correction = countCorrection(ledgerCounts(byShard.get(shard) ?? []), item?.fields ?? {});
      if (Object.keys(correction).length === 0) continue;
      const ids = { tenantId: broadcast.tenantId, broadcastId: broadcast.broadcastId, shard };
      const changedAt = clock().toISOString();
      if (await deps.counters.correct({ ...ids, deltas: correction, seenSeq: item?.seq, changedAt })) {
        repaired += 1;
        log.warn('counts did not match the ledger (a stream change was lost): recounted', {
          ...ids,
          correction,
        });
      }
    }
    if (repaired > 0) await settle(deps, broadcast, clock());
    return repaired;
  }

  /** The chunks whose recipients were handed to the send queue (all but the unfinished ones). */
  async function handedChunks(broadcast: Broadcast): Promise<number[]> {
    const unfinished = new Set(await deps.broadcasts.unfinishedChunks(broadcast));
    return Array.from({ length: broadcast.chunkCount }, (_, n) => n).filter((n) => !unfinished.has(n));
  }
}
