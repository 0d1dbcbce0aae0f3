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
      for (const r of (event as DynamoDBStreamEvent).Records) delivered.push(r.dynamodb?.Keys?.sk?.S ?? '');
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

const readsOver = async (ms: number) => {
  const before = source.stats.reads;
  await new Promise((resolve) => setTimeout(resolve, ms));
  return source.stats.reads - before;
};

describe('a quiet stream', () => {
  it('is read at the idle interval once nothing has come for 2 s, and its next record is still handed on', async () => {
    // Quiet since the start: past the 2 s, reads come every 500 ms, not every 50 (40 in 2 s).
    await waitFor(() => source.stats.reads > 0, { timeoutMs: 10_000, message: 'the shard was never read' });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await readsOver(2_000)).toBeLessThanOrEqual(5);

    await db.doc.send(new PutCommand({ TableName: db.tableName, Item: { pk: 'P', sk: 'Q#after-quiet' } }));
    await waitFor(() => delivered.includes('Q#after-quiet'), {
      timeoutMs: 10_000,
      message: 'the record written after the quiet spell was never handed on',
    });
  });
});
