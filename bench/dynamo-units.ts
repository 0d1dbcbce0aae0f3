/**
 * DynamoDB's billing arithmetic, as AWS documents it, for the bench's own count of what a run would
 * cost (DynamoDB Local's ConsumedCapacity is not trusted: it reports 1 unit per transactional item
 * where AWS bills 2). Pure: items in, units out.
 *
 * Sources (checked 2026-11-30):
 * - Item size: "DynamoDB item sizes and formats",
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html:
 *   the sum of attribute names and values; a string is its UTF-8 bytes; a number about 1 byte per two
 *   significant digits + 1 (leading and trailing zeros trimmed); binary its raw bytes; null and
 *   boolean 1 byte; a List or Map 3 bytes + its elements, each element 1 byte more.
 * - Read and write units: "DynamoDB read and write operations",
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html:
 *   a write is 1 unit per 1 KB of the item (the larger of its size before and after, for UpdateItem
 *   and an overwriting PutItem; the deleted item's, for DeleteItem); a read 1 unit per 4 KB strongly
 *   consistent, half eventually consistent, 2 transactional; a Query is billed on the total size of the
 *   items it read (before any filter), rounded up to 4 KB once; a read of an item that does not exist
 *   still costs the minimum.
 * - Transactions: "Amazon DynamoDB Transactions: How it works", capacity management,
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html: two
 *   underlying writes (or reads) of every item, prepare and commit, consumed even when the transaction
 *   does not succeed.
 * - Failed conditions: "Managing throughput settings on provisioned tables", capacity unit
 *   consumption for writes, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ProvisionedThroughput.html:
 *   a condition that evaluates to false still consumes write units: for an existing item, those of
 *   the item the write would have made; for a new item, one. The same page: a read of an item that
 *   does not exist costs 1 unit strongly consistent, 0.5 eventually; BatchGetItem rounds each item
 *   up to 4 KB on its own; a projection does not reduce the units.
 * - Global secondary indexes: "Using Global Secondary Indexes", provisioned throughput, writes,
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html: an item entering the
 *   index is one write, leaving it one, an index key change two (delete + put), a change of projected
 *   attributes only one, nothing when the item is in the index neither before nor after; each in 1 KB
 *   units of the index entry (with projection ALL, the item). Index writes are not documented as
 *   doubled inside a transaction, so they are counted once.
 */

export const WRITE_UNIT_BYTES = 1024;
export const READ_UNIT_BYTES = 4096;

/** An item as the document client or `unmarshall` gives it: plain JS values. */
export type Item = Record<string, unknown>;

export type ReadConsistency = 'strong' | 'eventual' | 'transactional';

/** UTF-8 bytes of a string. */
const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/**
 * Bytes of a number as DynamoDB stores it: 1 byte per two significant digits, plus 1. Leading and
 * trailing zeros do not count (AWS: "Leading and trailing zeroes are trimmed").
 */
export function numberBytes(value: number | bigint | string): number {
  let text = typeof value === 'string' ? value : String(value);
  if (/e/i.test(text)) {
    // 1e+21 and 1.5e-7 as plain digits: only the significand's digits are significant.
    text = text.toLowerCase().split('e')[0] ?? '0';
  }
  const digits = text.replace(/^[-+]/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** `NumberValue` of @aws-sdk/lib-dynamodb (numbers kept as their digits). */
function isNumberValue(value: unknown): value is { value: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    value.constructor?.name === 'NumberValue' &&
    typeof (value as { value?: unknown }).value === 'string'
  );
}

/** Bytes of one attribute value (without its name). */
export function valueBytes(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return utf8(value);
  if (typeof value === 'number' || typeof value === 'bigint') return numberBytes(value);
  if (isNumberValue(value)) return numberBytes(value.value);
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof ArrayBuffer) return value.byteLength;
  if (value instanceof Set) {
    // A set (SS, NS, BS): its members' sizes; AWS documents no per-member overhead.
    let bytes = 0;
    for (const member of value) bytes += valueBytes(member);
    return bytes;
  }
  if (Array.isArray(value))
    return 3 + value.reduce((sum: number, element) => sum + 1 + valueBytes(element), 0);
  if (typeof value === 'object') {
    let bytes = 3;
    for (const [name, element] of Object.entries(value as Record<string, unknown>))
      if (element !== undefined) bytes += 1 + utf8(name) + valueBytes(element);
    return bytes;
  }
  return 0;
}

