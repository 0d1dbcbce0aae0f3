import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Issue 10 (items 6 and 8): every answer in the contract's shape, and hostile input refused, through
 * the local twin's HTTP gateway and the real handlers.
 */

const ACME = 'key-acme-contract-0123456789';
const GLOBEX = 'key-globex-contract-0123456789';
const EMPTY = 'key-empty-contract-0123456789';
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;
const DAY_MS = 86_400_000;

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX},empty:${EMPTY}`,
    SIM_MPS: '1000',
  });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

const call: ApiTwin['call'] = (...args) => api.call(...args);
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
/** A broadcast that waits (scheduled tomorrow): stored and listed, nothing sent. */
const scheduled = (recipients: unknown[] = [testPhone()]) => ({
  template: { contentSid: CONTENT_SID },
  recipients,
  scheduledAt: new Date(Date.now() + DAY_MS).toISOString(),
});
const create = async (key: string, body: unknown) => {
  const res = await call('POST', '/v1/broadcasts', { key, body });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.broadcastId as string;
};
const listed = async (key: string, route: string) => {
  const res = await call('GET', route, { key });
  expect(res.status).toBe(200);
  return res.body.items as Json[];
};
/** The request as raw bytes, with exactly the headers given (fetch adds no Content-Type to bytes). */
const raw = async (method: string, route: string, headers: Record<string, string>, body?: string) => {
  const res = await fetch(`${api.twin.apiUrl}${route}`, {
    method,
    headers,
    ...(body !== undefined ? { body: new TextEncoder().encode(body) } : {}),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
};

describe('bodies: JSON routes take application/json only', () => {
  it('refuses text/plain, a form and no content type with 415, and stores nothing', async () => {
    const json = JSON.stringify(scheduled());
    const suppression = JSON.stringify({ phone: testPhone() });
    for (const [contentType, body, problem] of [
      ['text/plain', json, "got 'text/plain'"],
      ['text/plain;charset=UTF-8', json, "got 'text/plain'"],
      [
        'application/x-www-form-urlencoded',
        'template=x&recipients=%2B972501234567',
        "got 'application/x-www-form-urlencoded'",
      ],
      [undefined, json, 'no Content-Type header was sent'],
    ] as const) {
      const headers = {
        authorization: `Bearer ${EMPTY}`,
        ...(contentType ? { 'content-type': contentType } : {}),
      };
      for (const [route, sent] of [
        ['/v1/broadcasts', body],
        ['/v1/suppressions', contentType === 'application/x-www-form-urlencoded' ? body : suppression],
      ] as const) {
        const res = await raw('POST', route, headers, sent);
        expect(res.status, `${route} ${contentType}`).toBe(415);
        expect(res.body.error).toMatchObject({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          details: [{ path: 'Content-Type', message: problem, expected: 'application/json' }],
        });
      }
    }
    expect(await listed(EMPTY, '/v1/broadcasts')).toEqual([]);
    expect(await listed(EMPTY, '/v1/suppressions')).toEqual([]);

    // JSON with its charset is read.
    const ok = await raw(
      'POST',
      '/v1/suppressions',
      { authorization: `Bearer ${EMPTY}`, 'content-type': 'application/json; charset=utf-8' },
      suppression,
    );
    expect(ok.status).toBe(201);
    await call('DELETE', `/v1/suppressions/${encodeURIComponent(ok.body.phone)}`, { key: EMPTY });
  });
});

describe('query parameters: strict like body fields', () => {
  it('refuses an unknown parameter on any admin route, naming it', async () => {
    const id = await create(ACME, scheduled());
    for (const route of [
      '/v1/broadcasts?limt=5',
      `/v1/broadcasts/${id}?verbose=1`,
      `/v1/broadcasts/${id}/progress?x=1`,
      `/v1/broadcasts/${id}/recipients?stauts=failed`,
      '/v1/metrics?tenant=globex',
      '/v1/suppressions?status=admin',
    ]) {
      const res = await call('GET', route, { key: ACME });
      expect(res.status, route).toBe(400);
      const name = route.split('?')[1]?.split('=')[0];
      expect(res.body.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: [{ path: name, message: expect.stringContaining('unknown query parameter') }],
      });
    }
  });

  it('reads limit as decimal digits only: 0x10, 1e2, " 16", 16.0 are 400', async () => {
    for (const limit of ['0x10', '1e2', '%2016', '16.0', '']) {
      const res = await call('GET', `/v1/broadcasts?limit=${limit}`, { key: ACME });
      expect(res.status, limit).toBe(400);
      expect(res.body.error.details).toEqual([
        { path: 'limit', message: 'must be a whole number from 1 to 500, in decimal digits' },
      ]);
    }
    expect((await call('GET', '/v1/broadcasts?limit=16', { key: ACME })).status).toBe(200);
  });
});

describe('cursors: verified, bounded, tenant-bound', () => {
  it('refuses every tampered cursor of the issue with 400 naming cursor, in well under a second', async () => {
    // Real cursors: acme's broadcasts, recipients and suppressions; globex's broadcast to try them on.
    await create(ACME, scheduled());
    await create(ACME, scheduled());
    const sent = await create(ACME, {
      template: { contentSid: CONTENT_SID },
      recipients: [testPhone(), testPhone()],
    });
    // Recipients enter the ledger when they are claimed for sending: wait until both were sent.
    await api.untilBroadcast(sent, ACME);
    const theirs = await create(GLOBEX, scheduled());
    for (const _ of [1, 2])
      await call('POST', '/v1/suppressions', { key: ACME, body: { phone: testPhone() } });

    const cursorOf = async (route: string) => {
      const res = await call('GET', route, { key: ACME });
      expect(res.body.nextCursor, route).toEqual(expect.any(String));
      return res.body.nextCursor as string;
    };
    const acmeBroadcasts = await cursorOf('/v1/broadcasts?limit=1');
    const acmeRecipients = await cursorOf(`/v1/broadcasts/${sent}/recipients?limit=1`);
    const acmeSuppressions = await cursorOf('/v1/suppressions?limit=1');

    const tampered = ['e30', 'null', b64('"a string"'), b64('{"shard":-5000}')];
    const wrongPrefix = b64(JSON.stringify({ k: 'b', pk: 'TENANT#globex', sk: 'CHUNK#00000' }));
    const cases: [string, string][] = [
      ...tampered.map((c): [string, string] => ['/v1/broadcasts', c]),
      ...tampered.map((c): [string, string] => [`/v1/broadcasts/${theirs}/recipients`, c]),
      ...tampered.map((c): [string, string] => ['/v1/suppressions', c]),
      ...tampered.map((c): [string, string] => [
        `/v1/contacts/${encodeURIComponent(testPhone())}/messages`,
        c,
      ]),
      ['/v1/broadcasts', acmeBroadcasts], // another tenant's real cursor
      [`/v1/broadcasts/${theirs}/recipients`, acmeRecipients],
      ['/v1/suppressions', acmeSuppressions],
      ['/v1/broadcasts', acmeSuppressions], // another list's cursor
      ['/v1/broadcasts', wrongPrefix],
      [`/v1/broadcasts/${theirs}/recipients`, b64(JSON.stringify({ k: 'r', o: theirs, shard: -5000 }))],
    ];
    for (const [route, cursor] of cases) {
      const started = Date.now();
      const res = await call('GET', `${route}?cursor=${encodeURIComponent(cursor)}`, { key: GLOBEX });
      expect(Date.now() - started, `${route} ${cursor}`).toBeLessThan(1000);
      expect(res.status, `${route} ${cursor}`).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'cursor' }] });
    }
    // The owner's cursors still work.
    expect((await call('GET', `/v1/broadcasts?cursor=${acmeBroadcasts}`, { key: ACME })).status).toBe(200);
  }, 90_000);

  it('gives no nextCursor on a last page that is exactly full', async () => {
    const key = EMPTY;
    const phones = [testPhone(), testPhone(), testPhone(), testPhone()];
    for (const phone of phones) await call('POST', '/v1/suppressions', { key, body: { phone } });
    const first = await call('GET', '/v1/suppressions?limit=2', { key });
    expect(first.body.items).toHaveLength(2);
    const last = await call('GET', `/v1/suppressions?limit=2&cursor=${first.body.nextCursor}`, { key });
    expect(last.body.items).toHaveLength(2);
    expect(last.body).not.toHaveProperty('nextCursor');
    const whole = await call('GET', '/v1/suppressions?limit=4', { key });
    expect(whole.body.items).toHaveLength(4);
    expect(whole.body).not.toHaveProperty('nextCursor');

    await create(key, scheduled());
    await create(key, scheduled());
    const broadcasts = await call('GET', '/v1/broadcasts?limit=2', { key });
    expect(broadcasts.body.items).toHaveLength(2);
    expect(broadcasts.body).not.toHaveProperty('nextCursor');
    const one = await call('GET', '/v1/broadcasts?limit=1', { key });
    const two = await call('GET', `/v1/broadcasts?limit=1&cursor=${one.body.nextCursor}`, { key });
    expect(two.body.items).toHaveLength(1);
    expect(two.body).not.toHaveProperty('nextCursor');
  });
});

describe('answers in the contract’s shape', () => {
  it('scheduledAt beyond the scheduling horizon (9999-12-31) is 400, and nothing is stored', async () => {
    const before = await listed(GLOBEX, '/v1/broadcasts?limit=500');
    const res = await call('POST', '/v1/broadcasts', {
      key: GLOBEX,
      body: { ...scheduled(), scheduledAt: '9999-12-31T23:59:59Z' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ path: 'scheduledAt', message: 'must be at most 365 days ahead' }],
    });
    expect(await listed(GLOBEX, '/v1/broadcasts?limit=500')).toEqual(before);
  });

  it('unknown paths are 404 and known paths with another method 405 (with Allow), in the error shape', async () => {
    const missing = await call('GET', '/v1/nope', { key: ACME });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    const wrong = await raw('DELETE', '/v1/broadcasts', { authorization: `Bearer ${ACME}` });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST');
    expect(wrong.body.error).toMatchObject({
      code: 'METHOD_NOT_ALLOWED',
      details: [{ allowed: ['GET', 'POST'] }],
    });
    const webhook = await raw('GET', '/webhooks/twilio/status', {});
    expect(webhook.status).toBe(405);
    expect(webhook.headers.get('allow')).toBe('POST');
  });

  it('malformed percent-encoding in a path is 400, not 500', async () => {
    for (const [method, route] of [
      ['DELETE', '/v1/suppressions/%E0%A4%A'],
      ['GET', '/v1/contacts/%E0%A4%A/messages'],
      ['GET', '/v1/broadcasts/%ZZ'],
    ]) {
      const res = await call(method as string, route as string, { key: ACME });
      expect(res.status, route).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details).toEqual([expect.objectContaining({ message: expect.any(String) })]);
    }
  });

  it('every error’s details is an array of objects with a message', async () => {
    const noValid = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { template: { contentSid: CONTENT_SID }, recipients: ['123', 'abc'] },
    });
    expect(noValid.status).toBe(400);
    expect(noValid.body.error).toMatchObject({
      code: 'NO_VALID_RECIPIENTS',
      details: [
        {
          path: 'recipients.0',
          message: 'too short to be a phone number',
          input: '123',
          reason: 'too_short',
          index: 0,
        },
        {
          path: 'recipients.1',
          message: 'not a phone number',
          input: 'abc',
          reason: 'invalid_format',
          index: 1,
        },
      ],
    });

    const body = scheduled();
    const headers = { 'Idempotency-Key': `contract-${Date.now()}` };
    const first = await call('POST', '/v1/broadcasts', { key: ACME, body, headers });
    const conflict = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { ...body, name: 'another body' },
      headers,
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
      details: [
        { path: 'Idempotency-Key', message: expect.any(String), broadcastId: first.body.broadcastId },
      ],
    });

    const cancelled = await call('POST', `/v1/broadcasts/${first.body.broadcastId}/cancel`, { key: ACME });
    expect(cancelled.status).toBe(200);
    const again = await call('POST', `/v1/broadcasts/${first.body.broadcastId}/cancel`, { key: ACME });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({
      code: 'INVALID_STATE',
      details: [{ message: expect.any(String), status: 'cancelled' }],
    });
  });

  it('a body over Lambda’s 6 MB event (75,000 recipients with a 40-character variable) is 413 PAYLOAD_TOO_LARGE', async () => {
    const recipients = Array.from({ length: 75_000 }, (_, i) => ({
      phone: `+9725${String(10_000_000 + i).slice(-8)}`,
      variables: { name: 'x'.repeat(40) },
    }));
    const before = await listed(GLOBEX, '/v1/broadcasts?limit=500');
    const res = await call('POST', '/v1/broadcasts', { key: GLOBEX, body: scheduled(recipients) });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      details: [{ message: expect.stringContaining('Lambda event'), maxEventBytes: 6 * 1024 * 1024 }],
    });
    expect(await listed(GLOBEX, '/v1/broadcasts?limit=500')).toEqual(before);
  });
});
