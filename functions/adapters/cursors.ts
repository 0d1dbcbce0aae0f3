/**
 * Paging cursors: opaque to clients (base64url JSON of where the next page starts), and verified as
 * ours when they come back. A cursor names a DynamoDB key, so it is only honoured when that key lies
 * in the very partition the caller's request reads (its own tenant, broadcast or contact, with the
 * list's sort key prefix): a forged or another tenant's cursor is refused, never followed, and
 * nothing in it can make one request do unbounded work.
 */

const MAX_CURSOR_LENGTH = 2048;

/** A cursor that is not one this API gave out for this list (an HTTP 400 naming `cursor`). */
export class InvalidCursorError extends Error {
  constructor(why: string) {
    super(`The cursor is not one this API gave out for this list (${why})`);
    this.name = 'InvalidCursor';
  }
}

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function parse(cursor: string): unknown {
  if (cursor.length > MAX_CURSOR_LENGTH) throw new InvalidCursorError('too long');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError('not base64url');
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('not JSON');
  }
}

/** A table key `{ pk, sk }` in partition `pk` with a sort key starting with `skPrefix`. */
export function decodeCursor(
  cursor: string,
  expect: { pk: string; skPrefix: string },
): { pk: string; sk: string } {
  return checkKey(parse(cursor), expect);
}

function checkKey(value: unknown, expect: { pk: string; skPrefix: string }): { pk: string; sk: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidCursorError('not a key');
  const { pk, sk, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new InvalidCursorError('unexpected fields');
  if (pk !== expect.pk) throw new InvalidCursorError('another list');
  if (typeof sk !== 'string' || !sk.startsWith(expect.skPrefix) || sk.length > 512)
    throw new InvalidCursorError('not a position in this list');
  return { pk, sk };
}

/**
 * A cursor over a sharded list (a broadcast's recipients): `{ shard, key? }`, the shard an integer
 * below `shards` and the key, when there is one, inside that shard's partition.
 */
export function decodeShardedCursor(
  cursor: string,
  shards: number,
  expect: (shard: number) => { pk: string; skPrefix: string },
): { shard: number; key?: { pk: string; sk: string } } {
  const value = parse(cursor);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidCursorError('not a position');
  const { shard, key, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new InvalidCursorError('unexpected fields');
  if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0 || shard >= shards)
    throw new InvalidCursorError('no such shard');
  return key === undefined ? { shard } : { shard, key: checkKey(key, expect(shard)) };
}
