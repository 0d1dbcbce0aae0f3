import { describe, expect, it } from 'vitest';
import {
  addCounts,
  emptyCounts,
  moveDelta,
  progressOf,
  sumCounts,
  toCounts,
  totalOf,
} from '../../functions/core/counts.ts';
import { RECIPIENT_STATUSES } from '../../functions/core/statuses.ts';

describe('counts', () => {
  it('always carries every status as a key', () => {
    const c = emptyCounts();
    expect(Object.keys(c).sort()).toEqual([...RECIPIENT_STATUSES].sort());
    expect(totalOf(c)).toBe(0);
    expect(Object.keys(toCounts({ sent: 2, bogus: 9 })).sort()).toEqual([...RECIPIENT_STATUSES].sort());
    expect(toCounts({ sent: 2, bogus: 9 }).sent).toBe(2);
    expect(toCounts(undefined)).toEqual(emptyCounts());
  });

  it('adds shards key by key without mutating them', () => {
    const a = { ...emptyCounts(), queued: 3, sent: 1 };
    const b = { sent: 2, failed: 1 };
    const sum = addCounts(a, b);
    expect(sum.queued).toBe(3);
    expect(sum.sent).toBe(3);
    expect(sum.failed).toBe(1);
    expect(a.sent).toBe(1);
    expect(sumCounts([a, b, { read: 4 }]).read).toBe(4);
  });

  it('a move keeps the total: -1 on the old status, +1 on the new', () => {
    const before = { ...emptyCounts(), queued: 10 };
    const after = addCounts(before, moveDelta('queued', 'sending'));
    expect(after.queued).toBe(9);
    expect(after.sending).toBe(1);
    expect(totalOf(after)).toBe(totalOf(before));
    expect(moveDelta('sent', 'sent')).toEqual({});
  });
});

describe('progressOf', () => {
  it('counts everything past pending/queued/sending as processed', () => {
    const c = {
      ...emptyCounts(),
      pending: 1,
      queued: 2,
      sending: 3,
      sent: 1,
      delivered: 1,
      failed: 1,
      skipped: 1,
    };
    expect(progressOf(c, 10)).toEqual({ processedCount: 4, pendingCount: 6, progressPct: 40 });
  });

  it('floors the percentage: 2 of 3 is 66, not 67', () => {
    expect(progressOf({ ...emptyCounts(), sent: 2, queued: 1 }, 3).progressPct).toBe(66);
  });

  it('reaches 100 only when everyone is processed', () => {
    expect(progressOf({ ...emptyCounts(), read: 999, queued: 1 }, 1000).progressPct).toBe(99);
    expect(progressOf({ ...emptyCounts(), read: 1000 }, 1000).progressPct).toBe(100);
  });

  it('is 0 for an empty broadcast and stays within 0..100', () => {
    expect(progressOf(emptyCounts(), 0)).toEqual({ processedCount: 0, pendingCount: 0, progressPct: 0 });
    expect(progressOf({ ...emptyCounts(), sent: 5 }, 3).progressPct).toBe(100);
    expect(progressOf({ ...emptyCounts(), sent: -2 }, 3).progressPct).toBe(0);
  });
});
