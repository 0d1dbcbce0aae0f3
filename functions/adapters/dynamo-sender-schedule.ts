import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PaceState, SenderSchedule } from '../core/ports.ts';

/**
 * The per-sender send schedule on the main table: `PACE#<sender>` / `PACE`, with `nextSlotAt`
 * (epoch ms, the sender's next free send time) and the last rate cut (`cutMps`, `cutAt`).
 *
 * Booking is one conditional UpdateItem in the busy case (`nextSlotAt += count × interval`, only
 * while it is not in the past and the block ends within the horizon) and one more when the sender
 * was idle (`nextSlotAt = now + count × interval`). One item per sender takes one write per block
 * of up to 10 sends: at 1,000 messages/s about 100–1,000 writes/s, within one partition's 1,000 WCU.
 */
const MAX_TRIES = 5;
/** A sender idle for a day forgets its schedule. */
const IDLE_TTL_SECONDS = 86_400;

/**
 * Slot times in steps of 1/1024 ms. A slot interval such as 1000 / 19.2 ms is not exact in binary,
 * and DynamoDB adds and compares numbers in exact decimal, so a sum of them read back into a JS number
 * can round across the boundary DynamoDB compared against (stored 1796054065000.999…, read as
 * 1796054065001 = now): the write is refused while this code sees its condition hold. Multiples of
 * 2^-10 below 2^42 ms (year 2109) are exact in both, so both sides agree on every comparison.
 */
const exactMs = (ms: number) => Math.round(ms * 1024) / 1024;

const key = (sender: string) => ({ pk: `PACE#${sender}`, sk: 'PACE' });

export class DynamoSenderSchedule implements SenderSchedule {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async book(
    sender: string,
    request: { count: number; intervalMs: number; nowMs: number; horizonMs: number },
  ): ReturnType<SenderSchedule['book']> {
    const nowMs = exactMs(request.nowMs);
    const span = exactMs(request.count * request.intervalMs);
    const latestStart = nowMs + exactMs(request.horizonMs) - span;
    const expiresAt = Math.floor(nowMs / 1000) + IDLE_TTL_SECONDS;
    const idleWrite = () =>
      this.#update(sender, {
        UpdateExpression: 'SET nextSlotAt = :end, expiresAt = :ttl',
        ConditionExpression: 'attribute_not_exists(nextSlotAt) OR nextSlotAt < :now',
        ExpressionAttributeValues: { ':end': nowMs + span, ':now': nowMs, ':ttl': expiresAt },
      });
    let lastState: PaceState = {};
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      // Last seen idle (a sender well under its rate): the idle write first, not a refused busy one
      // (a refused conditional write is billed like any other).
      const lastSeen = this.#lastNextSlot.get(sender);
      if (tries === 0 && lastSeen !== undefined && lastSeen < nowMs) {
        const idle = await idleWrite();
        this.#remember(sender, idle.item);
        if (idle.updated) return { booked: true, firstSlotAt: nowMs, state: stateOf(idle.item) };
      }
      // Busy sender: the block goes after the last one booked.
      const busy = await this.#update(sender, {
        UpdateExpression: 'SET expiresAt = :ttl ADD nextSlotAt :span',
        ConditionExpression: 'nextSlotAt >= :now AND nextSlotAt <= :latestStart',
        ExpressionAttributeValues: {
          ':span': span,
          ':now': nowMs,
          ':latestStart': latestStart,
          ':ttl': expiresAt,
        },
      });
      this.#remember(sender, busy.item);
      lastState = stateOf(busy.item ?? {});
      if (busy.updated)
        return { booked: true, firstSlotAt: Number(busy.item.nextSlotAt) - span, state: stateOf(busy.item) };
      const next = Number(busy.item?.nextSlotAt);
      if (next > latestStart)
        // Booked beyond the horizon: come back when there is room.
        return { booked: false, nextFreeAt: next, state: stateOf(busy.item ?? {}) };
      // Booked within the horizon after all (the item changed since): the busy case again.
      if (next >= nowMs) continue;
      // Idle sender (or a new one): the block starts now.
      const idle = await idleWrite();
      this.#remember(sender, idle.item);
      if (idle.updated) return { booked: true, firstSlotAt: nowMs, state: stateOf(idle.item) };
      // Another consumer booked in between: try the busy case again.
    }
    // Still contended (or an item written with inexact times before exactMs): the callers wait one
    // block's length and book again. Waiting one's turn is not a failure: a throw here would fail
    // the send tasks back to the queue for its whole visibility timeout.
    const last = this.#lastNextSlot.get(sender) ?? nowMs;
    return { booked: false, nextFreeAt: Math.max(nowMs, last) + span, state: lastState };
  }

  /** The sender's next free time as last seen here: which write to try first next time. */
  readonly #lastNextSlot = new Map<string, number>();
  #remember(sender: string, item: Record<string, unknown> | undefined): void {
    const next = Number(item?.nextSlotAt);
    if (Number.isFinite(next)) this.#lastNextSlot.set(sender, next);
  }

  async cut(
    sender: string,
    request: { cutMps: number; nowMs: number; seen: PaceState },
  ): ReturnType<SenderSchedule['cut']> {
    const { cutMps, nowMs, seen } = request;
    const result = await this.#update(sender, {
      UpdateExpression: 'SET cutMps = :mps, cutAt = :now',
      ConditionExpression: seen.cutAt === undefined ? 'attribute_not_exists(cutAt)' : 'cutAt = :seen',
      ExpressionAttributeValues: {
        ':mps': cutMps,
        ':now': nowMs,
        ...(seen.cutAt === undefined ? {} : { ':seen': seen.cutAt }),
      },
    });
    return { cut: result.updated, state: stateOf(result.item ?? {}) };
  }

  /** A conditional update; on a failed condition, the item as it is (no second read when DynamoDB returns it). */
  async #update(
    sender: string,
    expression: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeValues: Record<string, unknown>;
    },
  ): Promise<
    { updated: true; item: Record<string, unknown> } | { updated: false; item?: Record<string, unknown> }
  > {
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: key(sender),
          ...expression,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { updated: true, item: Attributes ?? {} };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if (error.Item) return { updated: false, item: unmarshallNumbers(error.Item) };
      const { Item } = await this.#db.send(
        new GetCommand({ TableName: this.#table, Key: key(sender), ConsistentRead: true }),
      );
      return Item ? { updated: false, item: Item } : { updated: false };
    }
  }
}

function stateOf(item: Record<string, unknown>): PaceState {
  return item.cutAt !== undefined && item.cutMps !== undefined
    ? { cutMps: Number(item.cutMps), cutAt: Number(item.cutAt) }
    : {};
}

/** The exception carries the raw (marshalled) item: only its number attributes are read here. */
function unmarshallNumbers(item: Record<string, unknown>): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) {
    const n = (value as { N?: string } | undefined)?.N;
    if (n !== undefined) plain[name] = Number(n);
  }
  return plain;
}
