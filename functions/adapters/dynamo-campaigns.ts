import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Page } from '../core/audience.ts';
import type {
  Campaign,
  CampaignKeyRecord,
  CampaignRun,
  CampaignStatus,
  Campaigns,
} from '../core/campaigns.ts';
import { literal } from '../core/cursor.ts';
import { queryPage } from './dynamo-audience-query.ts';
import { type Item, isConditionFailure, transactWrite } from './dynamo-items.ts';

/**
 * Campaigns and their runs on the main table:
 *
 *   TENANT#<t>        CAMPAIGN#<id>          the campaign (its list: newest first, ids are ULIDs)
 *   CAMPAIGN#<id>     RUN#<scheduledFor>     one firing's run, written once (conditional put)
 *   IDEMCMP#<t>#<key> IDEM                   POST /v1/campaigns's Idempotency-Key → campaign (24 h, TTL)
 */
const PREFIX = 'CAMPAIGN#';
const campaignKey = (tenantId: string, campaignId: string) => ({
  pk: `TENANT#${tenantId}`,
  sk: `${PREFIX}${campaignId}`,
});
const runsPk = (campaignId: string) => `CAMPAIGN#${campaignId}`;
const RUN_PREFIX = 'RUN#';
const idemKey = (tenantId: string, key: string) => ({ pk: `IDEMCMP#${tenantId}#${key}`, sk: 'IDEM' });
/** BatchWriteItem takes at most 25 requests (DynamoDB API reference). */
const BATCH = 25;

export class DynamoCampaigns implements Campaigns {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async create(
    campaign: Campaign,
    idempotency?: { key: string; fingerprint: string; expiresAt: number },
  ): Promise<{ created: true } | { created: false; existing: CampaignKeyRecord }> {
    const put = {
      TableName: this.#table,
      Item: { ...campaignKey(campaign.tenantId, campaign.campaignId), kind: 'campaign', campaign },
      ConditionExpression: 'attribute_not_exists(pk)',
    };
    if (!idempotency) {
      await this.#db.send(new PutCommand(put));
      return { created: true };
    }
    const key = idemKey(campaign.tenantId, idempotency.key);
    const result = await transactWrite(this.#db, [
      { Put: put },
      {
        Put: {
          TableName: this.#table,
          Item: {
            ...key,
            campaignId: campaign.campaignId,
            fingerprint: idempotency.fingerprint,
            expiresAt: idempotency.expiresAt,
          },
          // An expired record (TTL deletes lazily) is replaced.
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
          ExpressionAttributeValues: { ':now': Math.floor(Date.parse(campaign.createdAt) / 1000) },
        },
      },
    ]);
    if (result.written) return { created: true };
    const existing = await this.findByIdempotencyKey(
      campaign.tenantId,
      idempotency.key,
      new Date(campaign.createdAt),
    );
    if (!existing) throw new Error('campaign idempotency record vanished while it was being written');
    return { created: false, existing };
  }

  async findByIdempotencyKey(
    tenantId: string,
    key: string,
    now: Date,
  ): Promise<CampaignKeyRecord | undefined> {
    const { Item: item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: idemKey(tenantId, key), ConsistentRead: true }),
    );
    if (!item || Number(item.expiresAt) <= Math.floor(now.getTime() / 1000)) return undefined;
    return { campaignId: String(item.campaignId), fingerprint: String(item.fingerprint) };
  }

  async get(tenantId: string, campaignId: string): Promise<Campaign | undefined> {
    const { Item: item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: campaignKey(tenantId, campaignId),
        ConsistentRead: true,
      }),
    );
    return item ? (item.campaign as Campaign) : undefined;
  }

  async list(tenantId: string, page: { limit: number; cursor?: string }): Promise<Page<Campaign>> {
    const partition = `TENANT#${tenantId}`;
    const result = await queryPage(this.#db, this.#table, {
      kind: 'campaigns',
      keys: { pk: 'pk', sk: 'sk' },
      partition,
      prefix: PREFIX,
      sk: new RegExp(`^${literal(PREFIX)}cmp_[0-9A-Z]{26}$`),
      newestFirst: true,
      limit: page.limit,
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
    return {
      items: result.items.map((item: Item) => item.campaign as Campaign),
      ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}),
    };
  }

  async setStatus(
    tenantId: string,
    campaignId: string,
    from: readonly CampaignStatus[],
    to: CampaignStatus,
    at: Date,
  ): Promise<boolean> {
    const values: Record<string, unknown> = { ':to': to, ':at': at.toISOString() };
    from.forEach((status, i) => {
      values[`:from${i}`] = status;
    });
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: campaignKey(tenantId, campaignId),
          UpdateExpression:
            to === 'paused'
              ? 'SET campaign.#status = :to, campaign.updatedAt = :at, campaign.pausedAt = :at'
              : 'SET campaign.#status = :to, campaign.updatedAt = :at REMOVE campaign.pausedAt',
          ConditionExpression: `attribute_exists(pk) AND campaign.#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async delete(tenantId: string, campaignId: string): Promise<boolean> {
    try {
      await this.#db.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: campaignKey(tenantId, campaignId),
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
    // Its runs (a weekly campaign has 52 a year): removed after the campaign, which no one sees any more.
    let startKey: Item | undefined;
    do {
      const page = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': runsPk(campaignId) },
          ProjectionExpression: 'pk, sk',
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      const keys = page.Items ?? [];
      for (let i = 0; i < keys.length; i += BATCH)
        await this.#db.send(
          new BatchWriteCommand({
            RequestItems: {
              [this.#table]: keys.slice(i, i + BATCH).map((key) => ({ DeleteRequest: { Key: key } })),
            },
          }),
        );
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return true;
  }

  async getRun(campaignId: string, scheduledFor: string): Promise<CampaignRun | undefined> {
    const { Item: item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: runsPk(campaignId), sk: `${RUN_PREFIX}${scheduledFor}` },
        ConsistentRead: true,
      }),
    );
    return item ? (item.run as CampaignRun) : undefined;
  }

  async recordRun(campaignId: string, run: CampaignRun): Promise<boolean> {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: { pk: runsPk(campaignId), sk: `${RUN_PREFIX}${run.scheduledFor}`, kind: 'campaignRun', run },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async runs(campaignId: string, limit: number): Promise<CampaignRun[]> {
    const { Items: items = [] } = await this.#db.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :run)',
        ExpressionAttributeValues: { ':pk': runsPk(campaignId), ':run': RUN_PREFIX },
        ScanIndexForward: false,
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return items.map((item) => item.run as CampaignRun);
  }
}
