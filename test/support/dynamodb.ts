import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { ensureTables, startDynamoDbLocal } from '../../lib/local/dynamodb-local.ts';
import { topology } from '../../lib/topology.ts';

/** DynamoDB Local with the topology's tables, in a temp dir; for integration tests of the store. */
export async function startTestDynamoDb(): Promise<{
  endpoint: string;
  doc: DynamoDBDocumentClient;
  tableName: string;
  stop(): Promise<void>;
}> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ddb-test-'));
  const ddb = await startDynamoDbLocal({ dataDir });
  const tableName = 'test-main';
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
