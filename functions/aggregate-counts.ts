import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { log, logger } from './commons/powertools.ts';
import { broadcasts, contactStore, counters } from './commons/wiring.ts';
import { type AggregateSummary, createAggregator } from './use-cases/aggregate-counts.ts';

let aggregate: ReturnType<typeof createAggregator> | undefined;

/**
 * The main table's stream (recipient items only, by the event source's filter): counts, per-minute
 * activity and broadcast outcomes (use-cases/aggregate-counts.ts). A throw makes Lambda retry the
 * batch (bisected); the counters' watermarks make a retried batch count once.
 */
export const handler = middy(async (event: DynamoDBStreamEvent): Promise<AggregateSummary> => {
  aggregate ??= createAggregator({
    broadcasts: broadcasts(),
    counters: counters(),
    contacts: contactStore(),
    logger: log,
  });
  const summary = await aggregate(event.Records ?? []);
  logger.debug('stream batch counted', { records: summary.records, broadcasts: summary.broadcasts });
  return summary;
}).use(injectLambdaContext(logger, { resetKeys: true }));
