import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoBroadcastStore } from '../adapters/dynamo-broadcast-store.ts';
import { DynamoContactStore } from '../adapters/dynamo-contact-store.ts';
import { SqsTaskQueue } from '../adapters/sqs-queues.ts';
import { TwilioMessenger } from '../adapters/twilio-messenger.ts';
import type { BroadcastStore, ContactStore, Messenger, SendTask, TaskQueue } from '../core/ports.ts';
import { intEnv, requiredEnv, twilioSettings } from './config.ts';

/**
 * SDK clients and adapters, created once per process (cold start) and shared by the handlers.
 * Endpoints come from the SDK's own AWS_ENDPOINT_URL_* variables (the local twin sets them).
 */
let documentClient: DynamoDBDocumentClient | undefined;
let sqsClient: SQSClient | undefined;
let store: BroadcastStore | undefined;
let contacts: ContactStore | undefined;

export function dynamoDocumentClient(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return documentClient;
}

export function sqs(): SQSClient {
  sqsClient ??= new SQSClient({});
  return sqsClient;
}

/** The send queue, one message group per broadcast (fair between broadcasts; see sqs-queues.ts). */
export function sendTaskQueue(): TaskQueue<SendTask> {
  return new SqsTaskQueue<SendTask>(sqs(), requiredEnv('SEND_QUEUE_URL'), {
    groupOf: (task: SendTask) => task.broadcastId,
  });
}

export function broadcastStore(): BroadcastStore {
  store ??= new DynamoBroadcastStore(dynamoDocumentClient(), requiredEnv('TABLE_NAME'));
  return store;
}

/** Suppression lists and contact history, on the same main table. */
export function contactStore(): ContactStore {
  contacts ??= new DynamoContactStore(dynamoDocumentClient(), requiredEnv('TABLE_NAME'));
  return contacts;
}

/**
 * Twilio's REST timeout for one send (TWILIO_TIMEOUT_MS, default 10 s): short enough that a batch of 50
 * at 10 in flight fits the Lambda. A send past it is an ambiguous outcome, reconciled, never resent blindly.
 */
const DEFAULT_SEND_TIMEOUT_MS = 10_000;

let messenger: Promise<Messenger> | undefined;

/** The messenger, built once the token is known (Secrets Manager on AWS); rebuilt after a failure. */
export function twilioMessenger(): Promise<Messenger> {
  messenger ??= twilioSettings()
    .then(
      (s) => new TwilioMessenger({ ...s, timeoutMs: intEnv('TWILIO_TIMEOUT_MS', DEFAULT_SEND_TIMEOUT_MS) }),
    )
    .catch((error: unknown) => {
      messenger = undefined;
      throw error;
    });
  return messenger;
}
