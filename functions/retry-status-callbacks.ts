import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { retryBackoffSeconds } from './commons/config.ts';
import { publishMetrics, serviceMetrics } from './commons/emf-metrics.ts';
import { log, logger } from './commons/powertools.ts';
import { contactStore, followUpLedger, messageIndex, sendLedger } from './commons/wiring.ts';
import type { StoredCallback } from './twilio-status-webhook.ts';
import { applyStatusCallback, type StatusCallbackDeps } from './use-cases/status-callback.ts';

/**
 * The callback retry queue's consumer: status callbacks whose ledger write failed when they arrived
 * (their signature was checked then) are applied again. Applying is idempotent; a record that keeps
 * failing comes back with SQS's visibility timeout and ends in the dead-letter queue, from where
 * `npm run cli -- dlq redrive` puts it back.
 */
let wired: StatusCallbackDeps | undefined;

const depsOnce = (): StatusCallbackDeps => {
  wired ??= {
    ledger: sendLedger(),
    followUps: followUpLedger(),
    messageIndex: messageIndex(),
    contacts: contactStore(),
    backoffSeconds: retryBackoffSeconds(),
    logger: log,
    metrics: serviceMetrics,
  };
  return wired;
};

async function applyOne(record: SQSRecord): Promise<void> {
  const deps = depsOnce();
  let stored: StoredCallback;
  try {
    stored = JSON.parse(record.body) as StoredCallback;
  } catch {
    logger.error('stored status callback is not JSON; dropped', { messageId: record.messageId });
    return;
  }
  const outcome = await applyStatusCallback(deps, {
    params: stored.params ?? {},
    query: new URLSearchParams(stored.query ?? ''),
  });
  logger.info('stored status callback applied', { messageSid: stored.params?.MessageSid, outcome });
}

export const handler = middy(
  (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(
      event,
      applyOne,
      new BatchProcessor(EventType.SQS),
      context ? { context } : undefined,
    ),
)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
