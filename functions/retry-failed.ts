import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { log, logger } from './commons/powertools.ts';
import { broadcasts, sendLedger, sendTaskQueue } from './commons/wiring.ts';
import { createRetryJob, type RetryRunSummary } from './use-cases/retry-due.ts';

let run: ReturnType<typeof createRetryJob> | undefined;

/** The retry job's schedule target (use-cases/retry-due.ts). */
export const handler = middy(async (_event: unknown, context?: Context): Promise<RetryRunSummary> => {
  run ??= createRetryJob({
    broadcasts: broadcasts(),
    ledger: sendLedger(),
    sendQueue: sendTaskQueue(),
    logger: log,
  });
  return run(() => context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY);
}).use(injectLambdaContext(logger, { resetKeys: true }));
