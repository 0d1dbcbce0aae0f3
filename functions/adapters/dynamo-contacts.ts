import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import type { Contact, Contacts, ContactUpsert, Page } from '../core/audience.ts';
import type { ContactChange } from '../core/contact-rules.ts';
import { foldName } from '../core/contact-rules.ts';
import { decodeItemCursor, encodeItemCursor } from '../core/cursor.ts';
import { whatsAppIdentity } from '../core/phones.ts';
import {
  CONTACT_NAME_INDEX,
  contactKey,
  contactNamePk,
  contactsPk,
  groupKey,
  memberCountChange,
  membershipKey,
  membersPk,
  nameSkWithin,
  PHONE_SK,
  phoneSkWithin,
  type StoredContact,
  toGroup,
  toStoredContact,
} from './dynamo-audience-layout.ts';
import { queryPage } from './dynamo-audience-query.ts';
import { applyContactChanges, readContacts, TRANSACT_LIMIT } from './dynamo-contact-writes.ts';
import { batchGet, type Item, type TransactItems, transactWrite } from './dynamo-items.ts';

/** Contacts per upsertMany call (the port's contract: one import batch). */
export const MAX_UPSERT_BATCH = 100;
/** BatchGetItem reads at most 100 keys (AWS DynamoDB API reference, BatchGetItem). */
const BATCH_GET_KEYS = 100;
/** BatchGetItem calls in flight at once when a page of members is read. */
const READ_CONCURRENCY = 8;
/** Membership pages a filtered members list reads per request at most (100 keys each). */
const FILTERED_MEMBER_READS = 20;

/** What a contacts list may be narrowed to (API: GET /v1/contacts?tag=&groupId=&q=). */
export interface ContactFilter {
  readonly tag?: string;
  readonly groupId?: string;
  /** A phone prefix (`+97250`, `97250`) or a name prefix (case- and accent-insensitive). */
  readonly q?: string;
}

/**
 * The tenant's contacts on the main table (layout: dynamo-audience-layout.ts). Every read and
 * write is scoped to the tenant by its partition key: another tenant's contact is never read.
 */
