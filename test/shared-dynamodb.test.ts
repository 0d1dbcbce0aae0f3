import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { deleteTables } from '../lib/local/dynamodb-local.ts';
import { claimSharedDynamodb } from './support/shared-dynamodb.ts';

/**
 * The run's one DynamoDB Local (test/support/shared-dynamodb.ts): each access key has a database of
 * its own there, so test files, each under its own key, never see each other's tables.
 */
const endpoint = inject('sharedDynamodbEndpoint');

function clientFor(accessKeyId: string) {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId, secretAccessKey: 'x' },
  });
}

/** A table keyed by `pk` alone, in the database of the client's access key. */
function createTable(client: DynamoDBClient, TableName: string) {
  return client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
}

describe.runIf(endpoint)('the shared DynamoDB Local', () => {
  it('keeps each access key apart: a table of the same name, its own items, invisible to another key', async () => {
    const suffix = Math.random().toString(36).slice(2, 10);
    const keys = [`isoA${suffix}`, `isoB${suffix}`];
    const clients = keys.map(clientFor);
    try {
      for (const [i, client] of clients.entries()) {
        await createTable(client, 'same');
        await DynamoDBDocumentClient.from(client).send(
          new PutCommand({ TableName: 'same', Item: { pk: 'item', owner: keys[i] } }),
        );
      }
      for (const [i, client] of clients.entries()) {
        const read = await DynamoDBDocumentClient.from(client).send(
          new GetCommand({ TableName: 'same', Key: { pk: 'item' }, ConsistentRead: true }),
        );
        expect(read.Item?.owner).toBe(keys[i]);
      }
      // This file's own key sees neither.
      const own = clientFor(LOCAL_CREDENTIALS.accessKeyId);
      expect((await own.send(new ListTablesCommand({}))).TableNames).not.toContain('same');
      own.destroy();
    } finally {
      for (const client of clients) client.destroy();
    }
  });

  it("deleteTables removes a file's tables there; a second twin or test database in the same file is refused", async () => {
    const first = claimSharedDynamodb('the first');
    expect(first.endpoint).toBe(endpoint);
    expect(() => claimSharedDynamodb('the second')).toThrow(/already has the first/);
    first.release();
    const again = claimSharedDynamodb('after the release');
    again.release();

    const own = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    await createTable(own, 'left-behind');
    await deleteTables(endpoint, ['left-behind', 'never-made']);
    expect((await own.send(new ListTablesCommand({}))).TableNames ?? []).not.toContain('left-behind');
    own.destroy();
  });
});
