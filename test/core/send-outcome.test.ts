import { describe, expect, it } from 'vitest';
import {
  classifySendOutcome,
  errorMessageFor,
  parseProviderErrorCode,
  rateLimitDelaySeconds,
} from '../../functions/core/send-outcome.ts';

const fixed = (r: number) => () => r;

describe('classifySendOutcome', () => {
  it('records the SID of an accepted message', () => {
    expect(classifySendOutcome({ kind: 'accepted', sid: 'SM123' })).toEqual({
      action: 'record-sid',
      sid: 'SM123',
    });
  });

  it('21211 is permanent, with its code and message', () => {
    expect(
      classifySendOutcome({
        kind: 'http-error',
        status: 400,
        code: 21211,
        message: "The 'To' number is not valid",
      }),
    ).toEqual({ action: 'fail-permanent', code: 21211, message: "The 'To' number is not valid" });
  });

  it('a permanent error without a message gets the readable one; without a code, the HTTP status', () => {
    expect(classifySendOutcome({ kind: 'http-error', status: 400, code: 63024 })).toEqual({
      action: 'fail-permanent',
      code: 63024,
      message: 'Not a WhatsApp user or invalid recipient',
    });
    expect(classifySendOutcome({ kind: 'http-error', status: 403 })).toEqual({
      action: 'fail-permanent',
      code: 403,
      message: 'Twilio error 403',
    });
  });

  it('500 is ambiguous: never resend blindly', () => {
    expect(classifySendOutcome({ kind: 'http-error', status: 500, code: 20500 }).action).toBe('ambiguous');
    for (const status of [502, 503, 504]) {
      expect(classifySendOutcome({ kind: 'http-error', status }).action).toBe('ambiguous');
    }
  });

  it('timeouts and network errors are ambiguous', () => {
    expect(classifySendOutcome({ kind: 'timeout', message: 'after 10 s' }).action).toBe('ambiguous');
    expect(classifySendOutcome({ kind: 'network-error', message: 'ECONNRESET' }).action).toBe('ambiguous');
  });

  it('20429 is rate-limited, and so are HTTP 429 and 63018', () => {
    expect(
      classifySendOutcome({ kind: 'http-error', status: 429, code: 20429 }, { random: fixed(0) }),
    ).toEqual({
      action: 'requeue-rate-limited',
      delaySeconds: 2,
      code: 20429,
    });
    expect(classifySendOutcome({ kind: 'http-error', status: 429 }).action).toBe('requeue-rate-limited');
    expect(classifySendOutcome({ kind: 'http-error', status: 400, code: 63018 }).action).toBe(
      'requeue-rate-limited',
    );
  });
});

describe('rateLimitDelaySeconds', () => {
  it('is a whole number of seconds between 2 and 30, spread by the random source', () => {
    expect(rateLimitDelaySeconds(fixed(0))).toBe(2);
    expect(rateLimitDelaySeconds(fixed(0.5))).toBe(16);
    expect(rateLimitDelaySeconds(fixed(0.999999))).toBe(30);
    expect(rateLimitDelaySeconds(fixed(1))).toBe(30);
    for (let i = 0; i < 1000; i++) {
      const d = rateLimitDelaySeconds();
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(2);
      expect(d).toBeLessThanOrEqual(30);
    }
  });
});

describe('errorMessageFor', () => {
  it("gives readable messages for TWILIO.md's codes", () => {
    expect(errorMessageFor(30003)).toBe('Unreachable destination handset');
    expect(errorMessageFor(63024)).toBe('Not a WhatsApp user or invalid recipient');
    expect(errorMessageFor(21211)).toBe("Invalid 'To' phone number");
    expect(errorMessageFor('30003')).toBe('Unreachable destination handset');
    for (const code of [20429, 21610, 21656, 63003, 63007, 63014, 63016, 63018, 63028, 63049, 30008]) {
      expect(errorMessageFor(code)).not.toMatch(/^Twilio error/);
    }
  });

  it('falls back to "Twilio error <code>"', () => {
    expect(errorMessageFor(12345)).toBe('Twilio error 12345');
  });
});

describe('parseProviderErrorCode', () => {
  it("reads Twilio's ErrorCode form value", () => {
    expect(parseProviderErrorCode('30003')).toBe(30003);
    expect(parseProviderErrorCode('')).toBeUndefined();
    expect(parseProviderErrorCode(undefined)).toBeUndefined();
    expect(parseProviderErrorCode('abc')).toBeUndefined();
  });
});
