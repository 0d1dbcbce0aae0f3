import { describe, expect, it } from 'vitest';
import {
  ERROR_RULES,
  errorClassOf,
  isRetryable,
  MAX_RETRY_WAIT_SECONDS,
  parseBackoffSeconds,
  retryDecision,
} from '../../functions/core/retry-policy.ts';

const IL = '+972501234567';
/** The White House switchboard: region US. */
const US = '+12024561111';
/** Toronto: +1 too, but Canada. */
const CA = '+14163920000';

describe('error classes (TWILIO.md, "Error codes")', () => {
  it.each([
    [20429, 'rate-limited'],
    [63018, 'rate-limited'],
    [20500, 'ambiguous'],
    [503, 'ambiguous'],
    [21211, 'permanent'],
    [21656, 'permanent'],
    [63003, 'permanent'],
    [63007, 'permanent'],
    [63016, 'permanent'],
    [63021, 'permanent'],
    [63024, 'permanent'],
    [63028, 'permanent'],
    [21610, 'suppress'],
    [63014, 'suppress'],
    [30003, 'transient'],
    [30008, 'transient'],
    [63049, 'transient'],
  ])('%i is %s', (code, errorClass) => {
    expect(errorClassOf(code, IL)).toBe(errorClass);
    expect(errorClassOf(String(code), IL)).toBe(errorClass);
  });

  it('treats an unknown or missing code as transient (retried within the same limit)', () => {
    expect(errorClassOf(39999, IL)).toBe('transient');
    expect(errorClassOf(undefined, IL)).toBe('transient');
    expect(isRetryable(39999, IL)).toBe(true);
    expect(isRetryable(63024, IL)).toBe(false);
    expect(isRetryable(21610, IL)).toBe(false);
  });

  it('gives every rule a source, and each code at most one rule per destination', () => {
    for (const rule of ERROR_RULES) expect(rule.source).toMatch(/^https:\/\//);
    const keys = ERROR_RULES.map((rule) => `${rule.code}/${rule.destination?.name ?? 'any'}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('63049 depends on the destination', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  const windows = [300, 900, 3600];
  const hoursLater = (hours: number) => new Date(now.getTime() + hours * 3600_000);

  it('to a US number: permanent, never retried (Meta delivers no marketing template there)', () => {
    expect(errorClassOf(63049, US)).toBe('permanent');
    expect(retryDecision(63049, US, 1, windows, now)).toEqual({ retry: false, reason: 'permanent' });
    expect(retryDecision('63049', US, 1, windows, now)).toEqual({ retry: false, reason: 'permanent' });
    // A manual retry skips it too.
    expect(isRetryable(63049, US)).toBe(false);
  });

  it('elsewhere: retried no sooner than 24 h after, then 48 h, then 96 h, within the same attempt budget', () => {
    expect(retryDecision(63049, IL, 1, windows, now)).toEqual({ retry: true, at: hoursLater(24) });
    expect(retryDecision(63049, IL, 2, windows, now)).toEqual({ retry: true, at: hoursLater(48) });
    expect(retryDecision(63049, IL, 3, windows, now)).toEqual({ retry: true, at: hoursLater(96) });
    expect(retryDecision(63049, IL, 4, windows, now)).toEqual({ retry: false, reason: 'exhausted' });
    expect(isRetryable(63049, IL)).toBe(true);
  });

  it('+1 is not all US: a Canadian number is held to the per-user limit, not the US rule', () => {
    expect(retryDecision(63049, CA, 1, windows, now)).toEqual({ retry: true, at: hoursLater(24) });
  });

  it('never waits longer than 7 days, and a longer configured window still wins over the minimum', () => {
    const long = [300, 900, 3600, 3600, 3600];
    expect(retryDecision(63049, IL, 4, long, now)).toEqual({ retry: true, at: hoursLater(168) });
    expect(retryDecision(63049, IL, 5, long, now)).toEqual({
      retry: true,
      at: new Date(now.getTime() + MAX_RETRY_WAIT_SECONDS * 1000),
    });
    expect(retryDecision(63049, IL, 1, [3 * 86_400], now)).toEqual({ retry: true, at: hoursLater(72) });
  });

  it('the destination changes nothing for other codes', () => {
    expect(retryDecision(30003, US, 1, windows, now)).toEqual({
      retry: true,
      at: new Date('2026-11-23T10:05:00Z'),
    });
    expect(retryDecision(63024, IL, 1, windows, now)).toEqual({ retry: false, reason: 'permanent' });
  });
});

describe('retry decisions through backoff windows', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  const windows = [300, 900, 3600];

  it('retries a transient failure after the window of its attempt', () => {
    expect(retryDecision(30003, IL, 1, windows, now)).toEqual({
      retry: true,
      at: new Date('2026-11-23T10:05:00Z'),
    });
    expect(retryDecision(30003, IL, 2, windows, now)).toEqual({
      retry: true,
      at: new Date('2026-11-23T10:15:00Z'),
    });
    expect(retryDecision(30003, IL, 3, windows, now)).toEqual({
      retry: true,
      at: new Date('2026-11-23T11:00:00Z'),
    });
  });

  it('stops after 1 + windows attempts, and never retries permanent or suppressing codes', () => {
    expect(retryDecision(30003, IL, 4, windows, now)).toEqual({ retry: false, reason: 'exhausted' });
    expect(retryDecision(63024, IL, 1, windows, now)).toEqual({ retry: false, reason: 'permanent' });
    expect(retryDecision(21610, IL, 1, windows, now)).toEqual({ retry: false, reason: 'suppress' });
  });

  it('reads RETRY_BACKOFF_SECONDS, and refuses a bad value with a message naming it', () => {
    expect(parseBackoffSeconds(undefined)).toEqual([300, 900, 3600]);
    expect(parseBackoffSeconds('1, 1,1')).toEqual([1, 1, 1]);
    expect(() => parseBackoffSeconds('5m,15m')).toThrow(/RETRY_BACKOFF_SECONDS/);
    for (const typo of ['5,,5', '5,', '-5', '1.5'])
      expect(() => parseBackoffSeconds(typo), typo).toThrow(/RETRY_BACKOFF_SECONDS/);
    expect(parseBackoffSeconds(String(MAX_RETRY_WAIT_SECONDS))).toEqual([604_800]);
    expect(() => parseBackoffSeconds(String(MAX_RETRY_WAIT_SECONDS + 1))).toThrow(/at most 604800/);
  });
});
