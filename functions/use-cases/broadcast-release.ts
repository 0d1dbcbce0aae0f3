import { canaryHolds } from '../core/canary.ts';
import type { Broadcast, Broadcasts, Recipient, SendLedger, SendTask, TaskQueue } from '../core/ports.ts';
import { sendTasksFor } from './tasks-for-recipients.ts';

export interface ReleaseDeps {
  readonly broadcasts: Pick<Broadcasts, 'readChunk' | 'unfinishedChunks'>;
  readonly ledger: Pick<SendLedger, 'inStatuses'>;
  readonly sendQueue: TaskQueue<SendTask>;
}

/**
 * Hands a broadcast's unsent recipients to the send queue again: what a resume does, since a paused
 * broadcast's send tasks are dropped rather than kept hopping on the queue for the length of the pause.
 *
 * Unsent: a ledger entry `queued` (released after a claim, or re-queued by a retry), or no entry at
 * all in a chunk already handed over (its task was dropped while paused). Chunks not handed over yet
 * are left to their fan-out task (or the sweeper's re-fan). A canary still deciding holds back its rest
 * (core/canary.ts): pass the broadcast as it is now. A duplicate task is harmless: the claim
 * admits one send per attempt. Reads every ledger entry of the broadcast once (as the sweeper's stall
 * recovery does) and each handed chunk once. Returns how many tasks were enqueued.
 */
export async function releaseUnsent(deps: ReleaseDeps, broadcast: Broadcast, at: Date): Promise<number> {
  const held = (index: number) => canaryHolds(broadcast.canary, index);
  const written = await deps.ledger.inStatuses(broadcast, [
    'queued',
    'sending',
    'sent',
    'delivered',
    'read',
    'failed',
    'undelivered',
    'cancelled',
    'skipped',
  ]);
  const seen = new Set(written.map((r) => r.index));
  const queued: Recipient[] = written.filter((r) => r.status === 'queued' && !held(r.index));
  const tasks = await sendTasksFor(deps.broadcasts, queued, at);
  const unfinished = new Set(await deps.broadcasts.unfinishedChunks(broadcast));
  for (let chunk = 0; chunk < broadcast.chunkCount; chunk++) {
    if (unfinished.has(chunk)) continue;
    for (const entry of (await deps.broadcasts.readChunk(broadcast.broadcastId, chunk)).entries)
      if (!seen.has(entry.index) && !entry.skipped && !held(entry.index))
        tasks.push({
          tenantId: broadcast.tenantId,
          broadcastId: broadcast.broadcastId,
          index: entry.index,
          attempt: 1,
          phone: entry.phone,
          variables: entry.contentVariables,
          chunk,
          queuedAt: at.toISOString(),
        });
  }
  await deps.sendQueue.enqueue(tasks);
  return tasks.length;
}
