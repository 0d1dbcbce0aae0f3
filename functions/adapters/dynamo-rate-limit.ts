import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TenantRateLimiter } from '../core/access-ports.ts';

/**
 * Fixed one-second windows per tenant: `RATE#<tenant>#<epoch second>` / `RATE`, a counter raised by
 * one conditional ADD per request (one write request unit: the item is far under 1 KB), refused when
 * it already holds the limit. Windows expire through the table's TTL (`expiresAt`) a minute later;
 * they are never read again, so TTL's lateness (deletion within days) costs only storage of a few
 * bytes. Each window is its own partition key, so a tenant's hot second never shares a partition's
 * throughput with its next second or another tenant (a partition takes up to 1,000 write units/s:
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html).
 * Cost: one write request unit per admin request, $0.625 per million on demand (us-east-1, since
 * DynamoDB's November 2024 price cut: https://aws.amazon.com/dynamodb/pricing/on-demand/).
 */
const WINDOW_TTL_SECONDS = 60;

export class DynamoRateLimiter implements TenantRateLimiter {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async take(tenantId: string, nowMs: number, limit: number): Promise<boolean> {
    const second = Math.floor(nowMs / 1000);
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: `RATE#${tenantId}#${second}`, sk: 'RATE' },
          UpdateExpression: 'ADD #count :one SET expiresAt = if_not_exists(expiresAt, :expires)',
          ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
          ExpressionAttributeNames: { '#count': 'requests' },
          ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':expires': second + WINDOW_TTL_SECONDS },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}
