import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { sendTasksFor } from './adapters/dynamo-broadcast-store.ts';
import { requiredEnv } from './commons/config.ts';
import { logger as defaultLogger, type HandlerLogger } from './commons/powertools.ts';
import { broadcastStore, sendTaskQueue, sqs } from './commons/wiring.ts';
import type { BroadcastStore, FanOutTask, SendTask, TaskQueue } from './core/ports.ts';

/**
 * The fan-out queue's consumer: expands one stored chunk of a broadcast's list into recipients
 * (`queued`) and their send tasks. Safe to repeat: a redelivered task writes no recipient twice
 * and re-enqueues only those still waiting (the send claim admits one send per attempt anyway).
 * A scheduled broadcast's tasks wait on the queue, in hops of SQS's longest delay, until it is due.
 */
export interface FanOutDeps {
  readonly store: BroadcastStore;
  readonly sendQueue: TaskQueue<SendTask>;
  /** Puts the task back on the fan-out queue, visible after `delaySeconds` (at most 900). */
  readonly postpone: (task: FanOutTask, delaySeconds: number) => Promise<void>;
  readonly now?: () => Date;
  readonly logger?: HandlerLogger;
}

/** SQS's longest message delay. */
const MAX_DELAY_SECONDS = 900;

const fanOutTaskSchema = z.object({
  tenantId: z.string().min(1),
  broadcastId: z.string().min(1),
  chunk: z.number().int().nonnegative(),
});

export function createFanOutHandler(deps: FanOutDeps) {
  const log = deps.logger ?? defaultLogger;
  const now = deps.now ?? (() => new Date());

  async function expand(record: SQSRecord): Promise<void> {
    const parsed = fanOutTaskSchema.safeParse(safeJson(record.body));
    if (!parsed.success) {
      // Retrying cannot fix a malformed task: drop it, loudly.
      log.error('malformed fan-out task dropped', { messageId: record.messageId });
      return;
    }
    const task = parsed.data;
    const broadcast = await deps.store.getBroadcast(task.tenantId, task.broadcastId);
    if (!broadcast) {
      log.error('fan-out task names an unknown broadcast', { broadcastId: task.broadcastId });
      return;
    }
    // A cancelled broadcast's chunk is still expanded (as cancelled recipients) so its counts add up.
    if (broadcast.status === 'scheduled') {
      const waitSeconds = Math.ceil((Date.parse(broadcast.scheduledAt ?? '') - now().getTime()) / 1000);
      if (waitSeconds > 0) {
        await deps.postpone(task, Math.min(MAX_DELAY_SECONDS, waitSeconds));
        return;
      }
      await deps.store.startScheduled(task.tenantId, task.broadcastId);
    }
    const entries = await deps.store.readChunk(task.tenantId, task.broadcastId, task.chunk);
    const ready = await deps.store.expandChunk(broadcast, task.chunk, entries);
    await deps.sendQueue.enqueue(sendTasksFor(ready));
    await deps.store.markChunkExpanded(broadcast, task.chunk);
    // No send will finish this chunk (all skipped or cancelled): if it was the last work, the
    // broadcast is final now, not at the next sweep.
    if (ready.length === 0) await deps.store.finalizeIfDone(broadcast, now());
    log.info('chunk fanned out', {
      broadcastId: task.broadcastId,
      chunk: task.chunk,
      recipients: entries.length,
      enqueued: ready.length,
    });
  }

  const processor = new BatchProcessor(EventType.SQS);
  return (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, expand, processor, context ? { context } : undefined);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

let wired: ReturnType<typeof createFanOutHandler> | undefined;

export const handler = middy((event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  wired ??= createFanOutHandler({
    store: broadcastStore(),
    sendQueue: sendTaskQueue(),
    postpone: async (task, delaySeconds) => {
      await sqs().send(
        new SendMessageCommand({
          QueueUrl: requiredEnv('FAN_OUT_QUEUE_URL'),
          MessageBody: JSON.stringify(task),
          DelaySeconds: delaySeconds,
        }),
      );
    },
  });
  return wired(event, context);
}).use(injectLambdaContext(defaultLogger, { resetKeys: true }));
