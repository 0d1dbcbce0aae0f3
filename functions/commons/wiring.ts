import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoBroadcasts } from '../adapters/dynamo-broadcasts.ts';
import { DynamoCampaigns } from '../adapters/dynamo-campaigns.ts';
import { DynamoContactStore } from '../adapters/dynamo-contact-store.ts';
import { DynamoContacts } from '../adapters/dynamo-contacts.ts';
import { DynamoCounters } from '../adapters/dynamo-counters.ts';
import { DynamoErasures } from '../adapters/dynamo-erasures.ts';
import { DynamoFollowUpLedger } from '../adapters/dynamo-follow-up-ledger.ts';
import { DynamoGroups } from '../adapters/dynamo-groups.ts';
import { DynamoImports } from '../adapters/dynamo-imports.ts';
import { retryTransactionConflicts } from '../adapters/dynamo-items.ts';
import { DynamoMessageIndex } from '../adapters/dynamo-message-index.ts';
import { DynamoSendHistory } from '../adapters/dynamo-send-history.ts';
import { DynamoSendLedger } from '../adapters/dynamo-send-ledger.ts';
import { DynamoTenantSettings } from '../adapters/dynamo-tenant-settings.ts';
import { EventBridgeSchedules } from '../adapters/eventbridge-schedules.ts';
import { S3Files } from '../adapters/s3-files.ts';
import { SqsTaskQueue } from '../adapters/sqs-queues.ts';
import type { Campaigns } from '../core/campaigns.ts';
import type { ImportContinuation, ImportQueue } from '../core/imports.ts';
import type {
  BroadcastCounters,
  Broadcasts,
  ContactStore,
  FollowUpLedger,
  MessageIndex,
  SendLedger,
  SendTask,
  TaskQueue,
} from '../core/ports.ts';
import {
  SCHEDULE_MAX_EVENT_AGE_SECONDS,
  SCHEDULE_RETRY_ATTEMPTS,
  type Schedules,
} from '../core/schedules.ts';
import type { TenantSettingsStore } from '../core/tenant-settings.ts';
import { requiredEnv, retention } from './config.ts';
import { announced } from './sdk-clients.ts';

/**
 * SDK clients and adapters, created once per process (cold start) and shared by the handlers.
 * Endpoints come from the SDK's own AWS_ENDPOINT_URL_* variables (the local twin sets them).
 * The Twilio client lives in twilio-wiring.ts, so functions that never call Twilio do not bundle it.
 */
let documentClient: DynamoDBDocumentClient | undefined;
let sqsClient: SQSClient | undefined;
const adapters = new Map<string, unknown>();
const once = <T>(name: string, make: () => T): T => {
  if (!adapters.has(name)) adapters.set(name, make());
  return adapters.get(name) as T;
};
const table = () => requiredEnv('TABLE_NAME');

export function dynamoDocumentClient(): DynamoDBDocumentClient {
  if (!documentClient) {
    const client = announced(new DynamoDBClient({}), 'dynamodb');
    retryTransactionConflicts(client);
    documentClient = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }
  return documentClient;
}

export function sqs(): SQSClient {
  sqsClient ??= announced(new SQSClient({}), 'sqs');
  return sqsClient;
}

/** The send queue, one message group per broadcast (fair between broadcasts; see sqs-queues.ts). */
export function sendTaskQueue(): TaskQueue<SendTask> {
  return once(
    'sendQueue',
    () =>
      new SqsTaskQueue<SendTask>(sqs(), requiredEnv('SEND_QUEUE_URL'), {
        groupOf: (task: SendTask) => task.broadcastId,
      }),
  );
}

export const broadcasts = (): Broadcasts =>
  once('broadcasts', () => new DynamoBroadcasts(dynamoDocumentClient(), table()));
export const sendLedger = (): DynamoSendLedger =>
  once(
    'ledger',
    () => new DynamoSendLedger(dynamoDocumentClient(), table(), { retentionDays: retention().recipientDays }),
  );
export const followUpLedger = (): FollowUpLedger =>
  once('followUps', () => new DynamoFollowUpLedger(sendLedger()));
