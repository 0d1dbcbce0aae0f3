import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { SqsTaskQueue } from './adapters/sqs-queues.ts';
import { intEnv, requiredEnv } from './commons/config.ts';
import { logger } from './commons/powertools.ts';
import { taskOf } from './commons/queue-tasks.ts';
import { providerMessagesOf } from './commons/tenant-twilio-wiring.ts';
import { contacts, erasures, sqs } from './commons/wiring.ts';
import { type ErasureTask, erasePerson } from './use-cases/erase-person.ts';

/** Time left for the last broadcast and the hand-over when the invocation stops. */
const DEADLINE_MARGIN_MS = 30_000;
/**
 * How long after the broadcasts' redaction the history is deleted once more (ERASURE_SETTLE_SECONDS,
 * default 60): the stream aggregator files a history entry seconds after a callback (its batching
 * window is 2 s), so one in flight during the erasure lands before the last pass.
 */
const DEFAULT_SETTLE_SECONDS = 60;

const taskSchema = z.object({
  tenantId: z.string().min(1),
  erasureId: z.string().min(1),
  phone: z.string().min(2),
  after: z.string().optional(),
  final: z.boolean().optional(),
});

/** The erasures queue's consumer: runs one erasure (use-cases/erase-person.ts). Never logs the number. */
async function run(record: SQSRecord, deadline: number): Promise<void> {
  const parsed = taskOf(record, taskSchema, 'erasure');
  if (!parsed) return;
  const task = parsed as ErasureTask;
  const queue = new SqsTaskQueue<ErasureTask>(sqs(), requiredEnv('ERASURES_QUEUE_URL'));
  const outcome = await erasePerson(
    {
      erasures: erasures(),
      contacts: contacts(),
      providerMessages: providerMessagesOf,
      continueWith: (next, delaySeconds) =>
        queue.enqueue([next], delaySeconds !== undefined ? { delaySeconds } : {}),
      settleSeconds: intEnv('ERASURE_SETTLE_SECONDS', DEFAULT_SETTLE_SECONDS),
    },
    task,
    deadline,
  );
  // The request writes the record before the task: a missing one is a task whose request failed.
  logger.info('erasure step', {
    tenantId: task.tenantId,
    erasureId: task.erasureId,
    outcome: outcome.status,
  });
  if (outcome.providerError)
    logger.warn('erasure could not delete messages at Twilio; tried again in 15 minutes', {
      tenantId: task.tenantId,
      erasureId: task.erasureId,
      error: outcome.providerError,
    });
  // Message SIDs are not the number: the operator can delete these by hand once Twilio allows it.
  if (outcome.providerLeft)
    logger.warn('erasure completed with messages Twilio would not delete yet (20009)', {
      tenantId: task.tenantId,
      erasureId: task.erasureId,
      messageSids: outcome.providerLeft,
    });
}

export const handler = middy((event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  const deadline = Date.now() + (context?.getRemainingTimeInMillis() ?? 120_000) - DEADLINE_MARGIN_MS;
  return processPartialResponse(
    event,
    (record: SQSRecord) => run(record, deadline),
    new BatchProcessor(EventType.SQS),
    context ? { context } : undefined,
  );
}).use(injectLambdaContext(logger, { resetKeys: true }));
