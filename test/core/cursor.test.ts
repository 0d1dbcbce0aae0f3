import { describe, expect, it } from 'vitest';
import {
  decodeItemCursor,
  decodeShardCursor,
  encodeItemCursor,
  encodeShardCursor,
  InvalidCursorError,
  MAX_CURSOR_LENGTH,
} from '../../functions/core/cursor.ts';
import { ApiError, errorBody } from '../../functions/core/errors.ts';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const BROADCAST_SK = /^BROADCAST#brd_[0-9A-HJKMNP-TV-Z]{26}$/;
const mine = { pk: 'TENANT#acme', sk: BROADCAST_SK };
const key = { pk: 'TENANT#acme', sk: 'BROADCAST#brd_01JD7X1B2C3D4E5F6G7H8J9K0M' };
const recipients = { owner: 'brd_01JD7X1B2C3D4E5F6G7H8J9K0M', shards: 16, sk: /^R#[0-9]{7}$/ };

function refused(decode: () => unknown) {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCursorError);
    expect(error).toBeInstanceOf(ApiError);
    return errorBody(error);
  }
  throw new Error('expected the cursor to be refused');
}

describe('item cursors (a key within the caller’s partition)', () => {
  it('round-trips the key of a page’s last item, as opaque URL-safe text', () => {
    const cursor = encodeItemCursor('broadcasts', key);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeItemCursor('broadcasts', cursor, mine)).toEqual(key);
  });

  it('refuses, as 400 VALIDATION_FAILED naming cursor, whatever it did not give out', () => {
    const tampered = [
      'e30', // {}
      'null', // not base64 JSON
      b64('null'),
      b64('"a string"'),
      b64('[1,2]'),
      b64('{"shard":-5000}'),
      'not a cursor!',
      '',
      b64(JSON.stringify({ k: 'b', pk: 'TENANT#acme' })), // no sort key
      b64(JSON.stringify({ k: 'b', ...key, extra: 1 })), // unknown field
      b64(JSON.stringify({ k: 'b', pk: 'TENANT#acme', sk: 'CHUNK#00001' })), // a wrong prefix
      b64(JSON.stringify({ k: 'b', pk: 'TENANT#acme', sk: 'BROADCAST#brd_x' })),
      encodeItemCursor('suppressions', key), // another list's cursor
      encodeItemCursor('broadcasts', { ...key, pk: 'TENANT#acmex' }), // another tenant's real cursor
      encodeItemCursor('broadcasts', { ...key, pk: 'TENANT#globex' }),
    ];
    for (const cursor of tampered) {
      const body = refused(() => decodeItemCursor('broadcasts', cursor, mine));
      expect(body.error.code, cursor).toBe('VALIDATION_FAILED');
      expect(body.error.details).toEqual([{ path: 'cursor', message: expect.stringContaining('cursor') }]);
    }
  });

  it('bounds its size before decoding anything', () => {
    const long = encodeItemCursor('broadcasts', { pk: 'TENANT#acme', sk: `BROADCAST#${'x'.repeat(600)}` });
    refused(() => decodeItemCursor('broadcasts', long, { pk: 'TENANT#acme', sk: /^BROADCAST#x+$/ }));
    refused(() => decodeItemCursor('broadcasts', 'A'.repeat(MAX_CURSOR_LENGTH + 1), mine));
  });
});

describe('shard cursors (recipients: a shard of this broadcast, and a key within it)', () => {
  it('round-trips a shard, with or without a key', () => {
    for (const position of [{ shard: 0 }, { shard: 15, sk: 'R#0000031' }]) {
      const cursor = encodeShardCursor('recipients', recipients.owner, position);
      expect(decodeShardCursor('recipients', cursor, recipients)).toEqual(position);
    }
  });

  it('refuses a shard outside 0..shards−1, another broadcast, another list, a foreign key', () => {
    const tampered = [
      b64('{"shard":-5000}'),
      b64(JSON.stringify({ k: 'r', o: recipients.owner, shard: -5000 })),
      b64(JSON.stringify({ k: 'r', o: recipients.owner, shard: 16 })),
      b64(JSON.stringify({ k: 'r', o: recipients.owner, shard: 1.5 })),
      b64(JSON.stringify({ k: 'r', o: recipients.owner, shard: '3' })),
      encodeShardCursor('recipients', 'brd_01JD7X1B2C3D4E5F6G7H8J9K0N', { shard: 2 }),
      encodeShardCursor('recipients', recipients.owner, { shard: 2, sk: 'BROADCAST#brd_1' }),
      encodeItemCursor('broadcasts', key),
      'e30',
    ];
    for (const cursor of tampered) refused(() => decodeShardCursor('recipients', cursor, recipients));
  });
});
