import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../lib/local/dynamodb-local.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { fileTempDir } from './support/temp-dir.ts';

/**
 * DynamoDB Local with its table schemas parsed once (lib/local/LoopbackServerRunner.java
 * SchemaCache): each caller gets a copy of its own, so a table whose schema changes reads as
 * changed, also when it changes back to a document the cache already holds.
 */

let dynamodb: DynamoDbLocal;
let client: DynamoDBClient;
const TableName = 'schemas';
const IndexName = 'byColour';

beforeAll(async () => {
  dynamodb = await startDynamoDbLocal({ dataDir: fileTempDir('schema-cache-') });
  client = new DynamoDBClient({
    endpoint: dynamodb.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await dynamodb?.stop();
});

const byColour = (colour: string) =>
  client.send(
    new QueryCommand({
      TableName,
      IndexName,
      KeyConditionExpression: 'colour = :c',
      ExpressionAttributeValues: { ':c': { S: colour } },
    }),
  );

const indexStatus = async () =>
  (await client.send(new DescribeTableCommand({ TableName }))).Table?.GlobalSecondaryIndexes?.find(
    (index) => index.IndexName === IndexName,
  )?.IndexStatus;

const addIndex = () =>
  client.send(
    new UpdateTableCommand({
      TableName,
      AttributeDefinitions: [{ AttributeName: 'colour', AttributeType: 'S' }],
      GlobalSecondaryIndexUpdates: [
        {
          Create: {
            IndexName,
            KeySchema: [{ AttributeName: 'colour', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
        },
      ],
    }),
  );

const removeIndex = () =>
  client.send(
    new UpdateTableCommand({ TableName, GlobalSecondaryIndexUpdates: [{ Delete: { IndexName } }] }),
  );

describe('DynamoDB Local with its table schemas parsed once', () => {
  it('runs with the cache installed, and says nothing to warn of', () => {
    expect(dynamodb.loopbackOnly).toBe(true);
    expect(dynamodb.schemasParsedOnce).toBe(true);
    // So npm start has nothing to warn about.
    expect(dynamodb.warnings).toEqual([]);
  });

  it('serves an index added, removed and added again, and a TTL set, as DynamoDB does', async () => {
    await client.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    await client.send(new PutItemCommand({ TableName, Item: { pk: { S: 'a' }, colour: { S: 'red' } } }));
    await expect(byColour('red')).rejects.toThrow(/index/i);

    await addIndex();
    await waitFor(async () => ((await indexStatus()) === 'ACTIVE' ? true : undefined), {
      timeoutMs: 10_000,
      message: 'the index did not become ACTIVE',
    });
    await client.send(new PutItemCommand({ TableName, Item: { pk: { S: 'b' }, colour: { S: 'red' } } }));
    expect((await byColour('red')).Items?.map((item) => item.pk?.S).sort()).toEqual(['a', 'b']);

    await removeIndex();
    await waitFor(async () => ((await indexStatus()) === undefined ? true : undefined), {
      timeoutMs: 10_000,
      message: 'the index was not removed',
    });
    await expect(byColour('red')).rejects.toThrow(/index/i);
    // Written while there is no index: the index added again must still find it (its backfill reads
    // the schema as it is now, not a copy the removal changed).
    await client.send(new PutItemCommand({ TableName, Item: { pk: { S: 'c' }, colour: { S: 'red' } } }));

    await addIndex();
    await waitFor(async () => ((await indexStatus()) === 'ACTIVE' ? true : undefined), {
      timeoutMs: 10_000,
      message: 'the index added again did not become ACTIVE',
    });
    expect((await byColour('red')).Items?.map((item) => item.pk?.S).sort()).toEqual(['a', 'b', 'c']);

    await client.send(
      new UpdateTimeToLiveCommand({
        TableName,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    );
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName }));
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });
    const item = await client.send(new GetItemCommand({ TableName, Key: { pk: { S: 'c' } } }));
    expect(item.Item?.colour?.S).toBe('red');
  });
});
