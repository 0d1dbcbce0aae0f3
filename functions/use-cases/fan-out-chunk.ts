import type { HandlerLogger } from '../commons/powertools.ts';
import type { Broadcasts, FanOutTask, SendLedger, SendTask, TaskQueue } from '../core/ports.ts';
import { SKIP_REASON_TEXT } from '../core/skips.ts';
import { sendsStopped } from '../core/statuses.ts';

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
 * Safe to repeat at any point: a redelivered task skips what is counted, enqueues again what may not
 * have been (the claim admits one send per attempt, so a duplicate task is harmless), and marks once.
 * A cancelled broadcast's chunk is counted (the counts show it as cancelled) and nothing is enqueued;
 * so is a paused one's (its recipients stay `queued` and a resume enqueues them: broadcast-release.ts).
 */
export interface FanOutDeps {
  readonly broadcasts: Broadcasts;
  readonly ledger: SendLedger;
  readonly sendQueue: TaskQueue<SendTask>;
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
    const stopped = sendsStopped(broadcast.status);
    const tasks: SendTask[] = [];
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
      };
      if (entry.skipped)
        await deps.ledger.markSkipped(
          sendTask,
          now(),
          SKIP_REASON_TEXT[entry.skipReason ?? 'suppressed'],
          entry.skipReason,
        );
      else if (!stopped) tasks.push(sendTask);
    }
    await deps.sendQueue.enqueue(tasks);
    await deps.broadcasts.chunkEnqueued(broadcast, task.chunk);
    deps.logger.info('chunk fanned out', {
      broadcastId: task.broadcastId,
      chunk: task.chunk,
      recipients: chunk.entries.length,
      enqueued: tasks.length,
    });
  };
}
