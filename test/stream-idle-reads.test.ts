import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, it } from 'vitest';
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
