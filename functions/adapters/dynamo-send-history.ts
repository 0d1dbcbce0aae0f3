import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PersonHistory, SendHistory } from '../core/ports.ts';
import { MAX_CAP_DAYS } from '../core/send-timing.ts';
import { batchGet, type Item, isConditionFailure } from './dynamo-items.ts';

/**
 * The tenant's send history on the single table:
 *
 *   SENDS#<t>#<phone>   SENDS   one person: `b_<broadcastId>` = when that broadcast messages them (one
 *                               attribute per broadcast, so a repeated fan-out writes the same one),
 *                               `lh` = the hour they were last booked in the messaging-limit book.
 *                               Broadcasts older than MAX_CAP_DAYS + 1 are removed as new ones come,
 *                               and the item expires (expiresAt) that long after its last send: no
 *                               frequency window can reach it then.
 *   LIMITBOOK#<t>       BOOK    the tenant's messaging-limit book: `h` (hour → people), `v` (version).
 */
const historyKey = (tenantId: string, phone: string) => ({ pk: `SENDS#${tenantId}#${phone}`, sk: 'SENDS' });
const bookKey = (tenantId: string) => ({ pk: `LIMITBOOK#${tenantId}`, sk: 'BOOK' });
const KEEP_MS = (MAX_CAP_DAYS + 1) * 86_400_000;
/** Writes in flight at once while recording a chunk. */
const CONCURRENCY = 16;

export class DynamoSendHistory implements SendHistory {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async among(tenantId: string, phones: readonly string[]): Promise<ReadonlyMap<string, PersonHistory>> {
    const items = await batchGet(
      this.#db,
      this.#table,
      phones.map((phone) => historyKey(tenantId, phone)),
    );
    const found = new Map<string, PersonHistory>();
    for (const item of items) {
      const phone = String(item.pk).slice(`SENDS#${tenantId}#`.length);
      found.set(phone, {
        sends: sendsOf(item).map(([, at]) => at),
        ...(typeof item.lh === 'number' ? { limitHour: item.lh } : {}),
      });
    }
    return found;
  }

  async record(
    tenantId: string,
    broadcastId: string,
    sends: readonly { phone: string; at: string; limitHour?: number }[],
  ): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < sends.length) {
        const send = sends[next++];
        if (send) await this.#recordOne(tenantId, broadcastId, send);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, sends.length) }, worker));
  }

  async #recordOne(
    tenantId: string,
    broadcastId: string,
    send: { phone: string; at: string; limitHour?: number },
  ) {
    const { Attributes } = await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: historyKey(tenantId, send.phone),
        UpdateExpression: `SET #b = :at, expiresAt = :ttl${send.limitHour !== undefined ? ', lh = :lh' : ''}`,
        ExpressionAttributeNames: { '#b': `b_${broadcastId}` },
        ExpressionAttributeValues: {
          ':at': send.at,
          // From the send's time (or now, if that is later): the last frequency window that can read it.
          ':ttl': Math.ceil((Math.max(Date.parse(send.at) || Date.now(), Date.now()) + KEEP_MS) / 1000),
          ...(send.limitHour !== undefined ? { ':lh': send.limitHour } : {}),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    // Bounded: what no frequency window can reach any more goes (rarely more than one at a time).
    const stale = sendsOf(Attributes ?? {})
      .filter(([, at]) => Date.parse(at) < Date.parse(send.at) - KEEP_MS)
      .map(([name]) => name);
    if (stale.length === 0) return;
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: historyKey(tenantId, send.phone),
        UpdateExpression: `REMOVE ${stale.map((_, n) => `#s${n}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(stale.map((name, n) => [`#s${n}`, name])),
      }),
    );
  }

  async readBook(tenantId: string): Promise<{ book: Record<string, number>; version: number }> {
    const [item] = await batchGet(this.#db, this.#table, [bookKey(tenantId)]);
    return {
      book: (item?.h as Record<string, number> | undefined) ?? {},
      version: typeof item?.v === 'number' ? item.v : 0,
    };
  }

  async writeBook(tenantId: string, book: Record<string, number>, version: number): Promise<boolean> {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...bookKey(tenantId), tenantId, h: book, v: version + 1 },
          ConditionExpression: version === 0 ? 'attribute_not_exists(pk)' : 'v = :v',
          ...(version === 0 ? {} : { ExpressionAttributeValues: { ':v': version } }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

/** The item's `b_<broadcastId>` attributes: [attribute name, ISO time]. */
function sendsOf(item: Item): [string, string][] {
  return Object.entries(item)
    .filter(([name, value]) => name.startsWith('b_') && typeof value === 'string')
    .map(([name, value]) => [name, String(value)]);
}
