import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoContactStore } from '../functions/adapters/dynamo-contact-store.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { SAMPLE_TEMPLATES } from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from './support/api-twin.ts';

const ACME = 'key-acme-contacts-0123456789';
const GLOBEX = 'key-globex-contacts-0123456789';
const PAGED = 'key-paged-contacts-0123456789';
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;

let api: ApiTwin;
let dynamo: DynamoDBClient;
/** The twin's own table, reached as the handlers reach it: to seed history the send path would write. */
let contacts: DynamoContactStore;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX},paged:${PAGED}`,
    SIM_MPS: '1000',
  });
  dynamo = new DynamoDBClient({
    endpoint: api.twin.dynamodbEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  contacts = new DynamoContactStore(
    DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }),
    api.twin.tableNames.main as string,
  );
}, 60_000);

afterAll(async () => {
  dynamo?.destroy();
  await api?.stop();
});

const call: ApiTwin['call'] = (...args) => api.call(...args);
const encoded = (phone: string) => encodeURIComponent(phone);
const listed = async (key: string) => {
  const res = await call('GET', '/v1/suppressions?limit=500', { key });
  expect(res.status).toBe(200);
  return res.body.items as Json[];
};

describe('suppressions through the API', () => {
  it('answers 401 in the error shape without a key or with a bad one', async () => {
    const phone = encoded(testPhone());
    for (const [method, route] of [
      ['GET', '/v1/suppressions'],
      ['POST', '/v1/suppressions'],
      ['DELETE', `/v1/suppressions/${phone}`],
      ['GET', `/v1/contacts/${phone}/messages`],
    ] as const) {
      for (const key of [undefined, 'not-a-key']) {
        const res = await call(method, route, {
          ...(key ? { key } : {}),
          ...(method === 'POST' ? { body: { phone: testPhone() } } : {}),
        });
        expect(res.status, `${method} ${route}`).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
      }
    }
  });

  it('adds (national format with defaultCountry, and E.164), lists, re-adds, and removes', async () => {
    const first = testPhone();
    const second = testPhone();
    const national = `0${first.slice(4, 6)}-${first.slice(6, 9)}-${first.slice(9)}`; // 050-123-4567

    const added = await call('POST', '/v1/suppressions', {
      key: ACME,
      body: { phone: national, defaultCountry: 'il', note: 'asked by phone to stop' },
    });
    expect(added.status).toBe(201);
    expect(added.body).toEqual({
      phone: first,
      reason: 'admin',
      detail: 'asked by phone to stop',
      createdAt: expect.any(String),
      scope: 'tenant',
    });
    expect(Date.parse(added.body.createdAt)).not.toBeNaN();

    const plain = await call('POST', '/v1/suppressions', { key: ACME, body: { phone: second } });
    expect(plain.status).toBe(201);
    expect(plain.body).toEqual({
      phone: second,
      reason: 'admin',
      createdAt: expect.any(String),
      scope: 'tenant',
    });

    // Adding it again replaces it: still one entry, with the latest note.
    const again = await call('POST', '/v1/suppressions', {
      key: ACME,
      body: { phone: first, note: 'confirmed in writing' },
    });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ phone: first, reason: 'admin', detail: 'confirmed in writing' });
    const items = await listed(ACME);
    expect(items.filter((s) => s.phone === first)).toEqual([again.body]);
    expect(items.filter((s) => s.phone === second)).toEqual([plain.body]);

    // Removed by its URL-encoded E.164, then by its digits without the +.
    const removed = await call('DELETE', `/v1/suppressions/${encoded(first)}`, { key: ACME });
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ phone: first, removed: true });
    const byDigits = await call('DELETE', `/v1/suppressions/${second.slice(1)}`, { key: ACME });
    expect(byDigits.status).toBe(200);
    expect(byDigits.body).toEqual({ phone: second, removed: true });
    const phones = (await listed(ACME)).map((s) => s.phone);
    expect(phones).not.toContain(first);
    expect(phones).not.toContain(second);

    // Not on the list (any more): 404.
    const gone = await call('DELETE', `/v1/suppressions/${encoded(first)}`, { key: ACME });
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('NOT_FOUND');
  });

  it('an admin’s add keeps the person’s own opt-out and Twilio’s (200, the entry as it was); their DELETE lifts it', async () => {
    const wroteStop = testPhone();
    const unsubscribed = testPhone();
    // As the inbound webhook writes a STOP for this tenant, and the send path a 21610.
    const stop = { tenantId: 'acme', phone: wroteStop, reason: 'opt_out_keyword' as const, detail: 'stop' };
    await contacts.suppress({ ...stop, createdAt: '2026-11-30T09:00:00.000Z' });
    const provider = {
      tenantId: 'acme',
      phone: unsubscribed,
      reason: 'provider_error' as const,
      detail: '21610',
    };
    await contacts.suppress({ ...provider, createdAt: '2026-11-30T09:01:00.000Z' }, { replaces: [] });
    for (const [phone, was] of [
      [wroteStop, stop],
      [unsubscribed, provider],
    ] as const) {
      const res = await call('POST', '/v1/suppressions', {
        key: ACME,
        body: { phone, note: 'asked by phone' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ phone, reason: was.reason, detail: was.detail, scope: 'tenant' });
      expect((await listed(ACME)).filter((s) => s.phone === phone)).toEqual([res.body]);
      expect((await call('DELETE', `/v1/suppressions/${encoded(phone)}`, { key: ACME })).status).toBe(200);
    }
    // Opted out of the whole sender (STOP, whichever tenant they answered): the list shows that, and so
    // does the answer; nothing is written under it.
    const senderWide = testPhone();
    await contacts.suppressForSender({
      phone: senderWide,
      reason: 'opt_out_keyword',
      detail: 'stop',
      createdAt: '2026-11-30T09:03:00.000Z',
    });
    const underSender = await call('POST', '/v1/suppressions', { key: ACME, body: { phone: senderWide } });
    expect(underSender.status).toBe(200);
    expect(underSender.body).toMatchObject({ phone: senderWide, reason: 'opt_out_keyword', scope: 'sender' });
    expect((await listed(ACME)).filter((s) => s.phone === senderWide)).toEqual([underSender.body]);
    expect(await contacts.unsuppressForSender(senderWide)).toBe(true);
    expect((await listed(ACME)).map((s) => s.phone)).not.toContain(senderWide);
    // Another tenant's add is its own entry, whatever acme's list holds.
    await contacts.suppress({ ...stop, createdAt: '2026-11-30T09:02:00.000Z' });
    expect((await call('POST', '/v1/suppressions', { key: GLOBEX, body: { phone: wroteStop } })).status).toBe(
      201,
    );
  });

  it('pages the list in phone order with an opaque cursor, absent on the last page', async () => {
    const phones = [testPhone(), testPhone(), testPhone()];
    for (const phone of phones)
      expect((await call('POST', '/v1/suppressions', { key: PAGED, body: { phone } })).status).toBe(201);

    const first = await call('GET', '/v1/suppressions?limit=2', { key: PAGED });
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await call(
      'GET',
      `/v1/suppressions?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`,
      { key: PAGED },
    );
    expect(second.status).toBe(200);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.nextCursor).toBeUndefined();
    expect([...first.body.items, ...second.body.items].map((s: Json) => s.phone)).toEqual([...phones].sort());
  });

  it('rejects bad requests with VALIDATION_FAILED naming the field, and writes nothing', async () => {
    const before = await listed(ACME);
    const post = (body: unknown) => call('POST', '/v1/suppressions', { key: ACME, body });
    const cases: [unknown, string, string?][] = [
      [{ phone: '123' }, 'phone', 'too_short'],
      [{ phone: 'call me' }, 'phone', 'invalid_format'],
      [{ phone: '050-123-4567' }, 'phone', 'invalid_country'], // national, no defaultCountry
      [{ phone: testPhone(), defaultCountry: 'XX' }, 'defaultCountry'],
      [{ phone: testPhone(), note: 'x'.repeat(501) }, 'note'],
      [{ phone: testPhone(), reason: 'admin' }, 'reason'], // unknown field
      [{}, 'phone'],
      [[testPhone()], ''],
    ];
    for (const [body, path, reason] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details).toContainEqual(
        expect.objectContaining({ path, ...(reason ? { reason } : {}) }),
      );
    }
    for (const text of ['{"phone": "+9725', '']) {
      const res = await fetch(`${api.twin.apiUrl}/v1/suppressions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ACME}`, 'content-type': 'application/json' },
        body: text,
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as Json).error.code).toBe('VALIDATION_FAILED');
    }

    for (const route of ['/v1/suppressions/abc', '/v1/suppressions/123', '/v1/contacts/abc/messages']) {
      const res = await call(route.startsWith('/v1/contacts') ? 'GET' : 'DELETE', route, { key: ACME });
      expect(res.status, route).toBe(400);
      expect(res.body.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: [expect.objectContaining({ path: 'phone' })],
      });
    }
    for (const query of ['limit=0', 'limit=501', 'limit=abc', 'cursor=not-ours']) {
      const res = await call('GET', `/v1/suppressions?${query}`, { key: ACME });
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect(await listed(ACME)).toEqual(before);
  });

  it("keeps each tenant's list its own", async () => {
    const phone = testPhone();
    expect((await call('POST', '/v1/suppressions', { key: ACME, body: { phone } })).status).toBe(201);
    expect((await listed(GLOBEX)).map((s) => s.phone)).not.toContain(phone);
    const theirs = await call('DELETE', `/v1/suppressions/${encoded(phone)}`, { key: GLOBEX });
    expect(theirs.status).toBe(404);
    expect((await listed(ACME)).map((s) => s.phone)).toContain(phone);
  });
});

describe('contact history through the API', () => {
  it('shows a contact’s messages newest first, outbound ones with their live status, and only to their tenant', async () => {
    const phone = testPhone();
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: {
        name: 'Harvest notice',
        template: { contentSid: CONTENT_SID },
        recipients: [phone],
        followUp: { body: 'The full harvest notice text', confirmPayload: 'read_more' },
      },
    });
    expect(created.status).toBe(202);
    const broadcastId: string = created.body.broadcastId;

    // The history the send path and the inbound webhook write, seeded in the twin's table.
    const base = Date.now();
    const at = (seconds: number) => new Date(base + seconds * 1000).toISOString();
    const sid = (n: number) => `SMseed${String(n).padStart(28, '0')}${broadcastId.slice(-6)}`;
    const common = { tenantId: 'acme', phone } as const;
    await contacts.recordInbound(sid(2), [
      {
        ...common,
        at: at(10),
        direction: 'inbound',
        type: 'inbound',
        messageSid: sid(2),
        body: 'Read more',
        buttonPayload: 'read_more',
        repliedToSid: sid(1),
        broadcastId,
      },
    ]);
    await contacts.recordMessage({
      ...common,
      at: at(20),
      direction: 'outbound',
      type: 'follow_up',
      messageSid: sid(3),
      broadcastId,
      index: 0,
    });
    // Another tenant's conversation with the same contact.
    await contacts.recordMessage({
      tenantId: 'globex',
      phone,
      at: at(30),
      direction: 'inbound',
      type: 'inbound',
      messageSid: sid(4),
      body: 'for globex only',
    });

    // The template's entry (written by the send path) follows the recipient's ledger until the
    // simulator reports it read.
    const isTemplate = (m: Json) => m.type === 'broadcast' && m.broadcastId === broadcastId;
    const history = await waitFor(
      async () => {
        const res = await call('GET', `/v1/contacts/${encoded(phone)}/messages`, { key: ACME });
        const entry = (res.body.items as Json[] | undefined)?.find(isTemplate);
        return entry?.status === 'read' ? res : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'the broadcast entry never showed read' },
    );
    expect(history.status).toBe(200);
    expect(history.body.phone).toBe(phone);
    const items = history.body.items as Json[];
    const times = items.map((m) => m.at);
    expect(times).toEqual([...times].sort().reverse()); // newest first
    const seeded = items.filter((m) => String(m.messageSid).startsWith('SMseed'));
    expect(seeded.map((m) => m.messageSid)).toEqual([sid(3), sid(2)]);
    expect(seeded[0]).toEqual({
      direction: 'outbound',
      type: 'follow_up',
      status: 'unknown', // no tap reached the webhook, so the recipient has no follow-up ledger
      at: at(20),
      messageSid: sid(3),
      broadcastId,
      broadcastName: 'Harvest notice',
      body: 'The full harvest notice text',
    });
    expect(seeded[1]).toEqual({
      direction: 'inbound',
      type: 'inbound',
      status: 'received',
      at: at(10),
      messageSid: sid(2),
      broadcastId,
      broadcastName: 'Harvest notice',
      body: 'Read more',
      buttonPayload: 'read_more',
      repliedToSid: sid(1),
    });
    const template = items.find(isTemplate);
    expect(template).toMatchObject({
      direction: 'outbound',
      status: 'read',
      messageSid: expect.stringMatching(/^SM/),
      broadcastName: 'Harvest notice',
    });
    expect(items.at(-1)).toBe(template); // the oldest: it went out before the seeded reply
    expect(items.map((m) => m.messageSid)).not.toContain(sid(4));

    // Paged with a cursor, by the digits without the +.
    const pages: Json[] = [];
    let cursor: string | undefined;
    do {
      const res = await call(
        'GET',
        `/v1/contacts/${phone.slice(1)}/messages?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { key: ACME },
      );
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(1);
      pages.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(pages.map((m) => m.messageSid)).toEqual(items.map((m) => m.messageSid));

    // Globex sees its own entry only; a tenant with no history sees an empty list, not an error.
    const globex = await call('GET', `/v1/contacts/${encoded(phone)}/messages`, { key: GLOBEX });
    expect(globex.status).toBe(200);
    expect(globex.body).toEqual({
      phone,
      items: [
        {
          direction: 'inbound',
          type: 'inbound',
          status: 'received',
          at: at(30),
          messageSid: sid(4),
          body: 'for globex only',
        },
      ],
    });
    const paged = await call('GET', `/v1/contacts/${encoded(phone)}/messages`, { key: PAGED });
    expect(paged.status).toBe(200);
    expect(paged.body).toEqual({ phone, items: [] });

    // A cursor from acme's history is no way into globex's.
    const acmeFirst = await call('GET', `/v1/contacts/${encoded(phone)}/messages?limit=1`, { key: ACME });
    const cross = await call(
      'GET',
      `/v1/contacts/${encoded(phone)}/messages?cursor=${encodeURIComponent(acmeFirst.body.nextCursor)}`,
      { key: GLOBEX },
    );
    expect(cross.status).toBe(400);
    expect(cross.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'cursor' }] });
  }, 90_000);
});
