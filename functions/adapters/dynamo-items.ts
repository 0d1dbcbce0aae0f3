/**
 * Small helpers every DynamoDB adapter on the single table shares: item shapes, update expressions,
 * paging, batch calls, and reading why AWS refused a write.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';

export type Item = Record<string, unknown>;
export type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/**
 * Makes the SDK retry a single write that met a transaction on its item. DynamoDB answers it with
 * TransactionConflictException (HTTP 400), which the SDK's standard retry strategy leaves to the caller
 * as a client error; AWS's guidance is to retry it with backoff like throttling (DynamoDB developer
 * guide, "Transaction conflict handling"). Marked retryable below the retry middleware, it is retried
 * with the SDK's own backoff and attempt budget, and surfaces only if every attempt meets a conflict.
 */
export function retryTransactionConflicts(client: {
  middlewareStack: DynamoDBClient['middlewareStack'];
}): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (error instanceof Error && error.name === 'TransactionConflictException')
          Object.assign(error, { $retryable: { throttling: false } });
        throw error;
      }
    },
    { step: 'deserialize', priority: 'high', name: 'retryTransactionConflicts', override: true },
  );
}

/** An item without its table keys: what the domain sees. */
export function strip(item: Item): Item {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest;
}

/** A conditional write whose condition did not hold (the caller decides whether that is fine). */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/**
 * Why a TransactWriteItems was cancelled, read from `CancellationReasons` (one per item, in order).
 * AWS cancels a transaction not only when a condition fails, but also for `TransactionConflict`
 * (another request was writing one of the items), throttling (`ThrottlingError`,
 * `ProvisionedThroughputExceeded`, `RequestLimitExceeded`) and validation errors; only the first is a
 * business answer. (DynamoDB API reference, TransactWriteItems: TransactionCanceledException.)
 */
export type Cancellation =
  | { readonly kind: 'condition'; readonly failed: readonly boolean[] }
  | { readonly kind: 'retryable'; readonly codes: readonly string[] };

const RETRYABLE_REASONS = new Set([
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'RequestLimitExceeded',
]);

/** The reasons of a cancelled transaction, or undefined for any other error (rethrow it). */
export function cancellationOf(error: unknown): Cancellation | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  const codes = (error.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
  if (codes.includes('ConditionalCheckFailed'))
    return { kind: 'condition', failed: codes.map((c) => c === 'ConditionalCheckFailed') };
  if (codes.some((c) => RETRYABLE_REASONS.has(c))) return { kind: 'retryable', codes };
  return undefined;
}

/** A transaction AWS kept refusing for conflicts or throttling: an infrastructure failure, never an answer. */
export class TransactionRetriesExhausted extends Error {
  constructor(codes: readonly string[]) {
    super(`DynamoDB kept cancelling the transaction (${[...new Set(codes)].join(', ')})`);
    this.name = 'TransactionRetriesExhausted';
  }
}

const TRANSACTION_TRIES = 6;

/**
 * Runs a TransactWriteItems, retrying (with jittered backoff) the cancellations that are not business
 * answers. Returns `{ written: true }`, or which items' conditions failed; throws for anything else,
 * and TransactionRetriesExhausted when AWS keeps refusing.
 */
export async function transactWrite(
  db: DynamoDBDocumentClient,
  items: TransactItems,
): Promise<{ written: true } | { written: false; failed: readonly boolean[] }> {
  let codes: readonly string[] = [];
  for (let tries = 0; tries < TRANSACTION_TRIES; tries++) {
    if (tries > 0) await sleep(25 * 2 ** tries * (0.5 + Math.random()));
    try {
      await db.send(new TransactWriteCommand({ TransactItems: items }));
      return { written: true };
    } catch (error) {
      const cancellation = cancellationOf(error);
      if (!cancellation) throw error;
      if (cancellation.kind === 'condition') return { written: false, failed: cancellation.failed };
      codes = cancellation.codes;
    }
  }
  throw new TransactionRetriesExhausted(codes);
}

/**
 * `SET a = :v0, b = :v1 REMOVE c, d` with placeholders for every name; with `within`, the fields
 * are those of that map attribute (`#p.a`), named `#p`. `ifAbsent` fields keep a value already there.
 */
