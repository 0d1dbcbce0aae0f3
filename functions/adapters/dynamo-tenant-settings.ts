import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { settingsOf, type TenantSettings, type TenantSettingsStore } from '../core/tenant-settings.ts';
import { updateExpression } from './dynamo-items.ts';

/** `SETTINGS#<t>` / `SETTINGS`: the tenant's settings, only the ones an admin changed. */
const settingsKey = (tenantId: string) => ({ pk: `SETTINGS#${tenantId}`, sk: 'SETTINGS' });

export class DynamoTenantSettings implements TenantSettingsStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.db = db;
    this.table = table;
  }

  async get(tenantId: string): Promise<{ settings: TenantSettings; updatedAt?: string }> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: settingsKey(tenantId), ConsistentRead: true }),
    );
    return {
      settings: settingsOf(Item as Partial<TenantSettings> | undefined),
      ...(typeof Item?.updatedAt === 'string' ? { updatedAt: Item.updatedAt } : {}),
    };
  }

  /** One UpdateItem: concurrent changes of different settings both stay. */
  async update(
    tenantId: string,
    change: Partial<TenantSettings>,
    at: Date,
  ): Promise<{ settings: TenantSettings; updatedAt: string }> {
    const updatedAt = at.toISOString();
    const update = updateExpression({ ...change, tenantId, updatedAt });
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: settingsKey(tenantId),
        UpdateExpression: update.expression,
        ExpressionAttributeNames: update.names,
        ExpressionAttributeValues: update.values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { settings: settingsOf(Attributes as Partial<TenantSettings> | undefined), updatedAt };
  }
}
