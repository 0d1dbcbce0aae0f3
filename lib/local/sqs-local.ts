import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import type { QueueSpec } from '../topology.ts';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-local.ts';

export interface LocalQueue {
  readonly name: string;
  /** Addressed at the emulator's own origin, so any SQS client pointed at it accepts the URL. */
  readonly url: string;
  readonly arn: string;
}

export interface LocalQueues {
  readonly server: FauxqsServer;
  readonly endpoint: string;
  readonly queues: Record<string, { main: LocalQueue; deadLetter: LocalQueue }>;
}

const DAY_SECONDS = 86_400;

/** Starts the fauxqs SQS emulator with its state (queues and messages) under `dataDir`. */
export async function startSqsLocal(options: { dataDir: string; port: number }): Promise<FauxqsServer> {
  const dataDir = path.join(options.dataDir, 'sqs');
  mkdirSync(dataDir, { recursive: true });
  return startFauxqs({ port: options.port, host: 'localhost', logger: false, dataDir });
}

/**
 * Creates each queue and its dead-letter queue if missing, and brings existing ones in
 * line with the topology (visibility, retention, redrive), as a CloudFormation update would.
 */
export async function ensureQueues(
  server: FauxqsServer,
  queues: Readonly<Record<string, QueueSpec>>,
  nameOf: (id: string) => string,
): Promise<LocalQueues['queues']> {
  const sqs = localSqsClient(server.address);
  const result: LocalQueues['queues'] = {};
  try {
    for (const [id, spec] of Object.entries(queues)) {
      const deadLetter = await ensureQueue(sqs, server.address, `${nameOf(id)}-dlq`, {
        MessageRetentionPeriod: String(spec.deadLetter.retentionDays * DAY_SECONDS),
      });
      const main = await ensureQueue(sqs, server.address, nameOf(id), {
        VisibilityTimeout: String(spec.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(spec.retentionDays * DAY_SECONDS),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: deadLetter.arn,
          maxReceiveCount: spec.deadLetter.maxReceiveCount,
        }),
      });
      result[id] = { main, deadLetter };
    }
  } finally {
    sqs.destroy();
  }
  return result;
}

export function localSqsClient(endpoint: string): SQSClient {
  return new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

async function ensureQueue(
  sqs: SQSClient,
  endpoint: string,
  name: string,
  attributes: Record<string, string>,
): Promise<LocalQueue> {
  const local: LocalQueue = {
    name,
    url: `${endpoint}/${LOCAL_ACCOUNT}/${name}`,
    arn: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${name}`,
  };
  try {
    await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: local.url, Attributes: attributes }));
  } catch (error) {
    if (!(error instanceof QueueDoesNotExist)) throw error;
    await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  }
  return local;
}
