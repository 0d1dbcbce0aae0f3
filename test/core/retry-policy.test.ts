import { describe, expect, it } from 'vitest';
import {
  errorClassOf,
  isRetryable,
  parseBackoffSeconds,
  retryDecision,
} from '../../functions/core/retry-policy.ts';

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
    [63024, 'permanent'],
    [63028, 'permanent'],
    [21610, 'suppress'],
    [63014, 'suppress'],
    [30003, 'transient'],
    [30008, 'transient'],
    [63049, 'transient'],
  ])('%i is %s', (code, errorClass) => {
    expect(errorClassOf(code)).toBe(errorClass);
    expect(errorClassOf(String(code))).toBe(errorClass);
  });

  it('treats an unknown or missing code as transient (retried within the same limit)', () => {
    expect(errorClassOf(39999)).toBe('transient');
    expect(errorClassOf(undefined)).toBe('transient');
    expect(isRetryable(39999)).toBe(true);
    expect(isRetryable(63024)).toBe(false);
    expect(isRetryable(21610)).toBe(false);
  });
});

describe('retry decisions through backoff windows', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  const windows = [300, 900, 3600];

  it('retries a transient failure after the window of its attempt', () => {
    expect(retryDecision(30003, 1, windows, now)).toEqual({
      retry: true,
      at: new Date('2026-11-23T10:05:00Z'),
    });
    expect(retryDecision(30003, 2, windows, now)).toEqual({
      retry: true,
      at: new Date('2026-11-23T10:15:00Z'),
    });
    expect(retryDecision(30003, 3, windows, now)).toEqual({
      retry: true,
      at: new Date('2026-11-23T11:00:00Z'),
    });
  });

  it('stops after 1 + windows attempts, and never retries permanent or suppressing codes', () => {
    expect(retryDecision(30003, 4, windows, now)).toEqual({ retry: false, reason: 'exhausted' });
    expect(retryDecision(63024, 1, windows, now)).toEqual({ retry: false, reason: 'permanent' });
    expect(retryDecision(21610, 1, windows, now)).toEqual({ retry: false, reason: 'suppress' });
  });

  it('reads RETRY_BACKOFF_SECONDS, and refuses a bad value with a message naming it', () => {
    expect(parseBackoffSeconds(undefined)).toEqual([300, 900, 3600]);
    expect(parseBackoffSeconds('1, 1,1')).toEqual([1, 1, 1]);
    expect(() => parseBackoffSeconds('5m,15m')).toThrow(/RETRY_BACKOFF_SECONDS/);
  });
});
