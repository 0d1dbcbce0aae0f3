import type { HandlerLogger } from '../commons/powertools.ts';
import { canaryHolds } from '../core/canary.ts';
import type {
  Broadcast,
  Broadcasts,
  ChunkEntry,
  FanOutTask,
  SendHistory,
  SendLedger,
  SendTask,
  TaskQueue,
} from '../core/ports.ts';
import { recordsSendHistory } from '../core/send-timing.ts';
import { SKIP_REASON_TEXT } from '../core/skips.ts';
import { sendsStopped } from '../core/statuses.ts';
import { releaseChunk, type TimedTask, timedFor, writeWaits } from './broadcast-release.ts';

/**
 * One stored chunk of a broadcast's list handed to the send queue (DESIGN.md "Big lists"):
 *
 * 1. its recipients are counted `queued` (once: the chunk's state says whether it was);
 * 2. a send task per recipient is enqueued, carrying what to send (phone, rendered variables); the
 *    recipients are not written here: each is written by its first claim (one write less per
 *    recipient), and those skipped at create (suppressed, or a marketing template to a US number)
 *    are written now, as `skipped` with their reason;
 * 3. the chunk is marked enqueued (with the last chunk, the broadcast goes accepted → queued).
 *
 * A release task (`release: true`, after a resume or the canary's go-ahead) enqueues the chunk's unsent
 * recipients again instead (broadcast-release.ts releaseChunk).
 *
 * Safe to repeat at any point: a redelivered task skips what is counted, enqueues again what may not
 * have been (the claim admits one send per attempt, so a duplicate task is harmless), and marks once.
 * A cancelled broadcast's chunk is counted (the counts show it as cancelled) and nothing is enqueued;
 * so is a paused one's, and a canary's rest while its decision is waiting (they stay `queued`; the
 * resume or the go-ahead enqueues them: broadcast-release.ts).
 *
 * A recipient timed for later at create (`notBefore`: quiet hours, the messaging limit) gets no task:
 * it is written `queued` with its release time on the due index, and the retry job hands it to the
 * send queue when the time comes (one mechanism for "wait until", with retries). The recipients to be
 * sent are recorded in the tenant's send history (frequency caps, the limit's unique people) when the
 * broadcast is one that counts there (core/send-timing.ts recordsSendHistory).
 */
export interface FanOutDeps {
  readonly broadcasts: Broadcasts;
  readonly ledger: SendLedger;
  readonly sendQueue: TaskQueue<SendTask>;
  readonly history: Pick<SendHistory, 'record'>;
  readonly now?: () => Date;
  readonly logger: HandlerLogger;
}

export function createFanOut(deps: FanOutDeps) {
  const now = deps.now ?? (() => new Date());
  return async (task: FanOutTask): Promise<void> => {
    const broadcast = await deps.broadcasts.get(task.tenantId, task.broadcastId);
    if (!broadcast) {
      deps.logger.error('fan-out task names an unknown broadcast', { broadcastId: task.broadcastId });
      return;
    }
    if (task.release) {
      const released = await releaseChunk(deps, broadcast, task.chunk, now());
      deps.logger.info('chunk released', { broadcastId: task.broadcastId, chunk: task.chunk, released });
      return;
    }
    if (broadcast.status === 'scheduled') {
      // A scheduled broadcast's chunks come here from its start schedule's firing (which starts it:
      // use-cases/scheduled-start.ts), or from the sweeper once it is due and they were not handed on.
      // One that is not due is not started early.
      if (Date.parse(broadcast.scheduledAt ?? '') > now().getTime()) {
        deps.logger.warn('fan-out task of a broadcast not due yet: left to its schedule', {
          broadcastId: task.broadcastId,
          scheduledAt: broadcast.scheduledAt,
        });
        return;
      }
      await deps.broadcasts.startScheduled(task.tenantId, task.broadcastId);
    }
    const chunk = await deps.broadcasts.readChunk(task.broadcastId, task.chunk);
    if (chunk.state === 'enqueued') return;
    if (!chunk.state) await deps.broadcasts.countChunk(broadcast, task.chunk, chunk.entries.length);
    const queuedAt = now().toISOString();
    const cancelled = broadcast.status === 'cancelled';
    const held = (b: Broadcast, index: number) => sendsStopped(b.status) || canaryHolds(b.canary, index);
    const tasks: SendTask[] = [];
    const waiting: { task: SendTask; entry: ChunkEntry }[] = [];
    const waits: TimedTask[] = [];
    const sends: { phone: string; at: string; limitHour?: number }[] = [];
    for (const entry of chunk.entries) {
      const sendTask: SendTask = {
        tenantId: broadcast.tenantId,
        broadcastId: broadcast.broadcastId,
        index: entry.index,
        attempt: 1,
        phone: entry.phone,
        variables: entry.contentVariables,
        chunk: task.chunk,
        queuedAt,
        ...(entry.timeZone ? { timeZone: entry.timeZone } : {}),
      };
      if (!entry.skipped && !cancelled)
        sends.push({
          phone: entry.phone,
          at: entry.notBefore ?? queuedAt,
          ...(entry.limitHour !== undefined ? { limitHour: entry.limitHour } : {}),
        });
      if (entry.skipped)
        await deps.ledger.markSkipped(
          sendTask,
          now(),
          SKIP_REASON_TEXT[entry.skipReason ?? 'suppressed'],
          entry.skipReason,
        );
      else if (cancelled) continue;
      else if (held(broadcast, entry.index)) waiting.push({ task: sendTask, entry });
      else {
        const timed = timedFor(entry, sendTask, now());
        if (timed) waits.push(timed);
        else tasks.push(sendTask);
      }
    }
    await writeWaits(deps.ledger, waits, now());
    await deps.sendQueue.enqueue(tasks);
    // The history after the tasks (sending is not held up by it) and before the chunk is marked: a
    // crash in between fans the chunk out again, and a repeat writes the same history.
    if (recordsSendHistory(broadcast))
      await deps.history.record(broadcast.tenantId, broadcast.broadcastId, sends);
    await deps.broadcasts.chunkEnqueued(broadcast, task.chunk);
    if (waiting.length > 0) {
      // A resume (or the canary's go-ahead) that landed before the chunk was marked enqueued skipped
      // this chunk (broadcast-release.ts releases handed chunks only): what it freed goes out from here.
      const after = await deps.broadcasts.get(task.tenantId, task.broadcastId);
      const freed = after ? waiting.filter((w) => !held(after, w.task.index)) : [];
      const freedWaits: TimedTask[] = [];
      const freedTasks: SendTask[] = [];
      for (const { task: sendTask, entry } of freed) {
        const timed = timedFor(entry, sendTask, now());
        if (timed) freedWaits.push(timed);
        else freedTasks.push(sendTask);
      }
      await writeWaits(deps.ledger, freedWaits, now());
      await deps.sendQueue.enqueue(freedTasks);
      tasks.push(...freedTasks);
      waits.push(...freedWaits);
    }
    deps.logger.info('chunk fanned out', {
      broadcastId: task.broadcastId,
      chunk: task.chunk,
      recipients: chunk.entries.length,
      enqueued: tasks.length,
      waiting: waits.length,
    });
  };
}
