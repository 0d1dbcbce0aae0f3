import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DynamoSenderSchedule } from './adapters/dynamo-sender-schedule.ts';
import { intEnv, optionalEnv, publicBaseUrl, requiredEnv, retryBackoffSeconds } from './commons/config.ts';
import { publishMetrics, serviceMetrics } from './commons/emf-metrics.ts';
import { log, logger } from './commons/powertools.ts';
import { traceInvocation } from './commons/tracing.ts';
import { twilioMessenger } from './commons/twilio-wiring.ts';
import {
  broadcasts,
  contactStore,
  dynamoDocumentClient,
  followUpLedger,
  messageIndex,
  sendLedger,
  sendTaskQueue,
} from './commons/wiring.ts';
import { DEFAULT_SENDER_MPS, SENDS_PER_INVOCATION, SenderPacer } from './core/pacing.ts';
import { createSendConsumer } from './use-cases/send-task.ts';

let consume: ReturnType<typeof createSendConsumer> | undefined;

/** The send queue's consumer (use-cases/send-task.ts): each recipient its WhatsApp message, once. */
export const handler = middy(async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  consume ??= createSendConsumer({
    broadcasts: broadcasts(),
    ledger: sendLedger(),
    followUps: followUpLedger(),
    contacts: contactStore(),
    messageIndex: messageIndex(),
    messenger: (broadcast) => twilioMessenger(broadcast),
    requeue: (task, delaySeconds) => sendTaskQueue().enqueue([task], { delaySeconds }),
    // Callbacks go to the status callback function's own URL (no API Gateway request per callback),
    // or to the API's webhook route when no function URL is configured.
    statusCallbackBase: () => optionalEnv('STATUS_CALLBACK_URL') ?? publicBaseUrl(),
    pacer: new SenderPacer(new DynamoSenderSchedule(dynamoDocumentClient(), requiredEnv('TABLE_NAME')), {
      configuredMps: intEnv('SENDER_MPS', DEFAULT_SENDER_MPS),
    }),
    backoffSeconds: retryBackoffSeconds(),
    concurrency: intEnv('SEND_CONCURRENCY', SENDS_PER_INVOCATION),
    logger: log,
    metrics: serviceMetrics,
  });
  return consume(event, context);
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(traceInvocation())
  .use(publishMetrics());