export class DynamoContacts implements Contacts {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async get(tenantId: string, phone: string): Promise<Contact | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: contactKey(tenantId, phone), ConsistentRead: true }),
    );
    if (!Item) return undefined;
    const [contact] = await this.#withActiveGroups(tenantId, [toStoredContact(Item).contact]);
    return contact;
  }

  /** The contacts of these phones that exist (strongly consistent), by their stored phone. */
  async getMany(tenantId: string, phones: readonly string[]): Promise<Map<string, Contact>> {
    const contacts = await this.#read(tenantId, phones);
    return new Map((await this.#withActiveGroups(tenantId, contacts)).map((c) => [c.phone, c]));
  }

  /** Creates or updates one contact (the port's rules, plus the PUT route's removals). */
  async upsert(
    tenantId: string,
    contact: ContactUpsert | ContactChange,
    at: Date,
  ): Promise<{ contact: Contact; created: boolean }> {
    const [outcome] = await applyContactChanges(this.#db, this.#table, tenantId, [contact], at);
    if (!outcome) throw new Error('upsert: no outcome');
    const [shown] = await this.#withActiveGroups(tenantId, [outcome.contact]);
    return { contact: shown ?? outcome.contact, created: outcome.created };
  }

  /**
   * Up to 100 contacts with distinct phones, memberships included (dynamo-contact-writes.ts: 49
   * contacts per transaction, each one's memberships and its groups' counts with it). Throws
   * GroupNotFoundError (a named group does not exist) or ContactLimitError (a merge over the
   * limits, its `phone` named) before anything is written.
   */
  async upsertMany(
    tenantId: string,
    contacts: readonly ContactUpsert[],
    at: Date,
  ): Promise<{ created: number; updated: number }> {
    if (contacts.length > MAX_UPSERT_BATCH)
      throw new Error(`upsertMany: at most ${MAX_UPSERT_BATCH} contacts per call (got ${contacts.length})`);
    const outcomes = await applyContactChanges(this.#db, this.#table, tenantId, contacts, at);
    const created = outcomes.filter((o) => o.created).length;
    return { created, updated: outcomes.length - created };
  }

  /**
   * Phone order. `groupId` reads that group's members (dynamo-groups.ts: its own item collection);
   * `q` as a phone prefix is a key condition, as a name prefix a Query of the contactsByName index
   * (eventually consistent); `tag` is a filter (pages may come short: follow `nextCursor`).
   */
  async list(
    tenantId: string,
    filter: ContactFilter,
    page: { limit: number; cursor?: string },
  ): Promise<Page<Contact>> {
    const phonePrefix = filter.q !== undefined ? phonePrefixOf(filter.q) : undefined;
    const namePrefix = filter.q !== undefined && phonePrefix === undefined ? foldName(filter.q) : undefined;
    if (filter.groupId !== undefined)
      return this.members(tenantId, filter.groupId, page, {
        ...(phonePrefix !== undefined ? { phonePrefix } : {}),
        ...(namePrefix !== undefined ? { namePrefix } : {}),
        ...(filter.tag !== undefined ? { tag: filter.tag } : {}),
      });
    const tagFilter =
      filter.tag !== undefined
        ? { filter: { expression: 'contains(tags, :tag)', values: { ':tag': filter.tag } } }
        : {};
    const cursor = page.cursor !== undefined ? { cursor: page.cursor } : {};
    const result =
      namePrefix !== undefined
        ? await queryPage(this.#db, this.#table, {
            kind: 'contactNames',
            index: CONTACT_NAME_INDEX,
            keys: { pk: 'namePk', sk: 'nameSk' },
            partition: contactNamePk(tenantId),
            // A q of marks only folds to nothing: every named contact.
            ...(namePrefix !== '' ? { prefix: namePrefix } : {}),
            sk: nameSkWithin(namePrefix),
            startKey: (position) => ({
              namePk: position.pk,
              nameSk: position.sk,
              ...contactKey(tenantId, position.sk.slice(position.sk.lastIndexOf('#') + 1)),
            }),
            limit: page.limit,
            ...cursor,
            ...tagFilter,
          })
        : await queryPage(this.#db, this.#table, {
            kind: 'contacts',
            keys: { pk: 'pk', sk: 'sk' },
            partition: contactsPk(tenantId),
            ...(phonePrefix !== undefined ? { prefix: phonePrefix } : {}),
            sk: phonePrefix !== undefined ? phoneSkWithin(phonePrefix) : PHONE_SK,
            limit: page.limit,
            ...cursor,
            ...tagFilter,
          });
    const contacts = await this.#withActiveGroups(
      tenantId,
      result.items.map((item) => toStoredContact(item).contact),
    );
    return { items: contacts, ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}) };
  }

  /**
   * A group's members, in phone order, as contacts; optionally narrowed (phone prefix: a key
   * condition; name prefix and tag: read and compared, at most FILTERED_MEMBER_READS membership
   * pages per request). A group that does not exist has no members (the route answers 404 first).
   */
  async members(
    tenantId: string,
    groupId: string,
    page: { limit: number; cursor?: string },
    filter: { phonePrefix?: string; namePrefix?: string; tag?: string } = {},
  ): Promise<Page<Contact>> {
    const partition = membersPk(tenantId, groupId);
    const { phonePrefix, namePrefix, tag } = filter;
    const narrowed = namePrefix !== undefined || tag !== undefined;
    let startKey: Item | undefined =
      page.cursor !== undefined
        ? {
            ...decodeItemCursor('members', page.cursor, {
              pk: partition,
              sk: phonePrefix !== undefined ? phoneSkWithin(phonePrefix) : PHONE_SK,
            }),
          }
        : undefined;
    const matches: Contact[] = [];
    let reads = 0;
    do {
      const result = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression:
            phonePrefix !== undefined ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
          ExpressionAttributeValues: {
            ':pk': partition,
            ...(phonePrefix !== undefined ? { ':prefix': phonePrefix } : {}),
          },
          ProjectionExpression: 'sk',
          ConsistentRead: true,
          Limit: narrowed ? BATCH_GET_KEYS : page.limit + 1 - matches.length,
          ExclusiveStartKey: startKey,
        }),
      );
      const phones = (result.Items ?? []).map((item) => String(item.sk));
      const found = await this.getMany(tenantId, phones);
      for (const phone of phones) {
        const contact = found.get(phone);
        // A membership whose contact is gone is an erasure in progress: not a member any more.
        if (!contact) continue;
        if (tag !== undefined && !contact.tags.includes(tag)) continue;
        if (namePrefix !== undefined && !foldName(contact.name ?? '').startsWith(namePrefix)) continue;
        matches.push(contact);
      }
      startKey = result.LastEvaluatedKey;
      reads++;
    } while (startKey && matches.length <= page.limit && (!narrowed || reads < FILTERED_MEMBER_READS));
    if (matches.length > page.limit) {
      const items = matches.slice(0, page.limit);
      return { items, nextCursor: memberCursor(tenantId, groupId, (items.at(-1) as Contact).phone) };
    }
    if (startKey) return { items: matches, nextCursor: memberCursor(tenantId, groupId, String(startKey.sk)) };
    return { items: matches };
  }

  /**
   * Erases the contact and its memberships, each group's count moved in the same transaction as
   * its membership (a group being deleted loses the membership without a count: it has none to
   * keep). More groups than one transaction holds are left in transactions of 49 first, the
   * contact's own item last, each conditional on the version read, so a concurrent write is read
   * again rather than overwritten. False when there was no contact.
   */
  async erase(tenantId: string, phone: string): Promise<boolean> {
    // Memberships found missing although the contact listed them: removed from it without a count.
    const uncounted = new Set<string>();
    for (let conflicts = 0; conflicts < 8; ) {
      const stored = (await readContacts(this.#db, this.#table, tenantId, [phone])).get(
        whatsAppIdentity(phone),
      );
      if (!stored) return false;
      const all = stored.contact.groupIds;
      const active = await this.#activeGroupIds(tenantId, all);
      for (const groupId of uncounted) active.delete(groupId);
      // Each group costs a membership delete and, when counted, a count update; one action for the contact.
      const batch: string[] = [];
      let actions = 1;
      for (const groupId of all) {
        const cost = active.has(groupId) ? 2 : 1;
        if (actions + cost > TRANSACT_LIMIT) break;
        batch.push(groupId);
        actions += cost;
      }
      const last = batch.length === all.length;
      const roles: (string | undefined)[] = [];
      const result = await transactWrite(
        this.#db,
        this.#eraseTransaction(tenantId, stored, batch, active, last, roles),
      );
      if (result.written) {
        if (last) return true;
        continue;
      }
      conflicts++;
      result.failed.forEach((failed, index) => {
        const groupId = roles[index];
        if (failed && groupId) uncounted.add(groupId);
      });
    }
    throw new Error('The contact kept changing while it was being erased; try again');
  }

  /** The erase transaction; `roles[i]` is the group whose membership action `i` deletes. */
  #eraseTransaction(
    tenantId: string,
    stored: StoredContact,
    groupIds: readonly string[],
    active: ReadonlySet<string>,
    last: boolean,
    roles: (string | undefined)[],
  ): TransactItems {
    const { contact, version } = stored;
    const versioned = {
      ConditionExpression: '#version = :version',
      ExpressionAttributeNames: { '#version': 'version' },
    };
    const items: TransactItems = [
      last
        ? {
            Delete: {
              TableName: this.#table,
              Key: contactKey(tenantId, contact.phone),
              ...versioned,
              ExpressionAttributeValues: { ':version': version },
            },
          }
        : {
            Update: {
              TableName: this.#table,
              Key: contactKey(tenantId, contact.phone),
              UpdateExpression: 'SET #version = :next DELETE groupIds :groups',
              ...versioned,
              ExpressionAttributeValues: {
                ':version': version,
                ':next': version + 1,
                ':groups': new Set(groupIds),
              },
            },
          },
    ];
    roles.push(undefined);
    for (const groupId of groupIds) {
      const counted = active.has(groupId);
      items.push({
        Delete: {
          TableName: this.#table,
          Key: membershipKey(tenantId, groupId, contact.phone),
          ...(counted ? { ConditionExpression: 'attribute_exists(pk)' } : {}),
        },
      });
      roles.push(groupId);
      if (counted) {
        items.push(memberCountChange(this.#table, tenantId, groupId, -1));
        roles.push(undefined);
      }
    }
    return items;
  }

  /** The contacts of these phones, read in BatchGetItem calls of 100, several at once. */
  async #read(tenantId: string, phones: readonly string[]): Promise<Contact[]> {
    const chunks: string[][] = [];
    for (let i = 0; i < phones.length; i += BATCH_GET_KEYS) chunks.push(phones.slice(i, i + BATCH_GET_KEYS));
    const pages = await pLimit(READ_CONCURRENCY).map(chunks, (chunk) =>
      batchGet(
        this.#db,
        this.#table,
        chunk.map((phone) => contactKey(tenantId, phone)),
      ),
    );
    return pages.flat().map((item) => toStoredContact(item).contact);
  }

  /** The contacts with only the groups that still exist in their groupIds (a deleted one is being cleaned up). */
  async #withActiveGroups(tenantId: string, contacts: readonly Contact[]): Promise<Contact[]> {
    const active = await this.#activeGroupIds(tenantId, [...new Set(contacts.flatMap((c) => c.groupIds))]);
    return contacts.map((c) =>
      c.groupIds.every((g) => active.has(g))
        ? c
        : { ...c, groupIds: c.groupIds.filter((g) => active.has(g)) },
    );
  }

  async #activeGroupIds(tenantId: string, groupIds: readonly string[]): Promise<Set<string>> {
    if (groupIds.length === 0) return new Set();
    const items = await batchGet(
      this.#db,
      this.#table,
      groupIds.map((id) => groupKey(tenantId, id)),
    );
    return new Set(items.map(toGroup).flatMap((g) => (g ? [g.groupId] : [])));
  }
}

/** The cursor of a members list positioned after `phone` (for a CSV export that stops mid-page). */
export function memberCursor(tenantId: string, groupId: string, phone: string): string {
  return encodeItemCursor('members', { pk: membersPk(tenantId, groupId), sk: whatsAppIdentity(phone) });
}

/**
 * `q` as a phone prefix (`+97250`, `97250`, `+972 50-1`) in E.164 form, or undefined when it is a
 * name: digits with an optional leading `+` once spaces, dashes, dots and parentheses are dropped.
 */
export function phonePrefixOf(q: string): string | undefined {
  const compact = q.trim().replace(/[\s\-.()]/g, '');
  return /^\+?[0-9]{1,15}$/.test(compact) ? `+${compact.replace(/^\+/, '')}` : undefined;
}
