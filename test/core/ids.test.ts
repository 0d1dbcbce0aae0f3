import { describe, expect, it } from 'vitest';
import { broadcastIdTime, isBroadcastId, newBroadcastId } from '../../functions/core/ids.ts';

describe('broadcast ids', () => {
  it('are brd_ + a ULID, URL-safe', () => {
    const id = newBroadcastId();
    expect(id).toMatch(/^brd_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(encodeURIComponent(id)).toBe(id);
    expect(isBroadcastId(id)).toBe(true);
  });

  it('sort by creation time', () => {
    const a = newBroadcastId(Date.UTC(2026, 0, 1));
    const b = newBroadcastId(Date.UTC(2026, 0, 2));
    expect(a < b).toBe(true);
    expect(broadcastIdTime(a)).toBe(Date.UTC(2026, 0, 1));
  });

  it('are unique', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newBroadcastId()));
    expect(ids.size).toBe(1000);
  });

  it('rejects anything else', () => {
    for (const s of [
      '',
      'brd_',
      'brd_123',
      `BRD_${'0'.repeat(26)}`,
      `brd_${'U'.repeat(26)}`,
      `brd_${'0'.repeat(27)}`,
      42,
    ]) {
      expect(isBroadcastId(s)).toBe(false);
    }
  });
});
