import type { HandlerLogger } from '../commons/powertools.ts';
import { canaryHolds } from '../core/canary.ts';
import type { Broadcast, Broadcasts, FanOutTask, SendLedger, SendTask, TaskQueue } from '../core/ports.ts';
import { SKIP_REASON_TEXT } from '../core/skips.ts';
import { sendsStopped } from '../core/statuses.ts';
import { releaseChunk } from './broadcast-release.ts';

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
 */
export interface FanOutDeps {
  readonly broadcasts: Broadcasts;
  readonly ledger: SendLedger;
  readonly sendQueue: TaskQueue<SendTask>;
  /** Puts the fan-out task back, visible after `delaySeconds` (at most 900): a scheduled broadcast's wait. */
  readonly postpone: (task: FanOutTask, delaySeconds: number) => Promise<void>;
  readonly now?: () => Date;
  readonly logger: HandlerLogger;
}

/** SQS's longest message delay. */
const MAX_DELAY_SECONDS = 900;

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
      const waitSeconds = Math.ceil((Date.parse(broadcast.scheduledAt ?? '') - now().getTime()) / 1000);
      if (waitSeconds > 0) {
        await deps.postpone(task, Math.min(MAX_DELAY_SECONDS, waitSeconds));
        return;
      }
      await deps.broadcasts.startScheduled(task.tenantId, task.broadcastId);
    }
    const chunk = await deps.broadcasts.readChunk(task.broadcastId, task.chunk);
    if (chunk.state === 'enqueued') return;
    if (!chunk.state) await deps.broadcasts.countChunk(broadcast, task.chunk, chunk.entries.length);
    const queuedAt = now().toISOString();
    const held = (b: Broadcast, index: number) => sendsStopped(b.status) || canaryHolds(b.canary, index);
    const tasks: SendTask[] = [];
    const waiting: SendTask[] = [];
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
      else if (held(broadcast, entry.index)) waiting.push(sendTask);
      else tasks.push(sendTask);
    }
    await deps.sendQueue.enqueue(tasks);
    await deps.broadcasts.chunkEnqueued(broadcast, task.chunk);
    if (waiting.length > 0) {
      // A resume (or the canary's go-ahead) that landed before the chunk was marked enqueued skipped
      // this chunk (broadcast-release.ts releases handed chunks only): what it freed goes out from here.
      const after = await deps.broadcasts.get(task.tenantId, task.broadcastId);
      const freed = after ? waiting.filter((t) => !held(after, t.index)) : [];
      await deps.sendQueue.enqueue(freed);
      tasks.push(...freed);
    }
    deps.logger.info('chunk fanned out', {
      broadcastId: task.broadcastId,
      chunk: task.chunk,
      recipients: chunk.entries.length,
      enqueued: tasks.length,
    });
  };
}
