import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import type { Page } from '../core/audience.ts';
import { ERASED_PHONE, ERASURE_ID, type Erasure } from '../core/erasure.ts';
import { normalizePhone, sameWhatsAppIdentity, whatsAppIdentity } from '../core/phones.ts';
import { DEFAULT_RECIPIENT_RETENTION_DAYS, expiresAfter } from '../core/retention.ts';
import { SKIP_REASON_TEXT } from '../core/skips.ts';
import { queryPage } from './dynamo-audience-query.ts';
import { type Item, isConditionFailure, queryAll, strip } from './dynamo-items.ts';
import { broadcastPartition, recipientKey, recipientPartition, SHARDS } from './table-layout.ts';

/**
 * Erasures on the main table, and the writes that erase a person from this tenant's items:
 *
 *   ERASURES#<t>    <era_…>    an erasure: status, progress, the phone masked (never the phone)
 *
 * Each write is idempotent: run again (a redelivered task), it finds nothing left to do. Phones are
 * compared by WhatsApp identity (core/phones.ts), so `+52 1 55…` and `+52 55…` are one person.
 */
const erasureKey = (tenantId: string, erasureId: string) => ({ pk: `ERASURES#${tenantId}`, sk: erasureId });
/** BatchWriteItem takes at most 25 requests (AWS DynamoDB API reference, BatchWriteItem). */
const BATCH_WRITE = 25;
const CONCURRENCY = 8;

/** A broadcast of the tenant, as the erasure walks them (newest first). */
export interface ErasableBroadcast {
  readonly broadcastId: string;
  readonly createdAt: string;
  readonly scheduledAt?: string;
}

export class DynamoErasures {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #recipientRetentionDays: number;

  /** `recipientRetentionDays`: the TTL of a recipient item an erasure writes (RECIPIENT_RETENTION_DAYS). */
  constructor(db: DynamoDBDocumentClient, table: string, options: { recipientRetentionDays?: number } = {}) {
    this.#db = db;
    this.#table = table;
    this.#recipientRetentionDays = options.recipientRetentionDays ?? DEFAULT_RECIPIENT_RETENTION_DAYS;
  }

