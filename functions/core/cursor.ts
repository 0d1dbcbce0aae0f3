import { z } from 'zod';
import { ApiError } from './errors.ts';

/**
 * Paging cursors: opaque to clients, verified on the way back in. A cursor is base64url JSON with a
 * kind tag (which list gave it out) and the position in that list, and it is only honoured when it
 * is well formed, of the list being read, bounded, and inside what the caller may read: the
 * caller's own partition (tenant-bound), or for recipients a shard of the broadcast being read.
 * Anything else, including another tenant's real cursor, is a 400 VALIDATION_FAILED naming
 * `cursor`, decided before any read: a tampered cursor costs no query.
 *
 * The stores know their key shapes and pass them in as the expected partition and sort-key
 * pattern; this module knows the encoding and the checks.
 */

/** The lists that give out cursors; a cursor of one list is refused by every other. */
export const CURSOR_KINDS = {
  broadcasts: 'b',
  recipients: 'r',
  suppressions: 's',
  history: 'h',
  contacts: 'c',
  contactNames: 'cn',
  groups: 'g',
  members: 'm',
  templates: 't',
  imports: 'i',
  campaigns: 'cp',
  apiKeys: 'k',
  audit: 'a',
  erasures: 'e',
} as const;
export type CursorKind = keyof typeof CURSOR_KINDS;

/** Longest cursor accepted, in characters: the longest key this API pages by encodes to ~300. */
export const MAX_CURSOR_LENGTH = 1024;
/** Longest partition or sort key a cursor may name (DynamoDB allows 2,048 / 1,024 bytes). */
const MAX_KEY_LENGTH = 512;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A cursor this API did not give out for this list and this caller: 400, `path: 'cursor'`. */
export class InvalidCursorError extends ApiError {
  constructor() {
    super('VALIDATION_FAILED', 'Invalid query parameters: cursor: not a cursor of this list', [
      {
        path: 'cursor',
        message:
          "not a cursor this API gave out for this list; use a page's nextCursor as it is, or start again without it",
      },
    ]);
    this.name = 'InvalidCursor';
  }
}

/** The key of the last item of a page: the next page starts after it. */
export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

/** What an item cursor must name to be honoured: the caller's partition, a key of this list. */
export interface ItemCursorScope {
  readonly pk: string;
  readonly sk: RegExp;
}

/** A position in a list read shard by shard: the shard, and the last key read within it (if any). */
export interface ShardPosition {
  readonly shard: number;
  readonly sk?: string;
}

/** What a shard cursor must name: its owner (the broadcast being read), a shard, a key of it. */
export interface ShardCursorScope {
  readonly owner: string;
  /** Shards are 0 .. shards − 1. */
  readonly shards: number;
  readonly sk: RegExp;
}

const key = z.string().min(1).max(MAX_KEY_LENGTH);
const itemCursorSchema = z.strictObject({ k: z.string(), pk: key, sk: key });
const shardCursorSchema = z.strictObject({
  k: z.string(),
  o: key,
  shard: z.number().int().min(0),
  sk: key.optional(),
});

/** `{ k, pk, sk }` as base64url JSON. */
export function encodeItemCursor(kind: CursorKind, position: ItemKey): string {
  return encode({ k: CURSOR_KINDS[kind], pk: position.pk, sk: position.sk });
}

/** The key an item cursor names; InvalidCursorError unless it is of `kind` and inside `scope`. */
export function decodeItemCursor(kind: CursorKind, text: string, scope: ItemCursorScope): ItemKey {
  const parsed = itemCursorSchema.safeParse(decode(text));
  if (!parsed.success) throw new InvalidCursorError();
  const { k, pk, sk } = parsed.data;
  if (k !== CURSOR_KINDS[kind] || pk !== scope.pk || !scope.sk.test(sk)) throw new InvalidCursorError();
  return { pk, sk };
}

/** `{ k, o: owner, shard, sk? }` as base64url JSON. */
export function encodeShardCursor(kind: CursorKind, owner: string, position: ShardPosition): string {
  return encode({
    k: CURSOR_KINDS[kind],
    o: owner,
    shard: position.shard,
    ...(position.sk !== undefined ? { sk: position.sk } : {}),
  });
}

/** The position a shard cursor names; InvalidCursorError unless it is of `kind` and inside `scope`. */
export function decodeShardCursor(kind: CursorKind, text: string, scope: ShardCursorScope): ShardPosition {
  const parsed = shardCursorSchema.safeParse(decode(text));
  if (!parsed.success) throw new InvalidCursorError();
  const { k, o, shard, sk } = parsed.data;
  if (k !== CURSOR_KINDS[kind] || o !== scope.owner || shard >= scope.shards) throw new InvalidCursorError();
  if (sk !== undefined && !scope.sk.test(sk)) throw new InvalidCursorError();
  return sk !== undefined ? { shard, sk } : { shard };
}

function encode(payload: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

/** The JSON inside a cursor; InvalidCursorError for anything that is not bounded base64url JSON. */
function decode(text: string): unknown {
  if (text.length === 0 || text.length > MAX_CURSOR_LENGTH || !BASE64URL.test(text))
    throw new InvalidCursorError();
  try {
    return JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
}

/** A RegExp source matching `text` literally (for sort-key prefixes built from tenant ids). */
export function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
