import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTimeToLiveRemoval } from '../functions/core/retention.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { streamArnOf } from '../lib/local/dynamodb-local.ts';
import { type StreamSource, startStreamSource } from '../lib/local/dynamodb-stream-source.ts';
import { createLocalTimeToLive } from '../lib/local/ttl-local.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { topology } from '../lib/topology.ts';
import { startTestDynamoDb } from './support/dynamodb.ts';

/**
 * The twin's TTL (lib/local/ttl-local.ts): DynamoDB Local runs none, so the twin deletes what
 * expired and the stream source gives those REMOVE records the identity AWS gives TTL deletions.
 */
let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let client: DynamoDBClient;
let source: StreamSource;
let dir: string;
const seen: DynamoDBRecord[] = [];

beforeAll(async () => {
  db = await startTestDynamoDb();
  client = new DynamoDBClient({
    endpoint: db.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  dir = mkdtempSync(path.join(tmpdir(), 'ttl-local-'));
}, 60_000);

afterAll(async () => {
  await source?.stop();
  client?.destroy();
  await db?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the local TTL', () => {
  it('deletes only what expired, and its REMOVE records carry the service identity; a delete by the application does not', async () => {
    const ttl = createLocalTimeToLive(client, [{ name: db.tableName, spec: topology.tables.main }]);
    source = startStreamSource({
      endpoint: db.endpoint,
      streamArn: await streamArnOf(db.endpoint, db.tableName),
      consumer: {
        batchSize: 100,
        maxBatchingWindowSeconds: 0,
        sortKeyPrefix: 'R#',
        retryAttempts: 0,
        maxRecordAgeSeconds: 3600,
      },
      invoke: async (event) => {
        seen.push(...(event as DynamoDBStreamEvent).Records);
      },
      onFailure: async () => {},
      checkpointFile: path.join(dir, 'checkpoint.json'),
      log: () => {},
      pollIntervalMs: 50,
      deletedByTimeToLive: (keys) => ttl.deletedByTimeToLive(db.tableName, keys as never),
    });
    const now = Math.floor(Date.now() / 1000);
    const put = (sk: string, expiresAt?: number) =>
      db.doc.send(
        new PutCommand({
          TableName: db.tableName,
          Item: { pk: 'BROADCAST#brd_ttl#S00', sk, status: 'read', ...(expiresAt ? { expiresAt } : {}) },
        }),
      );
    await put('R#0000001', now - 10);
    await put('R#0000002', now + 3600);
    await put('R#0000003');
    expect(await ttl.expire(new Date(now * 1000))).toBe(1);
    // Later on, the second expires too; the third has no TTL and stays.
    expect(await ttl.expire(new Date((now + 7200) * 1000))).toBe(1);
    expect(await ttl.expire(new Date((now + 7200) * 1000))).toBe(0);
    const removals = await waitFor(
      () => {
        const removed = seen.filter((r) => r.eventName === 'REMOVE');
        return removed.length === 2 ? removed : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50, message: 'the TTL removals did not reach the stream consumer' },
    );
    expect(removals.map((r) => r.dynamodb?.Keys?.sk?.S)).toEqual(['R#0000001', 'R#0000002']);
    expect(removals.every(isTimeToLiveRemoval)).toBe(true);
    expect(removals[0]?.userIdentity).toEqual({ type: 'Service', principalId: 'dynamodb.amazonaws.com' });
    // A delete by the application is no TTL deletion, even of a key TTL once deleted.
    await put('R#0000001');
    await db.doc.send(
      new DeleteCommand({
        TableName: db.tableName,
        Key: { pk: 'BROADCAST#brd_ttl#S00', sk: 'R#0000001' },
      }),
    );
    const own = await waitFor(
      () => {
        const removed = seen.filter((r) => r.eventName === 'REMOVE');
        return removed.length === 3 ? removed[2] : undefined;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 50,
        message: "the application's delete did not reach the stream consumer",
      },
    );
    expect(own && isTimeToLiveRemoval(own)).toBe(false);
  }, 60_000);
});
