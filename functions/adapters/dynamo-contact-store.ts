import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import DataLoader from 'dataloader';
import pLimit from 'p-limit';
import { type CursorKind, decodeItemCursor, encodeItemCursor, literal } from '../core/cursor.ts';
import { whatsAppIdentity } from '../core/phones.ts';
import type { ContactMessage, ContactStore, Suppression, SuppressionReason } from '../core/ports.ts';
import { DEFAULT_HISTORY_RETENTION_DAYS, expiresAfter } from '../core/retention.ts';
import { batchGet, batchPut, isConditionFailure, queryAll, strip, transactWrite } from './dynamo-items.ts';

/**
 * Suppression lists and contact history, on the same main table as the broadcasts (pk / sk):
 *
 *   SUPPRESS#<t>       <phone>                      a suppression: { tenantId, phone, reason, detail?, createdAt }
 *   SUPPRESS#*         <phone>                      a person's sender-wide opt-out: { scope: 'sender', phone, reason, detail?, createdAt }
 *   CONTACT#<phone>    MSG#<t>#<at ISO>#<sid>       one message of the contact's history with tenant t
 *                                                  (expiresAt: HISTORY_RETENTION_DAYS after the message)
 *   INBOUND#<sid>      INBOUND                      an inbound MessageSid handled (expiresAt: 7 days)
 *
 * A tenant's suppression list is one item collection, ordered by phone: the send path's check is
 * one strongly consistent read of that phone's item, and the create route reads the whole list once
 * (keys only) rather than one read per recipient. The list is paged in phone order (no newest-first:
 * that would need an index for an admin convenience).
 *
 * The sender-wide list holds the opt-outs people sent (STOP, an opt-out button): every tenant of this
 * deployment sends from its one sender, so the person refused all of them, including tenants created
 * later. `*` is not a tenant-id character, so no tenant's list can be this one. Every read of a
 * tenant's list reads it too: the send path's check is one BatchGetItem of both items (shared by the
 * checks of concurrent sends), the create route's two Queries. All tenants' sends read this one partition: at the sender's ceiling of 1,000
 * messages/s (Meta's highest rate), 1,000 read units/s, a third of a partition's 3,000.
 *
 * Every phone is keyed by its WhatsApp identity (phones.ts whatsAppIdentity), so `+52 1 55…` and
 * `+52 55…`, or a Brazilian number with and without its ninth digit, are one item.
 *
 * A contact's history is one item collection per phone, grouped by tenant and ordered by time
 * within it: one Query (begins_with `MSG#<t>#`, newest first) pages one tenant's history, and the
 * trailing `#` keeps tenant `a` from reading tenant `ab`. Tenant ids are `[A-Za-z0-9_-]`, all above
 * `#` in byte order, so each tenant's entries are one contiguous run of sort keys; the tenants of a
 * contact are found with a descending skip-scan (one Limit-1 Query per tenant, which lands on that
 * tenant's newest entry), never by reading the history. Each contact is its own partition, so a
 * 100,000-recipient broadcast writes 100,000 partitions, not one.
 *
 * Cursors (functions/core/cursor.ts) name the key of a page's last item; one is honoured only when
 * its partition is the one being read (this tenant's list, this contact's history) and its sort key
 * is a key of that list (the history's within this tenant's prefix), so another tenant's or
 * contact's cursor is refused, never used as a position.
 */
const suppressionPk = (tenantId: string) => `SUPPRESS#${tenantId}`;
const SENDER_SUPPRESSION_PK = 'SUPPRESS#*';
const contactPk = (phone: string) => `CONTACT#${whatsAppIdentity(phone)}`;
/** With its trailing `#`: tenant `a`'s prefix is not a prefix of tenant `ab`'s keys. */
const historyPrefix = (tenantId: string) => `MSG#${tenantId}#`;
const messageSk = (m: Pick<ContactMessage, 'tenantId' | 'at' | 'messageSid'>) =>
  `${historyPrefix(m.tenantId)}${isoOf(m.at)}#${m.messageSid}`;
const inboundKey = (sid: string) => ({ pk: `INBOUND#${sid}`, sk: 'INBOUND' });
/** A suppression's sort key: an E.164 number (or one that was, as stored). */
const SUPPRESSION_SK = /^\+[0-9]{1,20}$/;
/** A history entry's sort key within one tenant's prefix: `MSG#<t>#<time>#<sid>`. */
const historySk = (tenantId: string) =>
  new RegExp(`^${literal(historyPrefix(tenantId))}[^#]{1,64}#[^#]{1,64}$`);
