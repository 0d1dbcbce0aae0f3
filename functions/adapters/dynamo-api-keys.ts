import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ApiKeyIdentity, ApiKeyStore, RevokeOutcome, SeedOutcome } from '../core/access-ports.ts';
import { type ApiKeyView, derivedKeyId } from '../core/api-keys.ts';
import type { Page } from '../core/audience.ts';
import { isRole, type Role } from '../core/roles.ts';
import { queryPage } from './dynamo-audience-query.ts';
import type { Item } from './dynamo-items.ts';

/**
 * Tenant API keys, two items per key (the secret itself is never stored):
 *
 *   APIKEY#<sha256 of the secret>  APIKEY     the lookup: tenantId, keyId, role, revokedAt
 *   APIKEYS#<tenant>               <keyId>    the tenant's record: name, role, createdAt, createdBy,
 *                                             keyHash (of the current secret), lastUsedAt, rotatedAt, revokedAt
 *
 * Both change together in one transaction. Keys made before ids and roles have only a lookup item
 * without keyId/role: `identify` adopts them (an admin key, its id derived from its hash) the first
 * time they are used, so they appear in the tenant's list from then on.
 */
const lookupKey = (keyHash: string) => ({ pk: `APIKEY#${keyHash}`, sk: 'APIKEY' });
const tenantPartition = (tenantId: string) => `APIKEYS#${tenantId}`;
const recordKey = (tenantId: string, keyId: string) => ({ pk: tenantPartition(tenantId), sk: keyId });
const KEY_ID_SK = /^key_[0-9A-Za-z]{16,32}$/;

const isConditionFailure = (error: unknown) =>
  error instanceof Error &&
  (error.name === 'ConditionalCheckFailedException' || error.name === 'TransactionCanceledException');

