import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import type { Contact, Group, Groups, Page } from '../core/audience.ts';
import { whatsAppIdentity } from '../core/phones.ts';
import {
  contactKey,
  GROUP_ACTIVE,
  GROUP_SK,
  groupIdemKey,
  groupItem,
  groupKey,
  groupsPk,
  memberCountChange,
  membershipKey,
  membersPk,
  toGroup,
} from './dynamo-audience-layout.ts';
import { queryPage } from './dynamo-audience-query.ts';
import { applyContactChanges } from './dynamo-contact-writes.ts';
import type { DynamoContacts } from './dynamo-contacts.ts';
import { type Item, isConditionFailure, transactWrite } from './dynamo-items.ts';

/** Memberships removed per page of a group's deletion: one Query page, 4 BatchWriteItem calls. */
const CLEANUP_PAGE = 100;
/** Contact updates in flight at once while a deleted group's memberships are removed. */
const CLEANUP_CONCURRENCY = 16;
/** BatchWriteItem takes at most 25 requests (AWS DynamoDB API reference, BatchWriteItem). */
const BATCH_WRITE_LIMIT = 25;
/** An Idempotency-Key of POST /v1/groups is remembered this long (as the broadcasts' are). */
const IDEMPOTENCY_SECONDS = 24 * 3600;

/** What `beginDelete` found: the group is now being deleted, already was, or does not exist. */
export type DeleteStart = 'started' | 'already' | 'none';

/**
 * The tenant's groups and memberships on the main table (layout: dynamo-audience-layout.ts).
 *
 * Deleting a group is two steps, so that a group of 100,000 members answers at once and stays
 * correct: `beginDelete` marks the group (one conditional write: from then on the API, the counts'
 * transactions and every add see it as gone), then `cleanup` removes its memberships page by page
 * (each contact's `groupIds` first, then the memberships), and the group's own item last. Every
 * step is idempotent, so a cleanup cut short (a timeout, a crash) is simply run again.
 */
export class DynamoGroups implements Groups {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #contacts: DynamoContacts;

  constructor(db: DynamoDBDocumentClient, table: string, contacts: DynamoContacts) {
    this.#db = db;
    this.#table = table;
    this.#contacts = contacts;
  }

  /** A conditional Put: a group id is new (ULID), so this never overwrites. */
  async create(group: Omit<Group, 'memberCount'>): Promise<Group> {
    const created: Group = { ...group, memberCount: 0 };
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: groupItem(created),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return created;
  }