export function updateExpression(
  set: Record<string, unknown>,
  remove: readonly string[] = [],
  options: { within?: string; ifAbsent?: Record<string, unknown> } = {},
) {
  const names: Record<string, string> = options.within ? { '#p': options.within } : {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  const path = options.within ? '#p.' : '';
  Object.entries(set).forEach(([field, value], n) => {
    names[`#s${n}`] = field;
    values[`:s${n}`] = value;
    sets.push(`${path}#s${n} = :s${n}`);
  });
  Object.entries(options.ifAbsent ?? {}).forEach(([field, value], n) => {
    names[`#k${n}`] = field;
    values[`:k${n}`] = value;
    sets.push(`${path}#k${n} = if_not_exists(${path}#k${n}, :k${n})`);
  });
  const removes = remove.map((field, n) => {
    names[`#r${n}`] = field;
    return `${path}#r${n}`;
  });
  const expression = [
    sets.length > 0 ? `SET ${sets.join(', ')}` : '',
    removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return { expression, names, values };
}

/** `ADD a :a0, b :a1` (and `SET` for plain fields, e.g. a TTL) as an update's expression parts. */
export function addExpression(adds: Record<string, number>, set: Record<string, unknown> = {}) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const parts = Object.entries(adds)
    .filter(([, delta]) => delta !== 0)
    .map(([field, delta], n) => {
      names[`#a${n}`] = field;
      values[`:a${n}`] = delta;
      return `#a${n} :a${n}`;
    });
  const sets = Object.entries(set).map(([field, value], n) => {
    names[`#t${n}`] = field;
    values[`:t${n}`] = value;
    return `#t${n} = :t${n}`;
  });
  const expression = [
    sets.length > 0 ? `SET ${sets.join(', ')}` : '',
    parts.length > 0 ? `ADD ${parts.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return { UpdateExpression: expression, ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}

/** `#f IN (:p0, :p1)` for a condition, with its placeholders prefixed by `prefix`. */
export function inList(nameRef: string, prefix: string, values: readonly unknown[]) {
  const placeholders = Object.fromEntries(values.map((value, n) => [`:${prefix}${n}`, value]));
  return { expression: `${nameRef} IN (${Object.keys(placeholders).join(', ')})`, values: placeholders };
}

/** Every item a query finds (following its pages), or the first `limit` of them. */
export async function queryAll(
  db: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey' | 'Limit'>,
  limit = Number.POSITIVE_INFINITY,
): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const result = await db.send(
      new QueryCommand({
        ...input,
        ExclusiveStartKey: startKey,
        ...(Number.isFinite(limit) ? { Limit: limit - items.length } : {}),
      }),
    );
    items.push(...(result.Items ?? []));
    startKey = result.LastEvaluatedKey;
  } while (startKey && items.length < limit);
  return items;
}

/** BatchWriteItem puts in 25s, re-sending what DynamoDB leaves unprocessed (throttling) with backoff. */
export async function batchPut(
  db: DynamoDBDocumentClient,
  table: string,
  items: readonly Item[],
): Promise<void> {
  for (let start = 0; start < items.length; start += 25) {
    let pending = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let tries = 0; pending.length > 0; tries++) {
      if (tries > 8) throw new Error('DynamoDB kept throttling a batch write');
      if (tries > 0) await sleep(50 * 2 ** tries);
      const result = await db.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = (result.UnprocessedItems?.[table] ?? []) as typeof pending;
    }
  }
}

/** BatchGetItem (strongly consistent) in 100s, re-asking for what DynamoDB leaves unprocessed. */
export async function batchGet(
  db: DynamoDBDocumentClient,
  table: string,
  keys: readonly Item[],
): Promise<Item[]> {
  const found: Item[] = [];
  for (let start = 0; start < keys.length; start += 100) {
    let pending = keys.slice(start, start + 100);
    for (let tries = 0; pending.length > 0; tries++) {
      if (tries > 8) throw new Error('DynamoDB kept throttling a batch read');
      if (tries > 0) await sleep(50 * 2 ** tries);
      const result = await db.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
      );
      found.push(...(result.Responses?.[table] ?? []));
      pending = (result.UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
    }
  }
  return found;
}