export class DynamoApiKeys implements ApiKeyStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async identify(keyHash: string): Promise<ApiKeyIdentity | undefined> {
    const { Item: item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: lookupKey(keyHash), ConsistentRead: true }),
    );
    if (!item || item.revokedAt) return undefined;
    const tenantId = String(item.tenantId);
    if (typeof item.keyId !== 'string') await this.#adopt(tenantId, keyHash, String(item.createdAt ?? ''));
    return {
      tenantId,
      keyId: typeof item.keyId === 'string' ? item.keyId : derivedKeyId(keyHash),
      role: isRole(item.role) ? item.role : 'admin',
    };
  }

  async create(
    key: { tenantId: string; keyId: string; name: string; role: Role; createdBy?: string },
    keyHash: string,
    now: Date,
  ): Promise<ApiKeyView> {
    const view: ApiKeyView = {
      keyId: key.keyId,
      name: key.name,
      role: key.role,
      createdAt: now.toISOString(),
      ...(key.createdBy ? { createdBy: key.createdBy } : {}),
    };
    await this.#db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.#table,
              Item: { ...lookupKey(keyHash), tenantId: key.tenantId, keyId: key.keyId, role: key.role },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: this.#table,
              Item: { ...recordKey(key.tenantId, key.keyId), ...view, keyHash },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
    return view;
  }

  async seed(tenantId: string, keyHash: string, now: Date): Promise<SeedOutcome> {
    const { Item: item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: lookupKey(keyHash), ConsistentRead: true }),
    );
    if (item) {
      if (String(item.tenantId) !== tenantId) return 'other_tenant';
      if (item.revokedAt) return 'revoked';
      if (typeof item.keyId !== 'string') await this.#adopt(tenantId, keyHash, String(item.createdAt ?? ''));
      return 'exists';
    }
    try {
      const keyId = derivedKeyId(keyHash);
      await this.create({ tenantId, keyId, name: 'LOCAL_API_KEYS', role: 'admin' }, keyHash, now);
      return 'created';
    } catch (error) {
      // Made at the same moment by another start: look again.
      if (isConditionFailure(error)) return this.seed(tenantId, keyHash, now);
      throw error;
    }
  }

  async list(tenantId: string, page: { limit: number; cursor?: string }): Promise<Page<ApiKeyView>> {
    const result = await queryPage(this.#db, this.#table, {
      kind: 'apiKeys',
      keys: { pk: 'pk', sk: 'sk' },
      partition: tenantPartition(tenantId),
      sk: KEY_ID_SK,
      limit: page.limit,
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
    return {
      items: result.items.map(viewOf),
      ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}),
    };
  }

  async revoke(tenantId: string, keyId: string, now: Date): Promise<RevokeOutcome> {
    // Two admins revoking each other at once: both transactions check the other key, so one fails
    // and is decided again on fresh reads.
    for (let attempt = 0; ; attempt++) {
      const records = await this.#allRecords(tenantId);
      const record = records.find((r) => r.keyId === keyId);
      if (!record) return 'not_found';
      if (record.revokedAt) return 'already_revoked';
      const otherAdmin = records.find((r) => r.keyId !== keyId && !r.revokedAt && roleOf(r) === 'admin');
      if (roleOf(record) === 'admin' && !otherAdmin) return 'last_admin';
      const at = now.toISOString();
      try {
        await this.#db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.#table,
                  Key: recordKey(tenantId, keyId),
                  UpdateExpression: 'SET revokedAt = :at',
                  ConditionExpression:
                    'attribute_exists(pk) AND attribute_not_exists(revokedAt) AND keyHash = :hash',
                  ExpressionAttributeValues: { ':at': at, ':hash': record.keyHash },
                },
              },
              {
                Update: {
                  TableName: this.#table,
                  Key: lookupKey(String(record.keyHash)),
                  UpdateExpression: 'SET revokedAt = :at',
                  ExpressionAttributeValues: { ':at': at },
                },
              },
              ...(roleOf(record) === 'admin' && otherAdmin
                ? [
                    {
                      ConditionCheck: {
                        TableName: this.#table,
                        Key: recordKey(tenantId, String(otherAdmin.keyId)),
                        ConditionExpression: 'attribute_not_exists(revokedAt)',
                      },
                    },
                  ]
                : []),
            ],
          }),
        );
        return 'revoked';
      } catch (error) {
        if (!isConditionFailure(error) || attempt >= 3) throw error;
      }
    }
  }

  async rotate(tenantId: string, keyId: string, newHash: string, now: Date): Promise<ApiKeyView | undefined> {
    const { Item: record } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: recordKey(tenantId, keyId), ConsistentRead: true }),
    );
    if (!record || record.revokedAt) return undefined;
    const at = now.toISOString();
    try {
      await this.#db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.#table,
                Item: { ...lookupKey(newHash), tenantId, keyId, role: roleOf(record) },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Update: {
                TableName: this.#table,
                Key: lookupKey(String(record.keyHash)),
                UpdateExpression: 'SET revokedAt = :at, rotatedAway = :true',
                ExpressionAttributeValues: { ':at': at, ':true': true },
              },
            },
            {
              Update: {
                TableName: this.#table,
                Key: recordKey(tenantId, keyId),
                UpdateExpression: 'SET keyHash = :new, rotatedAt = :at',
                ConditionExpression: 'keyHash = :old AND attribute_not_exists(revokedAt)',
                ExpressionAttributeValues: { ':new': newHash, ':old': record.keyHash, ':at': at },
              },
            },
          ],
        }),
      );
    } catch (error) {
      // Revoked or rotated at the same moment: the caller answers as for a revoked key.
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
    return viewOf({ ...record, keyHash: newHash, rotatedAt: at });
  }

  async revokeByHash(keyHash: string, now: Date): Promise<boolean> {
    const { Item: item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: lookupKey(keyHash), ConsistentRead: true }),
    );
    if (!item) return false;
    const at = now.toISOString();
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: lookupKey(keyHash),
        UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :at)',
        ExpressionAttributeValues: { ':at': at },
      }),
    );
    const keyId = typeof item.keyId === 'string' ? item.keyId : derivedKeyId(keyHash);
    try {
      // The record shows it too, when there is one and it still names this secret.
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: recordKey(String(item.tenantId), keyId),
          UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :at)',
          ConditionExpression: 'keyHash = :hash',
          ExpressionAttributeValues: { ':at': at, ':hash': keyHash },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    return true;
  }

  async touch(tenantId: string, keyId: string, now: Date): Promise<void> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: recordKey(tenantId, keyId),
          UpdateExpression: 'SET lastUsedAt = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':at': now.toISOString() },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** Every record of the tenant (a tenant has a handful of keys; pages of 1 MB). */
  async #allRecords(tenantId: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': tenantPartition(tenantId) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** A key made before ids and roles: give it its derived id, the admin role and a record. */
  async #adopt(tenantId: string, keyHash: string, createdAt: string): Promise<void> {
    const keyId = derivedKeyId(keyHash);
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...recordKey(tenantId, keyId),
            keyId,
            name: 'made before key names',
            role: 'admin',
            createdAt: createdAt || new Date().toISOString(),
            keyHash,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: lookupKey(keyHash),
        UpdateExpression: 'SET keyId = if_not_exists(keyId, :keyId), #role = if_not_exists(#role, :admin)',
        ExpressionAttributeNames: { '#role': 'role' },
        ExpressionAttributeValues: { ':keyId': keyId, ':admin': 'admin' },
      }),
    );
  }
}

function roleOf(item: Item): Role {
  return isRole(item.role) ? item.role : 'admin';
}

function viewOf(item: Item): ApiKeyView {
  const optional = (name: string) => (typeof item[name] === 'string' ? { [name]: item[name] as string } : {});
  return {
    keyId: String(item.keyId),
    name: String(item.name ?? ''),
    role: roleOf(item),
    createdAt: String(item.createdAt),
    ...optional('createdBy'),
    ...optional('lastUsedAt'),
    ...optional('rotatedAt'),
    ...optional('revokedAt'),
  };
}
