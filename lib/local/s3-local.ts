import { existsSync, readFileSync } from 'node:fs';
import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutBucketLifecycleConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FauxqsServer, S3SpyEvent, SpyMessage } from 'fauxqs';
import { encodeS3EventKey } from '../../functions/core/imports.ts';
import type { BucketSpec } from '../topology.ts';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-local.ts';
import { replacePrivateFile } from './data-dir.ts';

/**
 * S3 on the twin: fauxqs (the twin's SQS emulator) serves the S3 API too, on the same port, with
 * its objects as files under DATA_DIR/s3. What fauxqs leaves out, emulated here:
 * - bucket event notifications (fauxqs stores no notification configuration): every object created
 *   under a notified prefix (PutObject, CopyObject, a presigned PUT, CompleteMultipartUpload: what
 *   fauxqs' message spy reports as `uploaded`) is announced on the topology's queue with the event
 *   JSON S3 sends (S3 user guide, "Event message structure", version 2.1, as S3 sends to SQS). Each
 *   announced object is recorded in DATA_DIR/s3-notified.json, and at start the objects created
 *   while the twin was not running to see them (a stop between a write and its event) are announced
 *   then: at least once, as S3 does;
 * - lifecycle expiry (fauxqs stores the rules but does not apply them): applied at start and every
 *   hour, where AWS applies them about once a day.
 */

export interface LocalBucket {
  readonly id: string;
  readonly name: string;
  readonly spec: BucketSpec;
}

/** An S3 client for the emulator (path-style: it answers on 127.0.0.1, not on bucket host names). */
export function localS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Creates each bucket if missing and stores its lifecycle rules, as a CloudFormation deploy would. */
export async function ensureBuckets(
  server: FauxqsServer,
  s3: S3Client,
  buckets: Readonly<Record<string, BucketSpec>>,
  nameOf: (id: string) => string,
): Promise<LocalBucket[]> {
  const result: LocalBucket[] = [];
  for (const [id, spec] of Object.entries(buckets)) {
    const name = nameOf(id);
    server.createBucket(name);
    if (spec.expirations.length > 0)
      await s3.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: name,
          LifecycleConfiguration: {
            Rules: spec.expirations.map((e) => ({
              ID: `expire-${e.prefix.replace(/\W+/g, '')}`,
              Status: 'Enabled',
              Filter: { Prefix: e.prefix },
              Expiration: { Days: e.days },
            })),
          },
        }),
      );
    result.push({ id, name, spec });
  }
  return result;
}

