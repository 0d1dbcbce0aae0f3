import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { deleteTables, ensureTables, startDynamoDbLocal } from '../../lib/local/dynamodb-local.ts';
import { topology } from '../../lib/topology.ts';
import { claimSharedDynamodb } from './shared-dynamodb.ts';

const tableName = 'test-main';

/**
 * DynamoDB Local with the topology's tables (in a temp dir, or the suite's shared one under this
 * process's key); for integration tests of the store. One at a time per test file
 * (claimSharedDynamodb refuses a second: it would share the first's table).
 */
export async function startTestDynamoDb(): Promise<{
  endpoint: string;
  doc: DynamoDBDocumentClient;
  tableName: string;
  stop(): Promise<void>;
}> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ddb-test-'));
  // The suite's one DynamoDB Local (shared-dynamodb.ts) under this process's key, or one of its own.
  const shared = claimSharedDynamodb('startTestDynamoDb');
  const endpoint = shared.endpoint;
  const ddb = endpoint
    ? {
        endpoint,
        stop: async () => {
          await deleteTables(endpoint, [tableName]);
          shared.release();
        },
      }
    : await startDynamoDbLocal({ dataDir });
  await ensureTables(ddb.endpoint, topology.tables, () => tableName);
  const client = new DynamoDBClient({
    endpoint: ddb.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoint: ddb.endpoint,
    doc,
    tableName,
    async stop() {
      client.destroy();
      await ddb.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