export const counters = (): BroadcastCounters =>
  once('counters', () => new DynamoCounters(dynamoDocumentClient(), table()));
export const messageIndex = (): MessageIndex =>
  once(
    'messageIndex',
    () =>
      new DynamoMessageIndex(dynamoDocumentClient(), table(), { retentionDays: retention().recipientDays }),
  );
/** Suppression lists and contact history, on the same main table. */
export const contactStore = (): ContactStore =>
  once(
    'contacts',
    () =>
      new DynamoContactStore(dynamoDocumentClient(), table(), {
        historyRetentionDays: retention().historyDays,
      }),
  );
export const tenantSettings = (): TenantSettingsStore =>
  once('tenantSettings', () => new DynamoTenantSettings(dynamoDocumentClient(), table()));
/** The tenants' send history per person and messaging-limit books (core/send-timing.ts). */
export const sendHistory = (): DynamoSendHistory =>
  once('sendHistory', () => new DynamoSendHistory(dynamoDocumentClient(), table()));

/** Erasures (POST /v1/erasures) and the writes that erase a person (adapters/dynamo-erasures.ts). */
export const erasures = (): DynamoErasures =>
  once(
    'erasures',
    () =>
      new DynamoErasures(dynamoDocumentClient(), table(), {
        recipientRetentionDays: retention().recipientDays,
      }),
  );

/** The tenants' address books: contacts (core/audience.ts Contacts) and their groups (Groups). */
export const contacts = (): DynamoContacts =>
  once('addressBook', () => new DynamoContacts(dynamoDocumentClient(), table()));
export const groups = (): DynamoGroups =>
  once('groups', () => new DynamoGroups(dynamoDocumentClient(), table(), contacts()));

/**
 * S3 for uploads and import files. Path-style when an endpoint is set (the local twin's S3 emulator
 * answers on 127.0.0.1). Checksums only when an operation requires them: with the SDK's default,
 * every presigned PUT URL carries the CRC32 of an empty body and S3 refuses the real file (s3-files.ts).
 */
let s3Client: S3Client | undefined;
export function s3(): S3Client {
  s3Client ??= announced(
    new S3Client({
      forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    's3',
  );
  return s3Client;
}

/** Contact imports and uploads (their records), their files in the uploads bucket, and the imports queue. */
export const importStore = (): DynamoImports =>
  once('imports', () => new DynamoImports(dynamoDocumentClient(), table()));
export const uploadFiles = (): S3Files =>
  once('uploadFiles', () => new S3Files(s3(), requiredEnv('UPLOADS_BUCKET')));
export const importQueue = (): ImportQueue =>
  once('importQueue', () => {
    const queue = new SqsTaskQueue<ImportContinuation>(sqs(), requiredEnv('IMPORTS_QUEUE_URL'));
    return {
      continueImport: (tenantId: string, importId: string) =>
        queue.enqueue([{ kind: 'import.continue', tenantId, importId }]),
    };
  });

export type { SendLedger };

/** Campaigns and their runs, on the main table. */
export const campaigns = (): Campaigns =>
  once('campaigns', () => new DynamoCampaigns(dynamoDocumentClient(), table()));

/**
 * The stack's schedule group on EventBridge Scheduler (the twin's emulator locally, through
 * AWS_ENDPOINT_URL_SCHEDULER), for functions whose topology `uses.scheduleGroups`.
 */
export const schedules = (): Schedules =>
  once(
    'schedules',
    () =>
      new EventBridgeSchedules(announced(new SchedulerClient({}), 'scheduler'), {
        groupName: requiredEnv('SCHEDULE_GROUP_NAME'),
        targetArn: requiredEnv('SCHEDULE_TARGET_ARN'),
        roleArn: requiredEnv('SCHEDULER_ROLE_ARN'),
        deadLetterArn: requiredEnv('SCHEDULE_DLQ_ARN'),
        maximumRetryAttempts: SCHEDULE_RETRY_ATTEMPTS,
        maximumEventAgeSeconds: SCHEDULE_MAX_EVENT_AGE_SECONDS,
      }),
  );
