import { mkdirSync } from 'node:fs';
import { type ListenOptions, Server } from 'node:net';
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
import { PRIVATE_DIR_MODE } from './data-dir.ts';
import { freePort } from './free-port.ts';
import { SPY_BUFFER } from './s3-local.ts';

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

/**
 * Starts the fauxqs emulator on 127.0.0.1 only: SQS, with its state (queues and messages) in SQLite
 * under `dataDir/sqs`, and S3 on the same port, its objects as files under `dataDir/s3` (both 0700).
 * Its message spy is on: the twin's bucket notifications read S3 uploads from it (s3-local.ts).
 */
export async function startSqsLocal(options: { dataDir: string; port: number }): Promise<FauxqsServer> {
  const dataDir = path.join(options.dataDir, 'sqs');
  const s3StorageDir = path.join(options.dataDir, 's3');
  for (const dir of [dataDir, s3StorageDir]) mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const port = options.port || (await freePort());
  // `host` only names the host in the queue URLs fauxqs builds; it is not where it listens.
  return onLoopback(port, () =>
    startFauxqs({
      port,
      host: 'localhost',
      logger: false,
      dataDir,
      s3StorageDir,
      messageSpies: { bufferSize: SPY_BUFFER },
    }),
  );
}

/**
 * fauxqs 2.4.1 (the latest) listens on 0.0.0.0 whatever its options say (dist/app.js:
 * `app.listen({ port, host: "0.0.0.0" })`), so the SQS emulator would take requests from the whole
 * network. While `start` runs, the one listen call for `port` on 0.0.0.0 is pointed at 127.0.0.1;
 * every other listen passes through as it is.
 */
async function onLoopback<T>(port: number, start: () => Promise<T>): Promise<T> {
  const original = Server.prototype.listen;
  Server.prototype.listen = function listen(this: Server, ...args: unknown[]) {
    const [options] = args;
    if (options && typeof options === 'object') {
      const listen = options as ListenOptions;
      if (listen.host === '0.0.0.0' && listen.port === port) listen.host = '127.0.0.1';
    }
    return (original as (...a: unknown[]) => Server).apply(this, args);
  } as typeof original;
  try {
    return await start();
  } finally {
    Server.prototype.listen = original;
  }
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

/** Creates one queue (or finds it) on the emulator. */
export async function ensureQueue(
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
