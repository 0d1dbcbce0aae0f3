import { describe, expect, it } from 'vitest';
import {
  bodyFingerprint,
  canonicalJson,
  derivedIdempotencyKey,
  explicitIdempotencyKey,
  IDEMPOTENCY_WINDOW_SECONDS,
  idempotencyExpiresAt,
  isIdempotencyRecordLive,
  requestFingerprint,
} from '../../functions/core/idempotency.ts';

const SID = 'HX0123456789abcdef0123456789abcdef';
const request = {
  name: 'Fertilizer subsidy',
  template: { contentSid: SID, variables: { '1': '{{name}}', '2': 'May 5' } },
  recipients: ['+972501234567', { phone: '050-123-4568', variables: { name: 'Dana' } }],
  defaultCountry: 'IL',
  followUp: { body: 'Full text', confirmPayload: 'read_broadcast' },
};

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe('requestFingerprint', () => {
  const fp = requestFingerprint('t1', request);

  it('is a sha256 hex digest', () => {
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same for the same request, whatever the key order', () => {
    const reordered = {
      followUp: { confirmPayload: 'read_broadcast', body: 'Full text' },
      recipients: ['+972501234567', { variables: { name: 'Dana' }, phone: '050-123-4568' }],
      template: { variables: { '2': 'May 5', '1': '{{name}}' }, contentSid: SID },
      defaultCountry: 'IL',
      name: 'Fertilizer subsidy',
    };
    expect(requestFingerprint('t1', reordered)).toBe(fp);
  });

  it('ignores the name (API.md: same tenant, template, recipients, followUp)', () => {
    expect(requestFingerprint('t1', { ...request, name: 'Renamed' })).toBe(fp);
  });

  it('differs by tenant, template, recipients, followUp, defaultCountry, schedule, quiet hours and cap', () => {
    const others = [
      requestFingerprint('t2', request),
      requestFingerprint('t1', { ...request, template: { contentSid: SID } }),
      requestFingerprint('t1', { ...request, recipients: ['+972501234567'] }),
      requestFingerprint('t1', { ...request, recipients: [...request.recipients].reverse() }),
      requestFingerprint('t1', { ...request, followUp: undefined }),
      requestFingerprint('t1', { ...request, defaultCountry: 'KE' }),
      requestFingerprint('t1', { ...request, scheduledAt: '2026-12-01T09:00:00.000Z' }),
      // A send with other quiet hours or another frequency cap is another request, not a double click.
      requestFingerprint('t1', { ...request, quietHours: { start: '21:00', end: '08:00' } }),
      requestFingerprint('t1', { ...request, frequencyCap: { max: 1, days: 7 } }),
    ];
    expect(new Set([fp, ...others]).size).toBe(others.length + 1);
  });
});

describe('bodyFingerprint', () => {
  it('includes the name, for the Idempotency-Key conflict rule', () => {
    expect(bodyFingerprint('t1', request)).toBe(bodyFingerprint('t1', { ...request }));
    expect(bodyFingerprint('t1', { ...request, name: 'Renamed' })).not.toBe(bodyFingerprint('t1', request));
  });
});

describe('the 10-minute window', () => {
  const fp = requestFingerprint('t1', request);
  const at = (hhmm: string) => new Date(`2026-06-01T${hhmm}Z`);

  it('is 600 seconds, and the derived key does not depend on the clock', () => {
    expect(IDEMPOTENCY_WINDOW_SECONDS).toBe(600);
    expect(derivedIdempotencyKey(fp, at('09:59:00'))).toBe(derivedIdempotencyKey(fp, at('10:01:00')));
  });

  it('a request at 9:59 and its repeat at 10:01 are the same broadcast', () => {
    const expiresAt = idempotencyExpiresAt(at('09:59:00'));
    expect(isIdempotencyRecordLive(expiresAt, at('10:01:00'))).toBe(true);
    expect(isIdempotencyRecordLive(expiresAt, at('10:08:59'))).toBe(true);
  });

  it('a repeat 10 minutes or more later is a new broadcast', () => {
    const expiresAt = idempotencyExpiresAt(at('09:59:00'));
    expect(isIdempotencyRecordLive(expiresAt, at('10:09:00'))).toBe(false);
    expect(isIdempotencyRecordLive(expiresAt, at('11:00:00'))).toBe(false);
  });

  it('keeps client keys apart from derived keys and between tenants', () => {
    expect(explicitIdempotencyKey('t1', fp)).not.toBe(derivedIdempotencyKey(fp));
    expect(explicitIdempotencyKey('t1', 'order-42')).not.toBe(explicitIdempotencyKey('t2', 'order-42'));
    expect(explicitIdempotencyKey('t1', 'order-42')).toBe(explicitIdempotencyKey('t1', 'order-42'));
  });
});
