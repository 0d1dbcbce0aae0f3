import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import type { AuditEntry } from '../core/access.ts';
import type { AuditLog } from '../core/access-ports.ts';
import type { Page } from '../core/audience.ts';
import { queryPage } from './dynamo-audience-query.ts';

/**
 * The audit log: `AUDIT#<tenant>` / `<ULID>`, one item per successful write, newest first by its
 * ULID (time-sortable to the millisecond). Each carries `expiresAt` (the table's TTL attribute).
 * One partition per tenant takes the tenant's writes, which the per-tenant rate limit bounds far
 * below DynamoDB's 1,000 write units/s per partition
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html).
 */
const partition = (tenantId: string) => `AUDIT#${tenantId}`;
const ENTRY_SK = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export class DynamoAuditLog implements AuditLog {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async append(tenantId: string, entry: AuditEntry, expiresAt: number): Promise<void> {
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: { pk: partition(tenantId), sk: ulid(Date.parse(entry.at)), ...entry, expiresAt },
      }),
    );
  }

  async list(
    tenantId: string,
    query: { limit: number; cursor?: string; action?: string; keyId?: string },
  ): Promise<Page<AuditEntry>> {
    const conditions: string[] = [];
    const values: Record<string, unknown> = {};
    if (query.action) {
      conditions.push('#action = :action');
      values[':action'] = query.action;
    }
    if (query.keyId) {
      conditions.push('keyId = :keyId');
      values[':keyId'] = query.keyId;
    }
    const result = await queryPage(this.#db, this.#table, {
      kind: 'audit',
      keys: { pk: 'pk', sk: 'sk' },
      partition: partition(tenantId),
      sk: ENTRY_SK,
      newestFirst: true,
      limit: query.limit,
      ...(query.cursor ? { cursor: query.cursor } : {}),
      ...(conditions.length > 0
        ? {
            filter: {
              expression: conditions.join(' AND '),
              ...(query.action ? { names: { '#action': 'action' } } : {}),
              values,
            },
          }
        : {}),
    });
    return {
      items: result.items.map((item) => ({
        at: String(item.at),
        keyId: String(item.keyId),
        action: String(item.action),
        ...(typeof item.resource === 'string' ? { resource: item.resource } : {}),
        detail: (item.detail ?? {}) as AuditEntry['detail'],
      })),
      ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}),
    };
  }
}
