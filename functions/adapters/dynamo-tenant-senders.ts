import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { senderAddressOf, type TenantSender, type TenantSenderStore } from '../core/tenant-senders.ts';
import { type TransactItems, transactWrite } from './dynamo-items.ts';

/**
 * A tenant's own sender on the main table, and the claims that make a sender or a Twilio account one
 * tenant's (so a webhook's `AccountSid`/`To` names exactly one tenant):
 *
 *   SETTINGS#<t>              TWILIO    the tenant's sender: from | messagingServiceSid, accountSid?, senderMps?
 *   SENDERCLAIM#<address>     CLAIM     whatsapp:+E164 or MG… → tenantId
 *   ACCOUNTCLAIM#<AC…>        CLAIM     the tenant's own Twilio account → tenantId
 *
 * A change is one transaction: the sender item (conditional on the version read), the new claims
 * (free, or already this tenant's) and the release of the old ones.
 */
const senderKey = (tenantId: string) => ({ pk: `SETTINGS#${tenantId}`, sk: 'TWILIO' });
const senderClaimKey = (address: string) => ({ pk: `SENDERCLAIM#${address}`, sk: 'CLAIM' });
const accountClaimKey = (accountSid: string) => ({ pk: `ACCOUNTCLAIM#${accountSid}`, sk: 'CLAIM' });
/** Concurrent changes of one tenant's sender: the later retries on the newer version this often. */
const MAX_TRIES = 3;

export class DynamoTenantSenders implements TenantSenderStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async get(tenantId: string): Promise<TenantSender | undefined> {
    const item = await this.#read(senderKey(tenantId));
    if (!item || (!item.from && !item.messagingServiceSid)) return undefined;
    return {
      ...(typeof item.from === 'string' ? { from: item.from } : {}),
      ...(typeof item.messagingServiceSid === 'string'
        ? { messagingServiceSid: item.messagingServiceSid }
        : {}),
      ...(typeof item.accountSid === 'string' ? { accountSid: item.accountSid } : {}),
      ...(typeof item.senderMps === 'number' ? { senderMps: item.senderMps } : {}),
      updatedAt: String(item.updatedAt),
    };
  }

  async ownerOfAccount(accountSid: string): Promise<string | undefined> {
    return ownerIn(await this.#read(accountClaimKey(accountSid)));
  }

  async ownerOfSender(address: string): Promise<string | undefined> {
    return ownerIn(await this.#read(senderClaimKey(address)));
  }

  async put(
    tenantId: string,
    sender: Omit<TenantSender, 'updatedAt'>,
    at: Date,
  ): Promise<{ stored: TenantSender } | { conflict: 'sender' | 'account' }> {
    const stored: TenantSender = { ...sender, updatedAt: at.toISOString() };
    const address = senderAddressOf(sender);
    for (let tries = 0; ; tries++) {
      const old = await this.get(tenantId);
      const oldAddress = old ? senderAddressOf(old) : undefined;
      const claim = (key: Record<string, string>) => ({
        Put: {
          TableName: this.#table,
          Item: { ...key, tenantId },
          ConditionExpression: 'attribute_not_exists(pk) OR tenantId = :t',
          ExpressionAttributeValues: { ':t': tenantId },
        },
      });
      const items: TransactItems = [
        {
          Put: {
            TableName: this.#table,
            Item: { ...senderKey(tenantId), tenantId, ...stored },
            ...(old
              ? { ConditionExpression: 'updatedAt = :v', ExpressionAttributeValues: { ':v': old.updatedAt } }
              : { ConditionExpression: 'attribute_not_exists(pk) OR attribute_not_exists(updatedAt)' }),
          },
        },
        claim(senderClaimKey(address)),
      ];
      const accountIndex = sender.accountSid ? items.push(claim(accountClaimKey(sender.accountSid))) - 1 : -1;
      if (oldAddress && oldAddress !== address)
        items.push(this.#release(senderClaimKey(oldAddress), tenantId));
      if (old?.accountSid && old.accountSid !== sender.accountSid)
        items.push(this.#release(accountClaimKey(old.accountSid), tenantId));
      const result = await transactWrite(this.#db, items);
      if (result.written) return { stored };
      if (result.failed[1]) return { conflict: 'sender' };
      if (accountIndex > 0 && result.failed[accountIndex]) return { conflict: 'account' };
      if (tries + 1 >= MAX_TRIES) throw new Error(`The sender of tenant ${tenantId} kept changing meanwhile`);
    }
  }

  async remove(tenantId: string): Promise<void> {
    const old = await this.get(tenantId);
    if (!old) return;
    const items: TransactItems = [
      {
        Delete: {
          TableName: this.#table,
          Key: senderKey(tenantId),
          ConditionExpression: 'updatedAt = :v',
          ExpressionAttributeValues: { ':v': old.updatedAt },
        },
      },
      this.#release(senderClaimKey(senderAddressOf(old)), tenantId),
    ];
    if (old.accountSid) items.push(this.#release(accountClaimKey(old.accountSid), tenantId));
    const result = await transactWrite(this.#db, items);
    // Changed meanwhile: the newer setting is removed.
    if (!result.written && result.failed[0]) return this.remove(tenantId);
  }

  /** Deletes a claim only while it is this tenant's (a missing one is released already). */
  #release(key: Record<string, string>, tenantId: string): TransactItems[number] {
    return {
      Delete: {
        TableName: this.#table,
        Key: key,
        ConditionExpression: 'attribute_not_exists(pk) OR tenantId = :t',
        ExpressionAttributeValues: { ':t': tenantId },
      },
    };
  }

  async #read(key: Record<string, string>): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
    );
    return Item;
  }
}

function ownerIn(item: Record<string, unknown> | undefined): string | undefined {
  return typeof item?.tenantId === 'string' ? item.tenantId : undefined;
}