/** Above every character of a tenant id, a timestamp or a SID (all ASCII). */
const HIGHEST = '\uffff';

const DAY = 86_400;
/** Twilio retries a webhook within minutes; a week covers any redelivery with room to spare. */
const INBOUND_MARKER_TTL_SECONDS = 7 * DAY;
/** One TransactWriteItems holds at most 100 items: the marker and 99 entries. */
const TRANSACT_LIMIT = 100;

export interface ContactStoreOptions {
  /**
   * Items per Query page when reading a whole suppression list (DynamoDB's own 1 MB page,
   * about 10,000 suppressions, when unset). Tests set it low to exercise paging.
   */
  readonly listPageSize?: number;
  /** HISTORY_RETENTION_DAYS (core/retention.ts): each history entry expires that long after its message. */
  readonly historyRetentionDays?: number;
}

/** History entries updated at once by an erasure. */
const ERASE_CONCURRENCY = 16;

/** BatchGetItem reads at most 100 keys (AWS DynamoDB API reference, BatchGetItem): 50 checks of 2 keys. */
const CHECKS_PER_BATCH = 50;

export class DynamoContactStore implements ContactStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly listPageSize: number | undefined;
  private readonly historyRetentionDays: number;
  /**
   * The send path's checks, coalesced: the sends of one paced block ask in the same tick, and share
   * one BatchGetItem instead of one request each. Not cached: an opt-out binds the very next send.
   */
  private readonly suppressionChecks: DataLoader<{ tenantId: string; sk: string }, Suppression | undefined>;

  constructor(db: DynamoDBDocumentClient, table: string, options: ContactStoreOptions = {}) {
    this.db = db;
    this.table = table;
    this.listPageSize = options.listPageSize;
    this.historyRetentionDays = options.historyRetentionDays ?? DEFAULT_HISTORY_RETENTION_DAYS;
    this.suppressionChecks = new DataLoader((checks) => this.readSuppressions(checks), {
      cache: false,
      maxBatchSize: CHECKS_PER_BATCH,
    });
  }

  // -- Suppressions ------------------------------------------------------------------------------

  /**
   * A Put: adding a number again replaces its reason, detail and createdAt (the latest add wins).
   * With `replaces`, a conditional Put: written only when the list lacks the number or its entry has
   * one of those reasons; otherwise the entry stays as it is and is answered (DynamoDB returns it with
   * the refusal, no second read).
   */
  async suppress(
    s: Suppression,
    options: { readonly replaces?: readonly SuppressionReason[] } = {},
  ): Promise<Suppression | undefined> {
    const phone = whatsAppIdentity(s.phone);
    const replaces = options.replaces;
    const reasons = Object.fromEntries((replaces ?? []).map((reason, i) => [`:r${i}`, reason]));
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: suppressionPk(s.tenantId),
            sk: phone,
            tenantId: s.tenantId,
            phone,
            reason: s.reason,
            ...(s.detail !== undefined ? { detail: s.detail } : {}),
            createdAt: s.createdAt,
          },
          ...(replaces
            ? {
                ConditionExpression: [
                  'attribute_not_exists(pk)',
                  ...(replaces.length > 0 ? [`reason IN (${Object.keys(reasons).join(', ')})`] : []),
                ].join(' OR '),
                ...(replaces.length > 0 ? { ExpressionAttributeValues: reasons } : {}),
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              }
            : {}),
        }),
      );
      return undefined;
    } catch (error) {
      if (!(replaces && isConditionFailure(error))) throw error;
      // The document client does not translate an error's item: it comes in DynamoDB's typed form.
      const kept = (error as { Item?: Parameters<typeof unmarshall>[0] }).Item;
      // Refused, so an entry is there, and DynamoDB returns it (ALL_OLD): never answer "written".
      if (!kept) throw new Error('suppression write refused without the entry that refused it');
      return toSuppression(unmarshall(kept), s.tenantId);
    }
  }

  async unsuppress(tenantId: string, phone: string): Promise<boolean> {
    return this.deleteIfThere(suppressionPk(tenantId), phone);
  }

  /** A plain Put, like suppress: a second opt-out replaces the first (its keyword, its time). */
  async suppressForSender(s: Omit<Suppression, 'tenantId' | 'scope'>): Promise<void> {
    const phone = whatsAppIdentity(s.phone);
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: SENDER_SUPPRESSION_PK,
          sk: phone,
          scope: 'sender',
          phone,
          reason: s.reason,
          ...(s.detail !== undefined ? { detail: s.detail } : {}),
          createdAt: s.createdAt,
        },
      }),
    );
  }

  async unsuppressForSender(phone: string): Promise<boolean> {
    return this.deleteIfThere(SENDER_SUPPRESSION_PK, phone);
  }

  async suppression(tenantId: string, phone: string): Promise<Suppression | undefined> {
    return this.suppressionChecks.load({ tenantId, sk: whatsAppIdentity(phone) });
  }

  /**
   * Both lists for each check in one strongly consistent BatchGetItem: the same read units as a
   * GetItem per item (each item is billed on its own), one request for a whole block of sends. A
   * sender-wide opt-out binds before the tenant's own entry.
   */
  private async readSuppressions(
    checks: readonly { tenantId: string; sk: string }[],
  ): Promise<(Suppression | undefined)[]> {
    const keys = new Map<string, { pk: string; sk: string }>();
    for (const { tenantId, sk } of checks)
      for (const pk of [SENDER_SUPPRESSION_PK, suppressionPk(tenantId)]) keys.set(`${pk}\n${sk}`, { pk, sk });
    const found = new Map<string, Record<string, unknown>>();
    for (const item of await batchGet(this.db, this.table, [...keys.values()]))
      found.set(`${String(item.pk)}\n${String(item.sk)}`, item);
    return checks.map(({ tenantId, sk }) => {
      const sender = found.get(`${SENDER_SUPPRESSION_PK}\n${sk}`);
      if (sender) return toSuppression(sender, tenantId);
      const own = found.get(`${suppressionPk(tenantId)}\n${sk}`);
      return own ? toSuppression(own, tenantId) : undefined;
    });
  }

  /**
   * Reads the tenant's whole list and the sender-wide one (sort keys only) and intersects them in
   * memory: the cost follows the lists' size, not the broadcast's (one Query page holds ~10,000
   * suppressions). Answers with the phones as the caller wrote them.
   */
  async suppressedAmong(tenantId: string, phones: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (phones.length === 0) return found;
    const wanted = new Map<string, string[]>();
    for (const phone of phones) {
      const key = whatsAppIdentity(phone);
      wanted.set(key, [...(wanted.get(key) ?? []), phone]);
    }
    await Promise.all(
      [suppressionPk(tenantId), SENDER_SUPPRESSION_PK].map(async (pk) => {
        for await (const sk of this.sortKeys(pk)) for (const phone of wanted.get(sk) ?? []) found.add(phone);
      }),
    );
    return found;
  }

  /**
   * In phone order, the tenant's list and the sender-wide one merged; a phone on both is listed once,
   * as its sender-wide opt-out (the one that binds). Each list is read from the cursor for one item
   * more than the page: whatever the merge's first `limit + 1` phones are, they are among those.
   */
  async listSuppressions(tenantId: string, page: { limit: number; cursor?: string }) {
    const after =
      page.cursor !== undefined
        ? decodeItemCursor('suppressions', page.cursor, { pk: suppressionPk(tenantId), sk: SUPPRESSION_SK })
            .sk
        : undefined;
    const [own, sender] = await Promise.all([
      this.readAfter(suppressionPk(tenantId), after, page.limit + 1),
      this.readAfter(SENDER_SUPPRESSION_PK, after, page.limit + 1),
    ]);
    const byPhone = new Map<string, Record<string, unknown>>();
    for (const item of own) byPhone.set(String(item.sk), item);
    for (const item of sender) byPhone.set(String(item.sk), item);
    const merged = [...byPhone.keys()].sort().map((sk) => byPhone.get(sk) as Record<string, unknown>);
    const items = merged.slice(0, page.limit).map((item) => toSuppression(item, tenantId));
    if (merged.length <= page.limit) return { items };
    const last = String(merged[page.limit - 1]?.sk);
    return { items, nextCursor: encodeItemCursor('suppressions', { pk: suppressionPk(tenantId), sk: last }) };
  }

  // -- History -----------------------------------------------------------------------------------

  /** A plain Put keyed by tenant, time and SID: recording the same message again rewrites the same item. */
  async recordMessage(message: ContactMessage): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: messageItem(message, this.historyRetentionDays) }),
    );
  }

  /** BatchWriteItem puts (25 a call): the same items as recordMessage, in a few calls. */
  async recordMessages(messages: readonly ContactMessage[]): Promise<void> {
    const unique = new Map(
      messages.map((m) => [`${m.phone}|${messageSk(m)}`, messageItem(m, this.historyRetentionDays)]),
    );
    await batchPut(this.db, this.table, [...unique.values()]);
  }

  /**
   * One transaction: the handled-marker (conditional: not handled before, or its marker expired)
   * and every entry. A Twilio retry of a handled message cancels it on the marker: false.
   */
  async recordInbound(messageSid: string, entries: readonly ContactMessage[]): Promise<boolean> {
    const unique = new Map<string, Record<string, unknown>>();
    for (const entry of entries) {
      const item = messageItem(entry, this.historyRetentionDays);
      unique.set(`${item.pk}|${item.sk}`, item);
    }
    if (unique.size > TRANSACT_LIMIT - 1)
      throw new Error(
        `recordInbound: at most ${TRANSACT_LIMIT - 1} entries per message (got ${unique.size})`,
      );
    const nowSeconds = Math.floor(Date.now() / 1000);
    // Conflicts and throttling are retried; only the marker's condition means "handled before".
    const result = await transactWrite(this.db, [
      {
        Put: {
          TableName: this.table,
          Item: {
            ...inboundKey(messageSid),
            handledAt: new Date().toISOString(),
            expiresAt: nowSeconds + INBOUND_MARKER_TTL_SECONDS,
          },
          // TTL deletes lazily: an expired marker may still be there, and no longer counts.
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': nowSeconds },
        },
      },
      ...[...unique.values()].map((Item) => ({ Put: { TableName: this.table, Item } })),
    ]);
    return result.written;
  }

  async inboundHandled(messageSid: string): Promise<boolean> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: inboundKey(messageSid), ConsistentRead: true }),
    );
    return Item !== undefined && Number(Item.expiresAt) >= Math.floor(Date.now() / 1000);
  }

  async listMessages(tenantId: string, phone: string, page: { limit: number; cursor?: string }) {
    const { items, nextCursor } = await this.queryPage({
      kind: 'history',
      pk: contactPk(phone),
      prefix: historyPrefix(tenantId),
      sk: historySk(tenantId),
      limit: page.limit,
      newestFirst: true,
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
    return { items: items.map(toContactMessage), ...(nextCursor ? { nextCursor } : {}) };
  }

  /** Which recorded message of this contact's history (any tenant) has this SID, if any. */
  async messageWithSid(phone: string, sid: string): Promise<ContactMessage | undefined> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      FilterExpression: 'messageSid = :sid',
      ExpressionAttributeValues: { ':pk': contactPk(phone), ':prefix': 'MSG#', ':sid': sid },
      ConsistentRead: true,
    });
    return items[0] ? toContactMessage(items[0]) : undefined;
  }

  /**
   * A descending skip-scan: the greatest history key below the current bound is the newest entry
   * of the next tenant down; the bound then drops to that tenant's prefix. One Limit-1 Query per
   * tenant plus a last empty one, whatever the length of the history.
   */
  async tenantsOfContact(phone: string): Promise<{ tenantId: string; lastAt: string }[]> {
    const tenants: { tenantId: string; lastAt: string }[] = [];
    let upper = `MSG#${HIGHEST}`;
    for (;;) {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          // BETWEEN is inclusive; neither bound is ever an entry's key (entries continue past them).
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lower AND :upper',
          ExpressionAttributeValues: { ':pk': contactPk(phone), ':lower': 'MSG#', ':upper': upper },
          ProjectionExpression: '#sk, #tenantId, #at',
          ExpressionAttributeNames: { '#sk': 'sk', '#tenantId': 'tenantId', '#at': 'at' },
          ScanIndexForward: false,
          Limit: 1,
          // Inbound routing reads this right after an outbound entry may have been written.
          ConsistentRead: true,
        }),
      );
      const item = result.Items?.[0];
      if (!item) break;
      const tenantId = String(item.tenantId);
      tenants.push({ tenantId, lastAt: String(item.at) });
      upper = historyPrefix(tenantId);
    }
    return tenants;
  }

  /**
   * Erasure of what the contact wrote to this tenant: every history entry of the tenant's prefix
   * that carries text loses `body` and `buttonPayload` and gets `erasedAt`; the entries stay (time,
   * direction, SIDs, broadcast), so delivery records and counts keep adding up. Idempotent (a
   * second run finds no text). Answers how many entries lost text.
   */
  async eraseHistoryText(tenantId: string, phone: string, at: Date): Promise<number> {
    const entries = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      FilterExpression: 'attribute_exists(body) OR attribute_exists(buttonPayload)',
      ExpressionAttributeValues: { ':pk': contactPk(phone), ':prefix': historyPrefix(tenantId) },
      ProjectionExpression: 'pk, sk',
      ConsistentRead: true,
    });
    await pLimit(ERASE_CONCURRENCY).map(entries, (entry) =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: entry.pk, sk: entry.sk },
          UpdateExpression: 'REMOVE body, buttonPayload SET erasedAt = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':at': at.toISOString() },
        }),
      ),
    );
    return entries.length;
  }

  // -- Helpers -----------------------------------------------------------------------------------

  /** Deletes a suppression item; false when there was none. */
  private async deleteIfThere(pk: string, phone: string): Promise<boolean> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk, sk: whatsAppIdentity(phone) },
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Every sort key of an item collection, page by page. */
  private async *sortKeys(pk: string): AsyncGenerator<string> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
          ProjectionExpression: '#sk',
          ExpressionAttributeNames: { '#sk': 'sk' },
          ...(this.listPageSize ? { Limit: this.listPageSize } : {}),
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of result.Items ?? []) yield String(item.sk);
      startKey = result.LastEvaluatedKey;
    } while (startKey);
  }

  /** Up to `count` items of an item collection, in sort-key order, after `afterSk` when given. */
  private async readAfter(pk: string, afterSk: string | undefined, count: number) {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined =
      afterSk !== undefined ? { pk, sk: afterSk } : undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
          Limit: count - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(result.Items ?? []));
      startKey = result.LastEvaluatedKey;
    } while (startKey && items.length < count);
    return items;
  }

  /**
   * One page of an item collection (optionally under a sort-key prefix). Reads one item more than
   * the page so that `nextCursor` is given only when another item exists: the last page has none.
   * The cursor is checked against the partition and the list's sort keys before any read.
   */
  private async queryPage(options: {
    kind: CursorKind;
    pk: string;
    prefix: string;
    /** The sort keys of this list: a cursor naming any other is refused. */
    sk: RegExp;
    limit: number;
    newestFirst: boolean;
    cursor?: string;
  }): Promise<{ items: Record<string, unknown>[]; nextCursor?: string }> {
    let startKey: Record<string, unknown> | undefined =
      options.cursor !== undefined
        ? { ...decodeItemCursor(options.kind, options.cursor, { pk: options.pk, sk: options.sk }) }
        : undefined;
    const items: Record<string, unknown>[] = [];
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: options.prefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
          ExpressionAttributeValues: {
            ':pk': options.pk,
            ...(options.prefix ? { ':prefix': options.prefix } : {}),
          },
          ScanIndexForward: !options.newestFirst,
          Limit: options.limit + 1 - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(result.Items ?? []));
      startKey = result.LastEvaluatedKey;
    } while (startKey && items.length <= options.limit);
    if (items.length <= options.limit) return { items };
    const page = items.slice(0, options.limit);
    const last = page[page.length - 1] as Record<string, unknown>;
    return {
      items: page,
      nextCursor: encodeItemCursor(options.kind, { pk: options.pk, sk: String(last.sk) }),
    };
  }
}

