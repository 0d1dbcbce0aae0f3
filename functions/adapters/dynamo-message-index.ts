import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { MessageIndex, MessageRef } from '../core/ports.ts';
import { DEFAULT_RECIPIENT_RETENTION_DAYS, expiresAfter } from '../core/retention.ts';
import { sidKey } from './table-layout.ts';

/**
 * Provider SID → the recipient it went to (`SID#<sid>` / `SID`). Written only where a later message
 * must find its recipient by SID alone: a two-step broadcast's template, whose confirmation tap names
 * it in `OriginalRepliedMessageSid`. One-step sends need no index: their callbacks name the recipient
 * in the signed callback URL, and their history entry records the SID. An entry expires with the
 * recipient it names (`retentionDays`, RECIPIENT_RETENTION_DAYS): a tap after that finds no recipient.
 */
export class DynamoMessageIndex implements MessageIndex {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionDays: number;

  constructor(db: DynamoDBDocumentClient, table: string, options: { retentionDays?: number } = {}) {
    this.#db = db;
    this.#table = table;
    this.#retentionDays = options.retentionDays ?? DEFAULT_RECIPIENT_RETENTION_DAYS;
  }

  async index(sid: string, ref: MessageRef): Promise<void> {
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          ...sidKey(sid),
          tenantId: ref.tenantId,
          broadcastId: ref.broadcastId,
          index: ref.index,
          kind: ref.kind,
          expiresAt: expiresAfter(new Date(), this.#retentionDays),
        },
      }),
    );
  }

  async find(sid: string): Promise<MessageRef | undefined> {
    const { Item } = await this.#db.send(new GetCommand({ TableName: this.#table, Key: sidKey(sid) }));
    return Item
      ? {
          tenantId: String(Item.tenantId),
          broadcastId: String(Item.broadcastId),
          index: Number(Item.index),
          kind: Item.kind === 'followUp' ? 'followUp' : 'template',
        }
      : undefined;
  }
}
