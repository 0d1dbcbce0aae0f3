/**
 * DynamoDB's Time to Live, which DynamoDB Local does not run: items whose TTL attribute (epoch
 * seconds) has passed are deleted, and the stream records of those deletions carry the identity AWS
 * gives them (`userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' }`; AWS
 * DynamoDB developer guide, "DynamoDB Streams and Time to Live"), so stream consumers can tell
 * retention from a deletion by the application (functions/core/retention.ts isTimeToLiveRemoval).
 *
 * On AWS the deletion happens some time after expiry ("typically within a few days"); here it
 * happens when `expire()` runs: the twin runs it hourly, tests call it with the time they want.
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  DynamoDBClient,
  paginateScan,
} from '@aws-sdk/client-dynamodb';
import type { TableSpec } from '../topology.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-local.ts';

export interface LocalTimeToLive {
  /**
   * Deletes every item of the TTL tables whose attribute is at or before `now` (conditionally: an
   * item rewritten with a later time meanwhile stays). Answers how many it deleted.
   */
  expire(now?: Date): Promise<number>;
  /**
   * Whether this REMOVE of a table's item was TTL's (answered once per deletion: the stream source
   * asks when it reads the record, and tags it with the identity AWS gives it).
   */
  deletedByTimeToLive(tableName: string, keys: Record<string, AttributeValue> | undefined): boolean;
}

export function createLocalTimeToLive(
  client: DynamoDBClient,
  tables: readonly { readonly name: string; readonly spec: TableSpec }[],
): LocalTimeToLive {
  // Keys deleted by TTL whose stream record has not been read yet, by table.
  const pending = new Map<string, Set<string>>();
  const keyOf = (spec: TableSpec, keys: Record<string, AttributeValue>) =>
    JSON.stringify([keys[spec.partitionKey], keys[spec.sortKey]]);
  return {
    async expire(now = new Date()) {
      const nowSeconds = Math.floor(now.getTime() / 1000);
      let deleted = 0;
      for (const { name, spec } of tables) {
        const attribute = spec.timeToLiveAttribute;
        if (!attribute) continue;
        const marks = pending.get(name) ?? new Set<string>();
        pending.set(name, marks);
        const pages = paginateScan(
          { client },
          {
            TableName: name,
            FilterExpression: '#ttl <= :now',
            ExpressionAttributeNames: { '#ttl': attribute, '#pk': spec.partitionKey, '#sk': spec.sortKey },
            ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
            ProjectionExpression: '#pk, #sk',
          },
        );
        for await (const page of pages)
          for (const item of page.Items ?? []) {
            const key = {
              [spec.partitionKey]: item[spec.partitionKey],
              [spec.sortKey]: item[spec.sortKey],
            } as Record<string, AttributeValue>;
            marks.add(keyOf(spec, key));
            try {
              await client.send(
                new DeleteItemCommand({
                  TableName: name,
                  Key: key,
                  ConditionExpression: '#ttl <= :now',
                  ExpressionAttributeNames: { '#ttl': attribute },
                  ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
                }),
              );
              deleted += 1;
            } catch (error) {
              marks.delete(keyOf(spec, key));
              if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
            }
          }
      }
      return deleted;
    },
    deletedByTimeToLive(tableName, keys) {
      const spec = tables.find((t) => t.name === tableName)?.spec;
      const marks = pending.get(tableName);
      if (!spec || !marks || !keys) return false;
      return marks.delete(keyOf(spec, keys));
    },
  };
}

/**
 * The twin's TTL: a client of DynamoDB Local for the tables that declare a TTL attribute, expired
 * once an hour (and whenever `expire()` is called). `stop()` ends the timer and the client.
 */
export function startLocalTimeToLive(options: {
  readonly endpoint: string;
  readonly tables: Readonly<Record<string, TableSpec>>;
  readonly tableNames: Readonly<Record<string, string>>;
  readonly log: (entry: Record<string, unknown>) => void;
  readonly everyMs?: number;
}): LocalTimeToLive & { stop(): Promise<void> } {
  const client = new DynamoDBClient({
    endpoint: options.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const ttl = createLocalTimeToLive(
    client,
    Object.entries(options.tables).flatMap(([id, spec]) => {
      const name = options.tableNames[id];
      return name ? [{ name, spec }] : [];
    }),
  );
  const timer = setInterval(() => {
    ttl
      .expire()
      .catch((error: unknown) =>
        options.log({ level: 'WARN', source: 'ttl', message: 'expiring items failed', error: String(error) }),
      );
  }, options.everyMs ?? 3_600_000);
  timer.unref();
  return {
    ...ttl,
    async stop() {
      clearInterval(timer);
      client.destroy();
    },
  };
}
