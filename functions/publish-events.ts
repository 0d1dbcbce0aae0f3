import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import middy from '@middy/core';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { EventBridgePublisher } from './adapters/eventbridge-events.ts';
import { requiredEnv } from './commons/config.ts';
import { log, logger } from './commons/powertools.ts';
import { counters } from './commons/wiring.ts';
import { createEventPublication, type PublishSummary } from './use-cases/publish-events.ts';

let publish: ReturnType<typeof createEventPublication> | undefined;

/**
 * The main table's stream (broadcasts, imports and suppressions only, by the event source's filters):
 * lifecycle events on the bus named by EVENT_BUS_NAME (use-cases/publish-events.ts). The answer's
 * `batchItemFailures` (ReportBatchItemFailures) makes Lambda deliver the records again from the first
 * one whose events were refused. Its own EventBridge client, so no other function bundles it; the
 * twin's local bus answers it through AWS_ENDPOINT_URL_EVENTBRIDGE.
 */
export const handler = middy(async (event: DynamoDBStreamEvent): Promise<PublishSummary> => {
  publish ??= createEventPublication({
    publisher: new EventBridgePublisher(new EventBridgeClient({}), {
      busName: requiredEnv('EVENT_BUS_NAME'),
      onEntryFailure: (failure) => logger.warn('event refused by the bus', failure),
    }),
    counters: counters(),
    logger: log,
  });
  const summary = await publish(event.Records ?? []);
  logger.info('lifecycle events published', {
    records: summary.records,
    published: summary.published,
    byType: summary.byType,
    failed: summary.batchItemFailures.length > 0,
  });
  return summary;
}).use(injectLambdaContext(logger, { resetKeys: true }));
