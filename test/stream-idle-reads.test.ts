import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamArnOf } from '../lib/local/dynamodb-local.ts';
import { type StreamSource, startStreamSource } from '../lib/local/dynamodb-stream-source.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { startTestDynamoDb } from './support/dynamodb.ts';

/**
 * The twin's stream reader on a quiet shard: it reads it less often (each empty read costs DynamoDB
 * Local and the twin's process CPU), and still hands on the next record.
 */

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let source: StreamSource;
let dir: string;
const delivered: string[] = [];
/** Each delivered record's ApproximateCreationDateTime (epoch seconds, as Lambda's event has it), by key. */
const stamped = new Map<string, number | undefined>();

beforeAll(async () => {
  db = await startTestDynamoDb();
  dir = mkdtempSync(path.join(tmpdir(), 'idle-reads-'));
  source = startStreamSource({
    endpoint: db.endpoint,
    streamArn: await streamArnOf(db.endpoint, db.tableName),
    consumer: {
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      sortKeyPrefix: 'Q#',
      retryAttempts: 0,
      maxRecordAgeSeconds: 600,
    },
    invoke: async (event) => {
      for (const r of (event as DynamoDBStreamEvent).Records) {
        delivered.push(r.dynamodb?.Keys?.sk?.S ?? '');
        stamped.set(r.dynamodb?.Keys?.sk?.S ?? '', r.dynamodb?.ApproximateCreationDateTime);
      }
      return {};
    },
    onFailure: async () => {},
    checkpointFile: path.join(dir, 'checkpoint.json'),
    log: () => {},
    pollIntervalMs: 50,
    idlePollIntervalMs: 500,
  });
}, 60_000);

afterAll(async () => {
  await source?.stop();
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** GetRecords reads in the next `ms`. */
const readsOver = async (ms: number) => {
  const before = source.stats.reads;
  await new Promise((resolve) => setTimeout(resolve, ms));
  return source.stats.reads - before;
};

describe('a quiet stream', () => {
  it('is read at the idle interval once nothing has come for 2 s, and its next record is still handed on', async () => {
    await waitFor(() => source.stats.reads > 0, { timeoutMs: 10_000, message: 'the shard was never read' });
    // Quiet since the start: within seconds, 2 s hold at most 5 reads (every 500 ms), not 40 (every 50).
    await waitFor(async () => (await readsOver(2_000)) <= 5, {
      timeoutMs: 15_000,
      intervalMs: 0,
      message: 'a quiet shard was still read more than 5 times in every 2 s',
    });

    await db.doc.send(new PutCommand({ TableName: db.tableName, Item: { pk: 'P', sk: 'Q#after-quiet' } }));
    await waitFor(() => delivered.includes('Q#after-quiet'), {
      timeoutMs: 10_000,
      message: 'the record written after the quiet spell was never handed on',
    });
  });
});

describe("a record's time", () => {
  it('is the second it was written in, as on AWS, not the minute DynamoDB Local gives', async () => {
    const writtenAt = Date.now();
    await db.doc.send(new PutCommand({ TableName: db.tableName, Item: { pk: 'P', sk: 'Q#timed' } }));
    await waitFor(() => delivered.includes('Q#timed'), { timeoutMs: 10_000, message: 'never handed on' });
    const seconds = stamped.get('Q#timed') ?? 0;
    expect(seconds).toBeGreaterThanOrEqual(Math.floor(writtenAt / 1000));
    expect(seconds).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
  });
});
