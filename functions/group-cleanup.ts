import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { SqsTaskQueue } from './adapters/sqs-queues.ts';
import { requiredEnv } from './commons/config.ts';
import { logger } from './commons/powertools.ts';
import { taskOf } from './commons/queue-tasks.ts';
import { groups, sqs } from './commons/wiring.ts';
import type { GroupCleanupTask } from './groups.ts';

/** Time left for the last page and the hand-over when the invocation stops cleaning. */
const DEADLINE_MARGIN_MS = 15_000;

const taskSchema = z.object({ tenantId: z.string().min(1), groupId: z.string().min(1) });

/**
 * The groupCleanup queue's consumer: removes the memberships of a group being deleted (DELETE
 * /v1/groups/{id} marked it and removed what it could in its request), page by page, until none is
 * left and the group's item goes too (dynamo-groups.ts cleanup). Near the invocation's deadline it
 * hands the rest to a new message; every step is idempotent, so a redelivery (a crash, a timeout)
 * only repeats work, never undoes or double-counts any.
 */
async function cleanUp(record: SQSRecord, deadline: number): Promise<void> {
  const task = taskOf(record, taskSchema, 'group cleanup');
  if (!task) return;
  const { tenantId, groupId } = task;
  const { done, removed } = await groups().cleanup(tenantId, groupId, { deadline });
  logger.info('group cleanup', { tenantId, groupId, removed, done });
  if (!done)
    await new SqsTaskQueue<GroupCleanupTask>(sqs(), requiredEnv('GROUP_CLEANUP_QUEUE_URL')).enqueue([
      { tenantId, groupId },
    ]);
}

export const handler = middy((event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  const deadline = Date.now() + (context?.getRemainingTimeInMillis() ?? 60_000) - DEADLINE_MARGIN_MS;
  return processPartialResponse(
    event,
    (record: SQSRecord) => cleanUp(record, deadline),
    new BatchProcessor(EventType.SQS),
    context ? { context } : undefined,
  );
}).use(injectLambdaContext(logger, { resetKeys: true }));