  /** Records a new erasure (its id is new: a clash is a bug, and throws). */
  async create(erasure: Erasure): Promise<void> {
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...erasureKey(erasure.tenantId, erasure.erasureId), ...erasure },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async get(tenantId: string, erasureId: string): Promise<Erasure | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: erasureKey(tenantId, erasureId), ConsistentRead: true }),
    );
    return Item ? (strip(Item) as unknown as Erasure) : undefined;
  }

  /** The tenant's erasures, newest first (ids are ULIDs: time-sorted). */
  async page(tenantId: string, page: { limit: number; cursor?: string }): Promise<Page<Erasure>> {
    const result = await queryPage(this.#db, this.#table, {
      kind: 'erasures',
      keys: { pk: 'pk', sk: 'sk' },
      partition: erasureKey(tenantId, '').pk,
      sk: ERASURE_ID,
      newestFirst: true,
      limit: page.limit,
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
    return {
      items: result.items.map((item) => strip(item) as unknown as Erasure),
      ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}),
    };
  }

  /** An erasure whose task never reached the queue (the request failed): it will not run. */
  async remove(tenantId: string, erasureId: string): Promise<void> {
    await this.#deleteAll([erasureKey(tenantId, erasureId)]);
  }

  /** The worker's progress: it is the erasure's only writer after its creation. */
  async save(erasure: Erasure): Promise<void> {
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...erasureKey(erasure.tenantId, erasure.erasureId), ...erasure },
      }),
    );
  }

  /** The provider SIDs in the person's message history with this tenant (outbound and inbound). */
  async messageSids(tenantId: string, phone: string): Promise<string[]> {
    const entries = await this.#history(tenantId, phone, 'messageSid');
    return [
      ...new Set(entries.map((e) => e.messageSid).filter((sid): sid is string => typeof sid === 'string')),
    ];
  }

  /** Deletes the person's whole message history with this tenant (outbound and inbound); how many entries. */
  async deleteHistory(tenantId: string, phone: string): Promise<number> {
    const entries = await this.#history(tenantId, phone, 'pk, sk');
    await this.#deleteAll(entries.map((e) => ({ pk: e.pk, sk: e.sk })));
    return entries.length;
  }

  /** The person's history entries with this tenant (`CONTACT#<identity>` / `MSG#<t>#…`), projected. */
  #history(tenantId: string, phone: string, projection: string): Promise<Item[]> {
    return queryAll(this.#db, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': `CONTACT#${whatsAppIdentity(phone)}`,
        ':prefix': `MSG#${tenantId}#`,
      },
      ProjectionExpression: projection,
      ConsistentRead: true,
    });
  }

  /** Deletes the person's send history (frequency caps) with this tenant, under each form of the number. */
  async deleteSendHistory(tenantId: string, phones: readonly string[]): Promise<void> {
    await this.#deleteAll([...new Set(phones)].map((p) => ({ pk: `SENDS#${tenantId}#${p}`, sk: 'SENDS' })));
  }

  /**
   * Keeps the tenant's suppression of the number with only what honouring it needs (phone, reason,
   * time): its free-text `detail` goes. True when there is one.
   */
  async minimizeSuppression(tenantId: string, phone: string): Promise<boolean> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: `SUPPRESS#${tenantId}`, sk: whatsAppIdentity(phone) },
          UpdateExpression: 'REMOVE detail',
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Import row errors that quote the number lose the quote (`input`); how many. */
  async redactImportErrors(tenantId: string, phone: string): Promise<number> {
    const items = await queryAll(this.#db, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `TENANT#${tenantId}`, ':prefix': 'IMPORTERRORS#' },
    });
    let redacted = 0;
    for (const item of items) {
      const errors = (item.errors as Item[] | undefined) ?? [];
      let changed = 0;
      const kept = errors.map((e) => {
        if (!quotes(String(e.input ?? ''), phone)) return e;
        changed += 1;
        return { ...e, input: '' };
      });
      if (changed === 0) continue;
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: item.pk, sk: item.sk },
          UpdateExpression: 'SET #errors = :errors',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#errors': 'errors' },
          ExpressionAttributeValues: { ':errors': kept },
        }),
      );
      redacted += changed;
    }
    return redacted;
  }

  /**
   * Removes the number from the audiences of the tenant's campaigns (`audience.phones`, compared
   * after normalizing with the campaign's defaultCountry); how many campaigns changed. A campaign
   * left with no audience at all fails its next runs with NO_VALID_RECIPIENTS, as it says.
   */
  async redactCampaigns(tenantId: string, phone: string): Promise<number> {
    const items = await queryAll(this.#db, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `TENANT#${tenantId}`, ':prefix': 'CAMPAIGN#' },
    });
    let changed = 0;
    for (const item of items) {
      const broadcast = (item.campaign as Item | undefined)?.broadcast as Item | undefined;
      const phones = (broadcast?.audience as Item | undefined)?.phones;
      if (!Array.isArray(phones)) continue;
      const country = typeof broadcast?.defaultCountry === 'string' ? broadcast.defaultCountry : undefined;
      const kept = phones.filter((p) => !samePerson(String(p), phone, country));
      if (kept.length === phones.length) continue;
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: item.pk, sk: item.sk },
          UpdateExpression:
            kept.length > 0
              ? 'SET campaign.broadcast.audience.phones = :kept'
              : 'REMOVE campaign.broadcast.audience.phones',
          ConditionExpression: 'attribute_exists(pk)',
          ...(kept.length > 0 ? { ExpressionAttributeValues: { ':kept': kept } } : {}),
        }),
      );
      changed += 1;
    }
    return changed;
  }

  /**
   * Removes the inputs that quote the number from a broadcast's `invalidRecipients` (numbers the
   * create refused, a fixed line say, kept to answer an idempotent repeat): the entry stays with an
   * empty input, so the counts in it still add up. How many.
   */
  async redactInvalidInputs(tenantId: string, broadcastId: string, phone: string): Promise<number> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: `TENANT#${tenantId}`, sk: `BROADCAST#${broadcastId}` },
        ProjectionExpression: 'invalidRecipients',
      }),
    );
    const invalid = (Item?.invalidRecipients as Item[] | undefined) ?? [];
    let changed = 0;
    const next = invalid.map((entry) => {
      if (!quotes(String(entry.input ?? ''), phone)) return entry;
      changed += 1;
      return { ...entry, input: '' };
    });
    if (changed === 0) return 0;
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { pk: `TENANT#${tenantId}`, sk: `BROADCAST#${broadcastId}` },
        UpdateExpression: 'SET invalidRecipients = :next',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':next': next },
      }),
    );
    return changed;
  }

  /** A page of the tenant's broadcasts, newest first, after the sort key `after`. */
  async broadcastsPage(
    tenantId: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ items: ErasableBroadcast[]; next?: string }> {
    const result = await this.#db.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': `TENANT#${tenantId}`, ':prefix': 'BROADCAST#' },
        ProjectionExpression: 'sk, broadcastId, createdAt, scheduledAt',
        ScanIndexForward: false,
        Limit: limit,
        ...(after ? { ExclusiveStartKey: { pk: `TENANT#${tenantId}`, sk: after } } : {}),
      }),
    );
    const items = (result.Items ?? []).map((i) => ({
      broadcastId: String(i.broadcastId),
      createdAt: String(i.createdAt),
      ...(i.scheduledAt ? { scheduledAt: String(i.scheduledAt) } : {}),
    }));
    const last = result.LastEvaluatedKey?.sk;
    return { items, ...(last ? { next: String(last) } : {}) };
  }

  /**
   * Redacts the person's recipient items in one broadcast (all its shards): `phone` becomes
   * ERASED_PHONE, `erasedAt` is set, an error message quoting the number goes. A recipient not sent
   * yet (queued, or waiting) is cancelled and a scheduled retry dropped, so nothing is sent to it any
   * more; statuses otherwise stay, so the broadcast's counts (derived from the items by the stream)
   * keep adding up. Each write is conditional on the item as read; a changed item is read again.
   */
  async redactRecipients(tenantId: string, broadcastId: string, phone: string, at: Date): Promise<number> {
    let redacted = 0;
    await pLimit(CONCURRENCY).map(
      Array.from({ length: SHARDS }, (_, shard) => shard),
      async (shard) => {
        for (let round = 0; round < 5; round += 1) {
          const items = await queryAll(this.#db, {
            TableName: this.#table,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: {
              ':pk': recipientPartition(broadcastId, shard),
              ':prefix': 'R#',
            },
            ProjectionExpression: 'pk, sk, tenantId, phone, #status, updatedAt, errorMessage',
            ExpressionAttributeNames: { '#status': 'status' },
            ConsistentRead: true,
          });
          const mine = items.filter(
            (i) =>
              i.tenantId === tenantId && typeof i.phone === 'string' && sameWhatsAppIdentity(i.phone, phone),
          );
          let conflicts = 0;
          for (const item of mine)
            if (await this.#redactRecipient(item, phone, at)) redacted += 1;
            else conflicts += 1;
          if (conflicts === 0) return;
        }
        throw new Error(`recipients of ${broadcastId} kept changing during the erasure; it will run again`);
      },
    );
    return redacted;
  }

  async #redactRecipient(item: Item, phone: string, at: Date): Promise<boolean> {
    const digits = phone.replace(/\D/g, '');
    const unsent = item.status === 'queued';
    const quotes =
      typeof item.errorMessage === 'string' && item.errorMessage.replace(/\D/g, '').includes(digits);
    const remove = ['nextRetryAt', 'retryKey', 'waitReason', ...(quotes ? ['errorMessage'] : [])];
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: item.pk, sk: item.sk },
          UpdateExpression: `SET phone = :erased, erasedAt = :at${unsent ? ', #status = :cancelled, updatedAt = :at' : ''} REMOVE ${remove.join(', ')}`,
          ConditionExpression: 'phone = :phone AND #status = :was AND updatedAt = :updated',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':erased': ERASED_PHONE,
            ':at': at.toISOString(),
            ':phone': item.phone,
            ':was': item.status,
            ':updated': item.updatedAt,
            ...(unsent ? { ':cancelled': 'cancelled' } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Redacts the person's entries in a broadcast's stored list (its chunks, kept 30 days): the number
   * and template values go, and the entry is marked skipped (reason `erased`), so a fan-out or a
   * recovery that reads it later sends nothing. Of a chunk already handed to the send queue, a
   * recipient not written yet gets its item now, skipped (reason `erased`): the send task still on
   * the queue finds it there and sends nothing (its claim creates only an absent item). Run it
   * before redactRecipients, which redacts what a send wrote meanwhile. How many entries.
   */
  async redactListEntries(tenantId: string, broadcastId: string, phone: string, at: Date): Promise<number> {
    const items = await queryAll(this.#db, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': broadcastPartition(broadcastId) },
      ConsistentRead: true,
    });
    const handed = new Set(
      items
        .filter(
          (i) => String(i.sk).startsWith('FANOUT#') && (i.state === 'counted' || i.state === 'enqueued'),
        )
        .map((i) => Number(String(i.sk).slice('FANOUT#'.length))),
    );
    let redacted = 0;
    for (const chunk of items.filter((i) => String(i.sk).startsWith('CHUNK#'))) {
      const entries = (chunk.entries as Item[] | undefined) ?? [];
      const n = Number(String(chunk.sk).slice('CHUNK#'.length));
      let changed = 0;
      const next = entries.map((e) => {
        if (typeof e.p !== 'string' || e.p === ERASED_PHONE || !sameWhatsAppIdentity(e.p, phone)) return e;
        changed += 1;
        return { i: e.i, p: ERASED_PHONE, v: {}, s: 1, sr: 'erased' };
      });
      if (changed === 0) continue;
      if (handed.has(n))
        for (const e of entries)
          if (typeof e.p === 'string' && e.p !== ERASED_PHONE && sameWhatsAppIdentity(e.p, phone))
            await this.#skipUnwritten(tenantId, broadcastId, Number(e.i), n, at);
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: chunk.pk, sk: chunk.sk },
          UpdateExpression: 'SET entries = :entries',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':entries': next },
        }),
      );
      redacted += changed;
    }
    return redacted;
  }

  /** A recipient never written, written skipped (`erased`) with no number; nothing when it exists. */
  async #skipUnwritten(tenantId: string, broadcastId: string, index: number, chunk: number, at: Date) {
    const stamp = at.toISOString();
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: recipientKey(broadcastId, index),
          UpdateExpression:
            'SET #status = :skipped, attempts = :one, errorMessage = :why, skipReason = :erased, updatedAt = :at, ' +
            'tenantId = :t, broadcastId = :b, #index = :i, phone = :phone, chunk = :c, erasedAt = :at, expiresAt = :ttl',
          ConditionExpression: 'attribute_not_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status', '#index': 'index' },
          ExpressionAttributeValues: {
            ':skipped': 'skipped',
            ':one': 1,
            ':why': SKIP_REASON_TEXT.erased,
            ':erased': 'erased',
            ':at': stamp,
            ':t': tenantId,
            ':b': broadcastId,
            ':i': index,
            ':phone': ERASED_PHONE,
            ':c': chunk,
            ':ttl': expiresAfter(at, this.#recipientRetentionDays),
          },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** Deletes these keys in BatchWriteItem calls of 25, unprocessed ones sent again. */
  async #deleteAll(keys: readonly Item[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH_WRITE) {
      let requests = keys.slice(i, i + BATCH_WRITE).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; requests.length > 0; attempt += 1) {
        if (attempt > 8) throw new Error('BatchWriteItem kept leaving deletes unprocessed');
        const result = await this.#db.send(
          new BatchWriteCommand({ RequestItems: { [this.#table]: requests } }),
        );
        requests = (result.UnprocessedItems?.[this.#table] ?? []) as typeof requests;
        if (requests.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }
}

/** The national part of a number is at least this long (ITU-T E.164: 7 digits is about the shortest in use). */
const MIN_NATIONAL_DIGITS = 7;

/**
 * Whether free text (a CSV cell, a refused input) quotes the number: its digits contain the
 * number's, or (a national form: `050-123-4567`) the number ends with them once their leading zeros
 * are gone, at least MIN_NATIONAL_DIGITS of them.
 */
export function quotes(text: string, phone: string): boolean {
  const digits = text.replace(/\D/g, '');
  const number = phone.replace(/\D/g, '');
  if (digits.length === 0) return false;
  if (digits.includes(number)) return true;
  const national = digits.replace(/^0+/, '');
  return national.length >= MIN_NATIONAL_DIGITS && number.endsWith(national);
}

/** Whether a stored audience phone (as typed) is the person: normalized with the campaign's country. */
function samePerson(stored: string, phone: string, country: string | undefined): boolean {
  const outcome = normalizePhone(stored, country);
  return outcome.ok ? sameWhatsAppIdentity(outcome.phone, phone) : quotes(stored, phone);
}
