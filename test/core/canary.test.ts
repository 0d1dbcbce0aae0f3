import { describe, expect, it } from 'vitest';
import {
  CanaryRequest,
  type CanaryState,
  canaryHolds,
  canaryPauseReason,
  canaryVerdict,
  planCanary,
  SENT_GRACE_SECONDS,
  topErrorCode,
} from '../../functions/core/canary.ts';

const list = (n: number, skipped: number[] = []) =>
  Array.from({ length: n }, (_, index) => ({ index, ...(skipped.includes(index) ? { skipped: true } : {}) }));

const START = '2026-11-30T10:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(START) + seconds * 1000);

function canary(overrides: Partial<CanaryState> = {}): CanaryState {
  return {
    size: 10,
    below: 10,
    rest: 90,
    maxFailureRate: 0.2,
    minOutcomes: 10,
    decision: 'waiting',
    ...overrides,
  };
}

describe('the canary request', () => {
  it('takes recipients or percent, not both nor neither, and a failure rate between 0 and 1', () => {
    expect(CanaryRequest.safeParse({ recipients: 50, maxFailureRate: 0.1 }).success).toBe(true);
    expect(CanaryRequest.safeParse({ percent: 5, maxFailureRate: 0 }).success).toBe(true);
    expect(CanaryRequest.safeParse({ recipients: 5, percent: 5, maxFailureRate: 0.1 }).success).toBe(false);
    expect(CanaryRequest.safeParse({ maxFailureRate: 0.1 }).success).toBe(false);
    expect(CanaryRequest.safeParse({ recipients: 5, maxFailureRate: 1.5 }).success).toBe(false);
    expect(CanaryRequest.safeParse({ recipients: 0, maxFailureRate: 0.1 }).success).toBe(false);
    expect(CanaryRequest.safeParse({ percent: 0, maxFailureRate: 0.1 }).success).toBe(false);
    expect(CanaryRequest.safeParse({ recipients: 5, maxFailureRate: 0.1, extra: 1 }).success).toBe(false);
  });
});

describe('planCanary', () => {
  it('takes the first N sendable recipients in list order, skipping the skipped ones', () => {
    const plan = planCanary({ recipients: 3, maxFailureRate: 0.1 }, list(10, [1, 2]));
    expect(plan).toMatchObject({ size: 3, below: 5, rest: 5, minOutcomes: 3, decision: 'waiting' });
    expect(canaryHolds(plan, 4)).toBe(false);
    expect(canaryHolds(plan, 5)).toBe(true);
    expect(canaryHolds({ ...plan, decision: 'proceeded' }, 5)).toBe(false);
  });

  it('rounds a percent up, sends at least one, and never more than there are', () => {
    expect(planCanary({ percent: 10, maxFailureRate: 0 }, list(95)).size).toBe(10);
    expect(planCanary({ percent: 10, maxFailureRate: 0 }, list(100)).size).toBe(10);
    expect(planCanary({ percent: 0.1, maxFailureRate: 0 }, list(20)).size).toBe(1);
    expect(planCanary({ recipients: 50, maxFailureRate: 0 }, list(20))).toMatchObject({ size: 20, rest: 0 });
    expect(planCanary({ recipients: 5, maxFailureRate: 0, minOutcomes: 99 }, list(20)).minOutcomes).toBe(5);
  });
});

describe('canaryVerdict', () => {
  const observe = (counts: Record<string, number>, seconds = 5, errors: Record<string, number> = {}) =>
    canaryVerdict(canary(), { counts, errors, startedAt: START, now: at(seconds) });

  it('waits while a canary recipient is still queued or sending (the held rest does not count)', () => {
    expect(observe({ queued: 90 + 3, sending: 1, delivered: 6 }).ready).toBe(false);
    expect(observe({ pending: 90, queued: 0, delivered: 10 }).ready).toBe(true);
  });

  it('does not believe `sent` at once: a failure may follow it, until the grace has passed', () => {
    expect(observe({ queued: 90, sent: 2, delivered: 8 }).ready).toBe(false);
    expect(observe({ queued: 90, sent: 2, delivered: 8 }, SENT_GRACE_SECONDS)).toMatchObject({
      ready: true,
      decision: 'proceeded',
      outcomes: 10,
    });
  });

  it('pauses above the threshold and proceeds at or below it', () => {
    expect(observe({ queued: 90, delivered: 8, failed: 2 })).toMatchObject({
      ready: true,
      decision: 'proceeded',
      failureRate: 0.2,
    });
    const failing = observe({ queued: 90, delivered: 7, failed: 2, undelivered: 1 }, 5, {
      '63024': 2,
      '30003': 1,
    });
    expect(failing).toMatchObject({ ready: true, decision: 'paused', failures: 3, topErrorCode: 63024 });
    if (!failing.ready) throw new Error('unreachable');
    expect(canaryPauseReason(failing, 0.2)).toBe(
      'canary: 3 of 10 failed (30%, above the 20% allowed); most common error 63024',
    );
  });

  it('decides once minOutcomes final outcomes are in, even with canary recipients in flight', () => {
    const early = canaryVerdict(canary({ minOutcomes: 4 }), {
      counts: { queued: 95, failed: 4 },
      errors: { '63024': 4 },
      startedAt: START,
      now: at(1),
    });
    expect(early).toMatchObject({ ready: true, decision: 'paused', failureRate: 1 });
  });

  it('proceeds when everyone in the canary was skipped (nothing to judge)', () => {
    expect(observe({ queued: 90, skipped: 10 })).toMatchObject({
      ready: true,
      decision: 'proceeded',
      outcomes: 0,
    });
  });

  it('names the most common error code, the lowest on a tie', () => {
    expect(topErrorCode({})).toBeUndefined();
    expect(topErrorCode({ '63024': 2, '30003': 2, '63016': 1 })).toBe(30003);
    expect(topErrorCode({ '63024': 0 })).toBeUndefined();
  });
});