/** An item's size in bytes: its attribute names and values (0 for no item). */
export function itemBytes(item: Item | undefined): number {
  if (!item) return 0;
  let bytes = 0;
  for (const [name, value] of Object.entries(item))
    if (value !== undefined) bytes += utf8(name) + valueBytes(value);
  return bytes;
}

/** Write units of one item write: 1 per KB (at least 1), twice that inside a transaction. */
export function writeUnits(bytes: number, options: { transactional?: boolean } = {}): number {
  const units = Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));
  return options.transactional ? units * 2 : units;
}

/**
 * Read units of one read of `bytes` (one item, or the total a Query read): per 4 KB (at least one
 * 4 KB unit, even for nothing found), half when eventually consistent, double when transactional.
 */
export function readUnits(bytes: number, consistency: ReadConsistency): number {
  const units = Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
  return consistency === 'eventual' ? units / 2 : consistency === 'transactional' ? units * 2 : units;
}

/** A global secondary index's key attributes (its projection is ALL: the entry is the item). */
export interface IndexKeys {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey?: string;
}

/** A comparable form of a value: numbers by their digits, sets sorted, maps by key. */
export function canonical(value: unknown): string {
  const walk = (v: unknown): unknown => {
    if (v === undefined || v === null) return null;
    if (typeof v === 'number' || typeof v === 'bigint') return `n:${String(v)}`;
    if (isNumberValue(v)) return `n:${String(Number(v.value))}`;
    if (v instanceof Uint8Array) return `b:${Buffer.from(v).toString('base64')}`;
    if (v instanceof Set)
      return {
        set: [...v]
          .map(walk)
          .map((x) => JSON.stringify(x))
          .sort(),
      };
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .filter(([, x]) => x !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, x]) => [k, walk(x)]),
      );
    return v;
  };
  return JSON.stringify(walk(value));
}

const inIndex = (item: Item | undefined, index: IndexKeys) =>
  item !== undefined &&
  item[index.partitionKey] !== undefined &&
  (index.sortKey === undefined || item[index.sortKey] !== undefined);

const indexKeyOf = (item: Item, index: IndexKeys) =>
  canonical([item[index.partitionKey], index.sortKey ? item[index.sortKey] : null]);

/**
 * Index write units of one successful write that took the item from `before` to `after` (undefined:
 * absent), per index (projection ALL). A write that changed nothing writes no index.
 */
export function indexWriteUnits(
  before: Item | undefined,
  after: Item | undefined,
  indexes: readonly IndexKeys[],
): Record<string, number> {
  const units: Record<string, number> = {};
  const changed = canonical(before ?? null) !== canonical(after ?? null);
  for (const index of indexes) {
    const wasIn = inIndex(before, index);
    const isIn = inIndex(after, index);
    let n = 0;
    if (!wasIn && isIn) n = writeUnits(itemBytes(after));
    else if (wasIn && !isIn) n = writeUnits(itemBytes(before));
    else if (wasIn && isIn && before && after) {
      if (indexKeyOf(before, index) !== indexKeyOf(after, index))
        n = writeUnits(itemBytes(before)) + writeUnits(itemBytes(after));
      else if (changed) n = writeUnits(Math.max(itemBytes(before), itemBytes(after)));
    }
    if (n > 0) units[index.name] = n;
  }
  return units;
}