  /**
   * Creates the group unless this Idempotency-Key created one in the last 24 hours: the group and
   * the key's record in one transaction. Answers the key's group (`created: false`, with the
   * fingerprint it was created with, for the caller to compare) when it already has one.
   */
  async createOnce(
    group: Omit<Group, 'memberCount'>,
    idempotency: { key: string; fingerprint: string },
    at: Date,
  ): Promise<{ group: Group; created: boolean; fingerprint: string }> {
    const key = groupIdemKey(group.tenantId, idempotency.key);
    const nowSeconds = Math.floor(at.getTime() / 1000);
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await this.#db.send(
        new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
      );
      const record = existing.Item;
      if (record && Number(record.expiresAt) >= nowSeconds) {
        const found = await this.#readGroup(group.tenantId, String(record.groupId));
        if (found) return { group: found, created: false, fingerprint: String(record.fingerprint) };
      }
      const created: Group = { ...group, memberCount: 0 };
      const result = await transactWrite(this.#db, [
        {
          Put: {
            TableName: this.#table,
            Item: groupItem(created),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Put: {
            TableName: this.#table,
            Item: {
              ...key,
              groupId: group.groupId,
              fingerprint: idempotency.fingerprint,
              expiresAt: nowSeconds + IDEMPOTENCY_SECONDS,
            },
            // A record whose group is gone (deleted) or that expired is replaced.
            ...(record
              ? {
                  ConditionExpression: 'groupId = :previous',
                  ExpressionAttributeValues: { ':previous': record.groupId },
                }
              : { ConditionExpression: 'attribute_not_exists(pk)' }),
          },
        },
      ]);
      if (result.written) return { group: created, created: true, fingerprint: idempotency.fingerprint };
    }
    throw new Error('Concurrent creates kept racing on one Idempotency-Key; try again');
  }

  async get(tenantId: string, groupId: string): Promise<Group | undefined> {
    return this.#readGroup(tenantId, groupId);
  }

  /** Newest first (group ids are ULIDs); groups being deleted are left out. */
  async list(tenantId: string, page: { limit: number; cursor?: string }): Promise<Page<Group>> {
    const result = await queryPage(this.#db, this.#table, {
      kind: 'groups',
      keys: { pk: 'pk', sk: 'sk' },
      partition: groupsPk(tenantId),
      sk: GROUP_SK,
      newestFirst: true,
      filter: { expression: 'attribute_not_exists(deletingAt)' },
      limit: page.limit,
      ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
    });
    return {
      items: result.items.flatMap((item) => toGroup(item) ?? []),
      ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}),
    };
  }

  /** Marks the group deleted and removes every membership before answering (the port's contract). */
  async delete(tenantId: string, groupId: string): Promise<boolean> {
    if ((await this.beginDelete(tenantId, groupId, new Date())) === 'none') return false;
    while (!(await this.cleanup(tenantId, groupId)).done);
    return true;
  }

  /** Step one of a delete: the group is gone for every reader and writer from now on. */
  async beginDelete(tenantId: string, groupId: string, at: Date): Promise<DeleteStart> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: groupKey(tenantId, groupId),
          UpdateExpression: 'SET deletingAt = :at',
          ConditionExpression: GROUP_ACTIVE,
          ExpressionAttributeValues: { ':at': at.toISOString() },
        }),
      );
      return 'started';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: groupKey(tenantId, groupId), ConsistentRead: true }),
    );
    return Item ? 'already' : 'none';
  }

  /**
   * Step two: removes a group's memberships, a page at a time, until none is left (then the group's
   * item goes too: `done`) or `deadline` (epoch ms) passes. Each contact loses the group from its
   * `groupIds` before its membership is deleted, so a cut-short run leaves nothing a rerun misses.
   */
  async cleanup(
    tenantId: string,
    groupId: string,
    options: { deadline?: number } = {},
  ): Promise<{ done: boolean; removed: number }> {
    let removed = 0;
    const limit = pLimit(CLEANUP_CONCURRENCY);
    for (;;) {
      const { Items = [] } = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': membersPk(tenantId, groupId) },
          ProjectionExpression: 'sk',
          ConsistentRead: true,
          Limit: CLEANUP_PAGE,
        }),
      );
      if (Items.length === 0) {
        await this.#deleteGroupItem(tenantId, groupId);
        return { done: true, removed };
      }
      const phones = Items.map((item) => String(item.sk));
      await limit.map(phones, (phone) => this.#leaveGroup(tenantId, groupId, phone));
      await this.#deleteMemberships(tenantId, groupId, phones);
      removed += phones.length;
      if (options.deadline !== undefined && Date.now() >= options.deadline) return { done: false, removed };
    }
  }

  /**
   * Adds members: unknown phones become contacts (default time zone, consent unknown); each
   * membership is counted once, in the same transaction as its group's count (49 phones per
   * transaction). Throws GroupNotFoundError when the group does not exist.
   */
  async addMembers(
    tenantId: string,
    groupId: string,
    phones: readonly string[],
    at: Date,
  ): Promise<{ added: number; alreadyMembers: number }> {
    const distinct = [...new Set(phones.map(whatsAppIdentity))];
    const outcomes = await applyContactChanges(
      this.#db,
      this.#table,
      tenantId,
      distinct.map((phone) => ({ phone, groupIds: [groupId] })),
      at,
    );
    const added = outcomes.filter((o) => o.joined.includes(groupId)).length;
    return { added, alreadyMembers: distinct.length - added };
  }

  /**
   * One transaction: the membership (conditional: it exists), the group's count −1 (conditional:
   * the group is active) and the contact's groupIds. False when the phone is not a member (or the
   * group is not active).
   */
  async removeMember(tenantId: string, groupId: string, phone: string): Promise<boolean> {
    const membership = {
      Delete: {
        TableName: this.#table,
        Key: membershipKey(tenantId, groupId, phone),
        ConditionExpression: 'attribute_exists(pk)',
      },
    };
    const count = memberCountChange(this.#table, tenantId, groupId, -1);
    const result = await transactWrite(this.#db, [
      membership,
      count,
      leaveGroup(this.#table, tenantId, groupId, phone),
    ]);
    if (result.written) return true;
    const [noMembership, noGroup, noContact] = result.failed;
    if (noMembership || noGroup || !noContact) return false;
    // A membership whose contact is gone (an erasure's window): the membership and its count go alone.
    return (await transactWrite(this.#db, [membership, count])).written;
  }

  /** A page of the group's members, as contacts, in phone order. */
  members(
    tenantId: string,
    groupId: string,
    page: { limit: number; cursor?: string },
  ): Promise<Page<Contact>> {
    return this.#contacts.members(tenantId, groupId, page);
  }

  /** A page of the group's members' phones only (no contact reads), in phone order. */
  async memberPhones(
    tenantId: string,
    groupId: string,
    page: { limit: number; cursor?: string },
  ): Promise<Page<string>> {
    const result = await queryPage(this.#db, this.#table, {
      kind: 'members',
      keys: { pk: 'pk', sk: 'sk' },
      partition: membersPk(tenantId, groupId),
      sk: /^\+[0-9]{1,20}$/,
      limit: page.limit,
      ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
    });
    return {
      items: result.items.map((item) => String(item.sk)),
      ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}),
    };
  }

  async #readGroup(tenantId: string, groupId: string): Promise<Group | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: groupKey(tenantId, groupId), ConsistentRead: true }),
    );
    return toGroup(Item);
  }

  /** The contact's groupIds without this group (an erased contact: nothing to update). */
  async #leaveGroup(tenantId: string, groupId: string, phone: string): Promise<void> {
    try {
      await this.#db.send(new UpdateCommand(leaveGroup(this.#table, tenantId, groupId, phone).Update));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** BatchWriteItem deletes in 25s, re-sending what DynamoDB leaves unprocessed. */
  async #deleteMemberships(tenantId: string, groupId: string, phones: readonly string[]): Promise<void> {
    for (let start = 0; start < phones.length; start += BATCH_WRITE_LIMIT) {
      let pending: Item[] = phones
        .slice(start, start + BATCH_WRITE_LIMIT)
        .map((phone) => ({ DeleteRequest: { Key: membershipKey(tenantId, groupId, phone) } }));
      for (let tries = 0; pending.length > 0; tries++) {
        if (tries > 8) throw new Error('DynamoDB kept throttling the deletion of memberships');
        if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** tries));
        const result = await this.#db.send(
          new BatchWriteCommand({ RequestItems: { [this.#table]: pending as never } }),
        );
        pending = (result.UnprocessedItems?.[this.#table] ?? []) as Item[];
      }
    }
  }

  async #deleteGroupItem(tenantId: string, groupId: string): Promise<void> {
    await this.#db
      .send(
        new DeleteCommand({
          TableName: this.#table,
          Key: groupKey(tenantId, groupId),
          ConditionExpression: 'attribute_exists(deletingAt)',
        }),
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }
}

/** The contact's update leaving a group: its version bumped, so a concurrent upsert reads it again. */
function leaveGroup(table: string, tenantId: string, groupId: string, phone: string) {
  return {
    Update: {
      TableName: table,
      Key: contactKey(tenantId, phone),
      UpdateExpression: 'DELETE groupIds :group ADD #version :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: { ':group': new Set([groupId]), ':one': 1 },
    },
  };
}
