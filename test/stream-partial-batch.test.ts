import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamArnOf } from '../lib/local/dynamodb-local.ts';
import { type StreamSource, startStreamSource } from '../lib/local/dynamodb-stream-source.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { startTestDynamoDb } from './support/dynamodb.ts';

/**
 * The twin's DynamoDB Streams event source with ReportBatchItemFailures (the lifecycle events'
 * publisher answers `batchItemFailures`), as Lambda documents it: the records before the first one
 * named are done; that one and the rest are delivered again; after the retries, only those go to the
 * on-failure destination.
 */

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let source: StreamSource;
let dir: string;
const calls: string[][] = [];
const failures: Record<string, unknown>[] = [];

beforeAll(async () => {
  db = await startTestDynamoDb();
  dir = mkdtempSync(path.join(tmpdir(), 'partial-batch-'));
  source = startStreamSource({
    endpoint: db.endpoint,
    streamArn: await streamArnOf(db.endpoint, db.tableName),
    consumer: {
      batchSize: 10,
      // A second's window: the three items of one BatchWriteItem are one batch.
      maxBatchingWindowSeconds: 1,
      filters: [{ dynamodb: { Keys: { sk: { S: [{ prefix: 'T#' }] } } } }],
      retryAttempts: 2,
      maxRecordAgeSeconds: 600,
      reportBatchItemFailures: true,
    },
    invoke: async (event) => {
      const records = (event as DynamoDBStreamEvent).Records;
      const sks = records.map((r) => r.dynamodb?.Keys?.sk?.S ?? '');
      calls.push(sks);
      // T#2 fails once; T#5 always.
      const failing =
        sks.includes('T#2') && calls.filter((c) => c.includes('T#2')).length === 1 ? 'T#2' : 'T#5';
      const record = records.find((r) => r.dynamodb?.Keys?.sk?.S === failing);
      return { batchItemFailures: record ? [{ itemIdentifier: record.dynamodb?.SequenceNumber }] : [] };
    },
    onFailure: async (failure) => {
      failures.push(failure);
    },
    checkpointFile: path.join(dir, 'checkpoint.json'),
    log: () => {},
    pollIntervalMs: 50,
  });
}, 60_000);

afterAll(async () => {
  await source?.stop();
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function put(...sks: string[]): Promise<void> {
  await db.doc.send(
    new BatchWriteCommand({
      RequestItems: { [db.tableName]: sks.map((sk) => ({ PutRequest: { Item: { pk: 'P', sk } } })) },
    }),
  );
}

/**
 * What followed the first delivery that had `failing` in it: that delivery and the ones after it.
 * The records of one BatchWriteItem usually come in one batch, but a read may fall between its items
 * (as on AWS), so the checks hold whatever the split.
 */
function fromFirstWith(failing: string, from = 0): string[][] {
  const first = calls.findIndex((c, i) => i >= from && c.includes(failing));
  return first < 0 ? [] : calls.slice(first);
}

describe('partial batch responses on the twin’s stream source', () => {
  it('delivers again from the first record named, and only what was not done', async () => {
    await put('T#1', 'T#2', 'T#3');
    await waitFor(() => (fromFirstWith('T#2').length >= 2 ? true : undefined), {
      timeoutMs: 20_000,
      message: 'no retry',
    });
    const [failed, again] = fromFirstWith('T#2') as [string[], string[]];
    // The records before T#2 were done; T#2 and the rest of its batch came again.
    expect(again).toEqual(failed.slice(failed.indexOf('T#2')));
    expect(calls.flat().filter((sk) => sk === 'T#1')).toHaveLength(1);
    await waitFor(() => (calls.flat().includes('T#3') ? true : undefined), {
      timeoutMs: 20_000,
      message: 'T#3 never delivered',
    });
    expect(failures).toEqual([]);
  }, 30_000);

  it('after its retries, reports only the records from the failing one on to the on-failure destination', async () => {
    const before = calls.length;
    await put('T#4', 'T#5', 'T#6');
    await waitFor(() => (failures.length > 0 ? true : undefined), {
      timeoutMs: 20_000,
      message: 'no give-up',
    });
    const [failed, ...retries] = fromFirstWith('T#5', before) as [string[], ...string[][]];
    const rest = failed.slice(failed.indexOf('T#5'));
    // Two retries (retryAttempts 2) of T#5 and what followed it, never of what came before it.
    expect(retries.slice(0, 2)).toEqual([rest, rest]);
    expect(
      calls
        .slice(before)
        .flat()
        .filter((sk) => sk === 'T#4'),
    ).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted' },
      DDBStreamBatchInfo: { batchSize: rest.length },
    });
  }, 30_000);
});
