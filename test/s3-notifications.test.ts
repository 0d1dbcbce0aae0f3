import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImportMessage } from '../functions/core/imports.ts';
import {
  applyExpirations,
  type BucketNotifier,
  ensureBuckets,
  type LocalBucket,
  localS3Client,
  startBucketNotifier,
} from '../lib/local/s3-local.ts';
import { ensureQueues, localSqsClient, startSqsLocal } from '../lib/local/sqs-local.ts';
import type { BucketSpec, QueueSpec } from '../lib/topology.ts';

/**
 * The twin's S3 (fauxqs) and what the twin adds to it: S3's event notifications, at least once
 * across restarts, and lifecycle expiry.
 */

const QUEUES: Record<string, QueueSpec> = {
  events: {
    envVar: 'EVENTS_URL',
    visibilityTimeoutSeconds: 30,
    retentionDays: 1,
    deadLetter: { maxReceiveCount: 3, envVar: 'EVENTS_DLQ_URL', retentionDays: 1 },
  },
};
const BUCKETS: Record<string, BucketSpec> = {
  files: {
    envVar: 'FILES_BUCKET',
    expirations: [{ prefix: 'tmp/', days: 1 }],
    notifications: [{ prefix: 'in/', queue: 'events' }],
  },
};

let dataDir: string;
let server: FauxqsServer;
let s3: S3Client;
let sqs: SQSClient;
let buckets: LocalBucket[];
let queueUrl: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 's3-twin-'));
  server = await startSqsLocal({ dataDir, port: 0 });
  s3 = localS3Client(server.address);
  sqs = localSqsClient(server.address);
  const queues = await ensureQueues(server, QUEUES, (id) => `t-${id}`);
  queueUrl = queues.events?.main.url ?? '';
  buckets = await ensureBuckets(server, s3, BUCKETS, (id) => `t-${id}`);
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  sqs?.destroy();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const notifier = () =>
  startBucketNotifier({
    server,
    s3,
    sqs,
    buckets,
    queueUrl: () => queueUrl,
    stateFile: path.join(dataDir, 's3-notified.json'),
    log: () => {},
  });

/** Every message on the queue within `ms`, deleted as read. */
async function drain(ms = 1500): Promise<string[]> {
  const bodies: string[] = [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const m of Messages ?? []) {
      bodies.push(m.Body ?? '');
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
  return bodies;
}

const put = (key: string, body = 'phone\n+972501110001\n') =>
  s3.send(new PutObjectCommand({ Bucket: 't-files', Key: key, Body: body, ContentType: 'text/csv' }));

describe("the twin's S3 event notifications", () => {
  let running: BucketNotifier;

  it('announce an object created under the prefix with the JSON S3 sends; nothing for other keys', async () => {
    running = await notifier();
    expect(running.wired).toEqual(['files in/ -> events']);
    await put('in/a file+1.csv');
    await put('elsewhere/b.csv');
    await s3.send(
      new CopyObjectCommand({
        Bucket: 't-files',
        Key: 'in/copied.csv',
        CopySource: 't-files/elsewhere/b.csv',
      }),
    );
    const bodies = await drain();
    expect(bodies).toHaveLength(2);
    const first = JSON.parse(bodies[0] as string);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 't-files', Key: 'in/a file+1.csv' }));
    expect(first).toMatchObject({
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:Put',
          s3: {
            s3SchemaVersion: '1.0',
            bucket: { name: 't-files', arn: 'arn:aws:s3:::t-files' },
            // URL-encoded as S3 writes it: a space is +, a + is %2B.
            object: { key: 'in/a+file%2B1.csv', size: 20, eTag: String(head.ETag).replace(/"/g, '') },
          },
        },
      ],
    });
    expect(parseImportMessage(bodies[0] as string)).toEqual({
      objects: [{ bucket: 't-files', key: 'in/a file+1.csv', size: 20, eTag: expect.any(String) }],
    });
    expect(parseImportMessage(bodies[1] as string)).toMatchObject({ objects: [{ key: 'in/copied.csv' }] });
  }, 20_000);

  it('announce at start what was created while none was running, once', async () => {
    await running.stop();
    await put('in/while-stopped.csv');
    expect(await drain(1200)).toEqual([]);
    running = await notifier();
    const bodies = await drain();
    expect(
      bodies.map((b) => (parseImportMessage(b) as { objects: { key: string }[] }).objects[0]?.key),
    ).toEqual(['in/while-stopped.csv']);
    // A restart announces nothing already announced.
    await running.stop();
    running = await notifier();
    expect(await drain(1200)).toEqual([]);
    await running.stop();
  }, 20_000);
});

describe("the twin's lifecycle expiry", () => {
  it('deletes the objects under a rule once they are older than its days, and nothing else', async () => {
    await put('tmp/old.csv');
    await put('keep/old.csv');
    expect(await applyExpirations(s3, buckets)).toBe(0);
    const tomorrow = new Date(Date.now() + 86_400_000 + 60_000);
    expect(await applyExpirations(s3, buckets, tomorrow)).toBe(1);
    await expect(s3.send(new HeadObjectCommand({ Bucket: 't-files', Key: 'tmp/old.csv' }))).rejects.toThrow();
    await s3.send(new HeadObjectCommand({ Bucket: 't-files', Key: 'keep/old.csv' }));
  });
});
