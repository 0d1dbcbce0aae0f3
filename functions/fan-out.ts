import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { log, logger } from './commons/powertools.ts';
import { taskOf } from './commons/queue-tasks.ts';
import { broadcasts, sendHistory, sendLedger, sendTaskQueue } from './commons/wiring.ts';
import { createFanOut } from './use-cases/fan-out-chunk.ts';

const fanOutTaskSchema = z.object({
  tenantId: z.string().min(1),
  broadcastId: z.string().min(1),
  chunk: z.number().int().nonnegative(),
  release: z.boolean().optional(),
});

let fanOut: ReturnType<typeof createFanOut> | undefined;

async function expand(record: SQSRecord): Promise<void> {
  const task = taskOf(record, fanOutTaskSchema, 'fan-out');
  if (!task) return;
  fanOut ??= createFanOut({
    broadcasts: broadcasts(),
    ledger: sendLedger(),
    sendQueue: sendTaskQueue(),
    history: sendHistory(),
    logger: log,
  });
  await fanOut(task);
}

/** The fan-out queue's consumer: one stored chunk per record (use-cases/fan-out-chunk.ts). */
export const handler = middy(
  (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(
      event,
      expand,
      new BatchProcessor(EventType.SQS),
      context ? { context } : undefined,
    ),
).use(injectLambdaContext(logger, { resetKeys: true }));
