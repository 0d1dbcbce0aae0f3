import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { SqsTaskQueue } from './adapters/sqs-queues.ts';
import { intEnv, requiredEnv, retryBackoffSeconds } from './commons/config.ts';
import { publishMetrics, serviceMetrics } from './commons/emf-metrics.ts';
import { log, logger } from './commons/powertools.ts';
import { twilioMessenger } from './commons/twilio-wiring.ts';
import {
  broadcasts,
  contactStore,
  counters,
  followUpLedger,
  sendLedger,
  sendTaskQueue,
  sqs,
} from './commons/wiring.ts';
import type { FanOutTask } from './core/ports.ts';
import { createSweeper, type SweepSummary } from './use-cases/sweep.ts';

let sweep: ReturnType<typeof createSweeper> | undefined;

/** The sweeper's schedule target (use-cases/sweep.ts). */
export const handler = middy(async (_event: unknown, context?: Context): Promise<SweepSummary> => {
  sweep ??= createSweeper({
    broadcasts: broadcasts(),
    counters: counters(),
    ledger: sendLedger(),
    followUps: followUpLedger(),
    contacts: contactStore(),
    messenger: (broadcast) => twilioMessenger(broadcast),
    sendQueue: sendTaskQueue(),
    fanOutQueue: new SqsTaskQueue<FanOutTask>(sqs(), requiredEnv('FAN_OUT_QUEUE_URL')),
    backoffSeconds: retryBackoffSeconds(),
    staleSeconds: intEnv('SWEEP_STALE_SECONDS', 900),
    logger: log,
    metrics: serviceMetrics,
  });
  return sweep(() => context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY);
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