function messageItem(m: ContactMessage, retentionDays: number): Record<string, unknown> {
  return {
    pk: contactPk(m.phone),
    sk: messageSk(m),
    tenantId: m.tenantId,
    phone: whatsAppIdentity(m.phone),
    at: isoOf(m.at),
    direction: m.direction,
    type: m.type,
    messageSid: m.messageSid,
    ...(m.broadcastId !== undefined ? { broadcastId: m.broadcastId } : {}),
    ...(m.index !== undefined ? { index: m.index } : {}),
    ...(m.body !== undefined ? { body: m.body } : {}),
    ...(m.buttonPayload !== undefined ? { buttonPayload: m.buttonPayload } : {}),
    ...(m.repliedToSid !== undefined ? { repliedToSid: m.repliedToSid } : {}),
    expiresAt: expiresAfter(isoOf(m.at), retentionDays),
  };
}

/** The sort key's time must sort as text: always the UTC `…Z` form with milliseconds. */
function isoOf(at: string): string {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? at : new Date(ms).toISOString();
}

/** A stored suppression as the tenant that asked sees it (a sender-wide one names that tenant). */
function toSuppression(item: Record<string, unknown>, tenantId: string): Suppression {
  return { ...(strip(item) as unknown as Suppression), tenantId };
}

function toContactMessage(item: Record<string, unknown>): ContactMessage {
  const { expiresAt: _expiresAt, ...rest } = strip(item);
  return rest as unknown as ContactMessage;
}