/** Deletes the objects each bucket's expiry rules say are due (objects older than their rule's days). */
export async function applyExpirations(
  s3: S3Client,
  buckets: readonly LocalBucket[],
  now = new Date(),
): Promise<number> {
  let deleted = 0;
  for (const bucket of buckets)
    for (const rule of bucket.spec.expirations) {
      const cutoff = now.getTime() - rule.days * 86_400_000;
      const due: string[] = [];
      for await (const object of listObjects(s3, bucket.name, rule.prefix))
        if ((object.LastModified?.getTime() ?? now.getTime()) < cutoff && object.Key) due.push(object.Key);
      for (let i = 0; i < due.length; i += 1000) {
        await s3.send(
          new DeleteObjectsCommand({
            Bucket: bucket.name,
            Delete: { Objects: due.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
          }),
        );
      }
      deleted += due.length;
    }
  return deleted;
}

/** Events fauxqs' spy keeps (all services): ample for the time an upload waits to be queued here. */
export const SPY_BUFFER = 1000;

export interface BucketNotifier {
  /** `bucketId prefix -> queue`, as wired (the topology's ids). */
  readonly wired: readonly string[];
  stop(): Promise<void>;
}

/**
 * Announces created objects on their notification's queue (see the module comment). `queueUrl`
 * finds a topology queue's local URL.
 */
export async function startBucketNotifier(options: {
  server: FauxqsServer;
  s3: S3Client;
  sqs: SQSClient;
  buckets: readonly LocalBucket[];
  queueUrl: (queueId: string) => string;
  stateFile: string;
  log: (entry: Record<string, unknown>) => void;
}): Promise<BucketNotifier> {
  const { server, s3, sqs, buckets, log } = options;
  const targets = buckets.flatMap((b) =>
    b.spec.notifications.map((n) => ({
      id: b.id,
      bucket: b.name,
      prefix: n.prefix,
      queueUrl: options.queueUrl(n.queue),
      queue: n.queue,
    })),
  );
  const notified = readState(options.stateFile);
  let sequence = Date.now();
  let stopped = false;

  const announce = async (bucket: string, key: string): Promise<void> => {
    const target = targets.find((t) => t.bucket === bucket && key.startsWith(t.prefix));
    if (!target) return;
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const eTag = String(head.ETag ?? '').replace(/"/g, '');
    if (notified.get(`${bucket}/${key}`) === eTag) return;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: target.queueUrl,
        MessageBody: JSON.stringify(s3Event(bucket, key, Number(head.ContentLength ?? 0), eTag, sequence++)),
      }),
    );
    notified.set(`${bucket}/${key}`, eTag);
    writeState(options.stateFile, notified);
  };

  // Objects written while nobody was watching (the twin stopped between a write and its event).
  const existing = new Set<string>();
  for (const t of targets)
    for await (const object of listObjects(s3, t.bucket, t.prefix))
      if (object.Key) {
        existing.add(`${t.bucket}/${object.Key}`);
        await announce(t.bucket, object.Key);
      }
  for (const key of [...notified.keys()]) if (!existing.has(key)) notified.delete(key);
  writeState(options.stateFile, notified);

  // Then every new one, as fauxqs' spy reports it. The spy keeps the last SPY_BUFFER events of all
  // three services; the waiter below only queues what it is given and is registered again in the
  // same tick (before any other request is handled), so no upload is evicted unseen. Each event is
  // taken once (a WeakSet of the spy's own records).
  const seen = new WeakSet<SpyMessage>();
  const isUpload = (m: SpyMessage): m is S3SpyEvent =>
    m.service === 's3' &&
    m.status === 'uploaded' &&
    !seen.has(m) &&
    targets.some((t) => t.bucket === m.bucket && m.key.startsWith(t.prefix));
  const pending: S3SpyEvent[] = [];
  let draining: Promise<void> | undefined;
  const drain = async () => {
    for (let event = pending.shift(); event; event = pending.shift())
      await announce(event.bucket, event.key).catch((error: unknown) =>
        log({
          level: 'ERROR',
          source: 's3-notifications',
          message: 'could not announce a created object; it will be announced at the next start',
          error: error instanceof Error ? error.message : String(error),
        }),
      );
    draining = undefined;
  };
  const loop = (async () => {
    while (!stopped) {
      let event: S3SpyEvent;
      try {
        event = (await server.spy.waitForMessage(isUpload)) as S3SpyEvent;
      } catch {
        return; // the spy was cleared: the twin is stopping
      }
      seen.add(event);
      pending.push(event);
      draining ??= drain();
    }
  })();
  return {
    wired: targets.map((t) => `${t.id} ${t.prefix} -> ${t.queue}`),
    async stop() {
      stopped = true;
      server.spy.clear();
      await loop;
      await draining;
    },
  };
}

/**
 * An S3 event notification as S3 sends it to SQS: version 2.1, one record, the key URL-encoded
 * (S3 user guide, "Event message structure").
 */
export function s3Event(bucket: string, key: string, size: number, eTag: string, sequence: number) {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: LOCAL_REGION,
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: `AWS:${LOCAL_ACCOUNT}` },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: {
          'x-amz-request-id': sequence.toString(16).toUpperCase(),
          'x-amz-id-2': 'local-twin',
        },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'local-twin',
          bucket: {
            name: bucket,
            ownerIdentity: { principalId: LOCAL_ACCOUNT },
            arn: `arn:aws:s3:::${bucket}`,
          },
          object: {
            key: encodeS3EventKey(key),
            size,
            eTag,
            sequencer: sequence.toString(16).toUpperCase().padStart(16, '0'),
          },
        },
      },
    ],
  };
}

async function* listObjects(s3: S3Client, bucket: string, prefix: string) {
  let token: string | undefined;
  do {
    const page: ListObjectsV2CommandOutput = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    yield* page.Contents ?? [];
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

function readState(file: string): Map<string, string> {
  if (!existsSync(file)) return new Map();
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>));
  } catch {
    return new Map(); // unreadable: everything existing is announced again (at least once)
  }
}

function writeState(file: string, state: ReadonlyMap<string, string>): void {
  replacePrivateFile(file, JSON.stringify(Object.fromEntries(state)));
}
