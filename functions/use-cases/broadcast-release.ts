import pLimit from 'p-limit';
import { canaryHolds } from '../core/canary.ts';
import type {
  Broadcast,
  Broadcasts,
  ChunkEntry,
  FanOutTask,
  SendLedger,
  SendTask,
  TaskQueue,
} from '../core/ports.ts';
import type { WaitReason } from '../core/send-timing.ts';

/** A send task for a recipient timed for later at create, with its release time and why. */
export type TimedTask = SendTask & { readonly notBefore: string; readonly waitReason: WaitReason };

/**
 * The wait of a chunk entry timed for later at create (quiet hours, the messaging limit:
 * core/send-timing.ts) that is still ahead at `at`; undefined when it may go now.
 */
export function timedFor(entry: ChunkEntry, task: SendTask, at: Date): TimedTask | undefined {
  if (!entry.notBefore || Date.parse(entry.notBefore) <= at.getTime()) return undefined;
  return { ...task, notBefore: entry.notBefore, waitReason: entry.waitReason ?? 'quiet_hours' };
}

/** Waiting recipients written at once. */
const WAIT_WRITES = 16;

/** Writes each timed recipient `queued` on the due index (the retry job releases it when due). */
export async function writeWaits(
  ledger: Pick<SendLedger, 'wait'>,
  waits: readonly TimedTask[],
  at: Date,
): Promise<void> {
  await pLimit(WAIT_WRITES).map(waits, (w) => ledger.wait(w, new Date(w.notBefore), w.waitReason, at));
}

/**
 * Hands a broadcast's unsent recipients to the send queue again: what a resume and the canary's
 * go-ahead do, since a paused broadcast's send tasks (and a canary's held rest) are not kept hopping
 * on the queue for the length of the wait. One release task per chunk goes on the fan-out queue, so a
 * 100,000-recipient broadcast is released by a hundred fan-out invocations, not inside the API call.
 * Returns how many chunks were handed over.
 */
export async function releaseUnsent(
  deps: { readonly fanOutQueue: TaskQueue<FanOutTask> },
  broadcast: Pick<Broadcast, 'tenantId' | 'broadcastId' | 'chunkCount'>,
): Promise<number> {
  await deps.fanOutQueue.enqueue(
    Array.from({ length: broadcast.chunkCount }, (_, chunk) => ({
      tenantId: broadcast.tenantId,
      broadcastId: broadcast.broadcastId,
      chunk,
      release: true,
    })),
  );
  return broadcast.chunkCount;
}

export interface ReleaseChunkDeps {
  readonly broadcasts: Pick<Broadcasts, 'readChunk'>;
  readonly ledger: Pick<SendLedger, 'getMany' | 'wait'>;
  readonly sendQueue: TaskQueue<SendTask>;
}

/**
 * One chunk's release (the fan-out consumer runs it for a release task): a send task for each of its
 * recipients not sent yet, read from the chunk and the ledger entries of its recipients (batch reads):
 * an entry `queued` (a claim released, a retry re-queued) gets a task for its attempt, no entry at all
 * (its task was dropped while paused, or held back by the canary) a first-attempt task. Nothing while
 * the broadcast is paused or cancelled, nor for the rest of a canary still deciding (pass the
 * broadcast as it is now), nor for a chunk not yet fanned out (its first fan-out sends it). A
 * duplicate task is harmless: the claim admits one send per attempt. Returns how many were enqueued.
 */
export async function releaseChunk(
  deps: ReleaseChunkDeps,
  broadcast: Broadcast,
  chunk: number,
  at: Date,
): Promise<number> {
  if (broadcast.status === 'paused' || broadcast.status === 'cancelled') return 0;
  const stored = await deps.broadcasts.readChunk(broadcast.broadcastId, chunk);
  if (stored.state !== 'enqueued') return 0;
  const candidates = stored.entries.filter((e) => !e.skipped && !canaryHolds(broadcast.canary, e.index));
  const written = await deps.ledger.getMany(
    broadcast,
    candidates.map((e) => e.index),
  );
  const tasks: SendTask[] = [];
  const waits: TimedTask[] = [];
  for (const entry of candidates) {
    const recipient = written.get(entry.index);
    if (recipient && recipient.status !== 'queued') continue;
    const task: SendTask = {
      tenantId: broadcast.tenantId,
      broadcastId: broadcast.broadcastId,
      index: entry.index,
      attempt: recipient?.attempts ?? 1,
      phone: entry.phone,
      variables: entry.contentVariables,
      chunk,
      queuedAt: recipient?.queuedAt ?? at.toISOString(),
      ...(entry.timeZone ? { timeZone: entry.timeZone } : {}),
    };
    // Never written (held while paused, or the canary's rest) and timed for later: it waits on the
    // due index as its fan-out would have made it. A written one waiting there already is refused by
    // the claim until the retry job releases it.
    const timed = recipient ? undefined : timedFor(entry, task, at);
    if (timed) waits.push(timed);
    else tasks.push(task);
  }
  await writeWaits(deps.ledger, waits, at);
  await deps.sendQueue.enqueue(tasks);
  return tasks.length;
}
