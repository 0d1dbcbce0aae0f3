import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoContactStore } from '../../functions/adapters/dynamo-contact-store.ts';
import { DynamoContacts } from '../../functions/adapters/dynamo-contacts.ts';
import { DynamoGroups } from '../../functions/adapters/dynamo-groups.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator/content.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, testPhone as simulatorPhone, startApiTwin } from '../support/api-twin.ts';

const ACME = 'key-acme-audience-0123456789';
const GLOBEX = 'key-globex-audience-0123456789';
/** An approved template without variables (the simulator's sample). */
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;

let api: ApiTwin;
let dynamo: DynamoDBClient;
let doc: DynamoDBDocumentClient;
let table: string;
/** The twin's own table, reached as the handlers reach it: to seed history, and to look at what is stored. */
let history: DynamoContactStore;

beforeAll(async () => {
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX}`, SIM_MPS: '1000' });
  dynamo = new DynamoDBClient({
    endpoint: api.twin.dynamodbEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  table = api.twin.tableNames.main as string;
  history = new DynamoContactStore(doc, table);
}, 60_000);

afterAll(async () => {
  dynamo?.destroy();
  await api?.stop();
});

let sequence = Math.floor(Math.random() * 5_000_000);
/** A valid Israeli mobile (+972 52…), distinct for this run (api-twin's testPhone repeats after 500). */
const testPhone = (lastFour?: string) =>
  lastFour ? simulatorPhone(lastFour) : `+97252${String(sequence++ % 10_000_000).padStart(7, '0')}`;

const call: ApiTwin['call'] = (...args) => api.call(...args);
const at = (phone: string) => encodeURIComponent(phone);
/** A request whose answer is not JSON (a CSV, a 204), answered as it came. */
const raw = (route: string, init: { key?: string; method?: string; headers?: Record<string, string> } = {}) =>
  fetch(`${api.twin.apiUrl}${route}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.key ? { authorization: `Bearer ${init.key}` } : {}), ...init.headers },
  });
const newGroup = async (key: string, name = 'Farmers') => {
  const res = await call('POST', '/v1/groups', { key, body: { name } });
  expect(res.status).toBe(201);
  return res.body as Json;
};
const memberships = async (tenantId: string, groupId: string) =>
  (
    await doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `GROUP#${tenantId}#${groupId}` },
        ConsistentRead: true,
      }),
    )
  ).Items ?? [];
const memberCount = async (key: string, groupId: string) =>
  (await call('GET', `/v1/groups/${groupId}`, { key })).body.memberCount as number;

describe('the audience routes: authentication', { timeout: 90_000 }, () => {
  it('answers 401 in the error shape without a key or with a bad one, on every new route', async () => {
    const phone = at(testPhone());
    const group = 'grp_01JD7X1B2C3D4E5F6G7H8J9K0M';
    for (const [method, route] of [
      ['GET', '/v1/contacts'],
      ['PUT', `/v1/contacts/${phone}`],
      ['GET', `/v1/contacts/${phone}`],
      ['DELETE', `/v1/contacts/${phone}`],
      ['POST', '/v1/groups'],
      ['GET', '/v1/groups'],
      ['GET', `/v1/groups/${group}`],
      ['DELETE', `/v1/groups/${group}`],
      ['POST', `/v1/groups/${group}/members`],
      ['GET', `/v1/groups/${group}/members`],
      ['DELETE', `/v1/groups/${group}/members/${phone}`],
    ] as const)
      for (const key of [undefined, 'not-a-key']) {
        const res = await call(method, route, {
          ...(key ? { key } : {}),
          ...(method === 'POST' || method === 'PUT' ? { body: {} } : {}),
        });
        expect(res.status, `${method} ${route}`).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
      }
  });
});

describe('contacts through the API', { timeout: 90_000 }, () => {
  it('creates with defaults, merges on a second PUT, reads back, and reports suppression', async () => {
    const phone = testPhone();
    const created = await call('PUT', `/v1/contacts/${at(phone)}`, {
      key: ACME,
      body: { name: 'Dana Levi', attributes: { city: 'Haifa', plots: 3, organic: true }, tags: ['north'] },
    });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({
      phone,
      name: 'Dana Levi',
      attributes: { city: 'Haifa', organic: true, plots: 3 },
      tags: ['north'],
      timeZone: 'Asia/Jerusalem',
      consent: { status: 'unknown' },
      groupIds: [],
      suppressed: false,
      createdAt: expect.any(String),
      updatedAt: created.body.createdAt,
    });
    const updated = await call('PUT', `/v1/contacts/${phone.slice(1)}`, {
      key: ACME,
      body: {
        attributes: { plots: 4, city: null },
        tags: ['vip'],
        language: 'he-il',
        timeZone: 'europe/london',
        consent: { status: 'opted_in', source: 'web_form' },
      },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      name: 'Dana Levi',
      attributes: { organic: true, plots: 4 },
      tags: ['north', 'vip'],
      language: 'he-IL',
      timeZone: 'Europe/London',
      consent: { status: 'opted_in', source: 'web_form', at: expect.any(String) },
      createdAt: created.body.createdAt,
    });
    expect(updated.body.attributes).not.toHaveProperty('city');
    // The same PUT again is the same contact (idempotent).
    const again = await call('PUT', `/v1/contacts/${at(phone)}`, { key: ACME, body: { tags: ['vip'] } });
    expect(again.body).toEqual(updated.body);

    expect((await call('POST', '/v1/suppressions', { key: ACME, body: { phone } })).status).toBe(201);
    const read = await call('GET', `/v1/contacts/${at(phone)}`, { key: ACME });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ ...updated.body, suppressed: true });
    expect((await call('GET', `/v1/contacts/${at(testPhone())}`, { key: ACME })).status).toBe(404);
  });

  it("keeps each tenant's contacts its own: another tenant's PUT makes its own, GET and lists never cross", async () => {
    const phone = testPhone();
    const acme = await call('PUT', `/v1/contacts/${at(phone)}`, {
      key: ACME,
      body: { name: 'Acme customer', tags: ['acme'] },
    });
    expect((await call('GET', `/v1/contacts/${at(phone)}`, { key: GLOBEX })).status).toBe(404);
    const globex = await call('PUT', `/v1/contacts/${at(phone)}`, {
      key: GLOBEX,
      body: { name: 'Globex lead' },
    });
    expect(globex.status).toBe(200);
    expect(globex.body).toMatchObject({ name: 'Globex lead', tags: [] });
    expect((await call('GET', `/v1/contacts/${at(phone)}`, { key: ACME })).body).toEqual(acme.body);
    const listed = await call('GET', `/v1/contacts?q=${encodeURIComponent(phone)}`, { key: GLOBEX });
    expect(listed.body.items.map((c: Json) => c.name)).toEqual(['Globex lead']);
    const tagged = await call('GET', '/v1/contacts?tag=acme', { key: GLOBEX });
    expect(tagged.body.items).toEqual([]);
  });

  it('refuses bad bodies with VALIDATION_FAILED naming the field, and writes nothing', async () => {
    const phone = testPhone();
    const put = (body: unknown, route = `/v1/contacts/${at(phone)}`) =>
      call('PUT', route, { key: ACME, body });
    const cases: [unknown, string][] = [
      [{ attributes: { 'first name': 'x' } }, 'attributes.first name'],
      [{ attributes: { Name: 'x' } }, 'attributes.Name'],
      [{ attributes: { city: { nested: true } } }, 'attributes.city'],
      [{ attributes: { note: 'x'.repeat(1025) } }, 'attributes.note'],
      [{ tags: ['a,b'] }, 'tags.0'],
      [{ timeZone: '+02:00' }, 'timeZone'],
      [{ timeZone: 'Mars/Olympus' }, 'timeZone'],
      [{ language: 'not a language' }, 'language'],
      [{ consent: { status: 'maybe' } }, 'consent.status'],
      [{ nickname: 'x' }, 'nickname'],
    ];
    for (const [body, path] of cases) {
      const res = await put(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details).toContainEqual(expect.objectContaining({ path }));
    }
    for (const bad of ['abc', '123', at('+97236123456')]) {
      const res = await put({ name: 'x' }, `/v1/contacts/${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error.details).toContainEqual(expect.objectContaining({ path: 'phone' }));
    }
    // Over the limits once merged: 400 for the count, 413 for the size.
    await put({ attributes: Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`a${i}`, i])) });
    const tooMany = await put({
      attributes: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`b${i}`, i])),
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.details).toContainEqual(expect.objectContaining({ path: 'attributes' }));
    const heavy = await call('PUT', `/v1/contacts/${at(testPhone())}`, {
      key: ACME,
      body: {
        attributes: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, 'ש'.repeat(1000)])),
      },
    });
    expect(heavy.status).toBe(413);
    expect(heavy.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const stored = await call('GET', `/v1/contacts/${at(phone)}`, { key: ACME });
    expect(Object.keys(stored.body.attributes)).toHaveLength(80);
  });

  it('erases a contact: memberships and counts, the text of its history; its suppression stays', async () => {
    const phone = testPhone();
    const other = testPhone();
    const group = await newGroup(ACME);
    await call('POST', `/v1/groups/${group.groupId}/members`, {
      key: ACME,
      body: { phones: [phone, other] },
    });
    expect(await memberCount(ACME, group.groupId)).toBe(2);
    await call('POST', '/v1/suppressions', { key: ACME, body: { phone, note: 'asked to stop' } });
    const sid = (n: number) => `SMerase${String(n).padStart(27, '0')}${phone.slice(-6)}`;
    const inbound = (tenantId: string, n: number) => ({
      tenantId,
      phone,
      at: new Date(Date.now() - n * 1000).toISOString(),
      direction: 'inbound' as const,
      type: 'inbound' as const,
      messageSid: sid(n),
      body: `my id number is 0${n}`,
      buttonPayload: 'stop',
    });
    // Another tenant cannot erase it: 404 (it knows nothing of this person), and nothing changes.
    expect((await raw(`/v1/contacts/${at(phone)}`, { key: GLOBEX, method: 'DELETE' })).status).toBe(404);
    expect((await call('GET', `/v1/contacts/${at(phone)}`, { key: ACME })).status).toBe(200);
    await history.recordInbound(sid(1), [inbound('acme', 1), inbound('globex', 2)]);

    const erased = await raw(`/v1/contacts/${at(phone)}`, { key: ACME, method: 'DELETE' });
    expect(erased.status).toBe(204);
    expect(await erased.text()).toBe('');
    expect((await call('GET', `/v1/contacts/${at(phone)}`, { key: ACME })).status).toBe(404);
    expect(await memberCount(ACME, group.groupId)).toBe(1);
    expect((await memberships('acme', group.groupId)).map((m) => m.sk)).toEqual([other]);
    const mine = await call('GET', `/v1/contacts/${at(phone)}/messages`, { key: ACME });
    expect(mine.body.items).toEqual([
      expect.objectContaining({ direction: 'inbound', messageSid: sid(1), status: 'received' }),
    ]);
    expect(mine.body.items[0]).not.toHaveProperty('body');
    expect(mine.body.items[0]).not.toHaveProperty('buttonPayload');
    const theirs = await call('GET', `/v1/contacts/${at(phone)}/messages`, { key: GLOBEX });
    expect(theirs.body.items[0]).toMatchObject({ body: 'my id number is 02' });
    const suppressions = await call('GET', '/v1/suppressions?limit=500', { key: ACME });
    expect(suppressions.body.items).toContainEqual(
      expect.objectContaining({ phone, detail: 'asked to stop' }),
    );
    // Nothing left to erase: 404.
    expect((await raw(`/v1/contacts/${at(phone)}`, { key: ACME, method: 'DELETE' })).status).toBe(404);
  });

  it('lists with filters (tag, group, phone and name prefixes), page by page, and refuses a bad cursor', async () => {
    const stem = `+97253${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`; // this test's phones only
    const phones = [`${stem}1001`, `${stem}1002`, `${stem}2003`, `${stem}2004`];
    const names = ['Zohar Adler', 'Zehava Bar', 'Yael Zur', 'Zeev Cohen'];
    const group = await newGroup(GLOBEX, 'Zs');
    for (const [i, phone] of phones.entries())
      await call('PUT', `/v1/contacts/${at(phone)}`, {
        key: GLOBEX,
        body: { name: names[i], tags: i % 2 === 0 ? ['even'] : ['odd'] },
      });
    await call('POST', `/v1/groups/${group.groupId}/members`, {
      key: GLOBEX,
      body: { phones: [phones[0], phones[1], phones[2]] },
    });
    const all = async (query: string) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const res = await call(
          'GET',
          `/v1/contacts?limit=1&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          { key: GLOBEX },
        );
        expect(res.status, query).toBe(200);
        seen.push(...res.body.items.map((c: Json) => c.phone));
        cursor = res.body.nextCursor;
      } while (cursor);
      return seen;
    };
    expect(await all(`q=${encodeURIComponent(stem)}`)).toEqual(phones);
    expect(await all(`q=${encodeURIComponent(`${stem}2`)}`)).toEqual([phones[2], phones[3]]);
    expect(await all(`q=${encodeURIComponent(`${stem}`)}&tag=even`)).toEqual([phones[0], phones[2]]);
    expect(await all(`groupId=${group.groupId}`)).toEqual([phones[0], phones[1], phones[2]]);
    expect(await all(`groupId=${group.groupId}&tag=odd`)).toEqual([phones[1]]);
    expect(await all(`groupId=${group.groupId}&q=ze`)).toEqual([phones[1]]);
    // Name prefixes (the index is eventually consistent: it may take a moment).
    // Name order: zeev cohen, zehava bar.
    await expect.poll(() => all('q=ZE'), { timeout: 10_000 }).toEqual([phones[3], phones[1]]);

    const page = await call('GET', `/v1/contacts?limit=1&q=${encodeURIComponent(stem)}`, { key: GLOBEX });
    const cursor = page.body.nextCursor as string;
    for (const [query, key] of [
      [`cursor=${encodeURIComponent(cursor)}`, ACME], // another tenant's cursor
      [`cursor=${encodeURIComponent(`${cursor.slice(0, -2)}xy`)}`, GLOBEX], // tampered
      [`groupId=${group.groupId}&cursor=${encodeURIComponent(cursor)}`, GLOBEX], // another list's
      ['limt=5', GLOBEX],
    ] as const) {
      const res = await call('GET', `/v1/contacts?${query}`, { key });
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    // Another tenant's group, and no group: 404; another tenant's contacts: not listed.
    expect((await call('GET', `/v1/contacts?groupId=${group.groupId}`, { key: ACME })).status).toBe(404);
    expect((await call('GET', '/v1/contacts?groupId=nope', { key: GLOBEX })).status).toBe(404);
    const acme = await call('GET', `/v1/contacts?q=${encodeURIComponent(stem)}`, { key: ACME });
    expect(acme.body.items).toEqual([]);
  });
});

describe('groups through the API', { timeout: 90_000 }, () => {
  it('creates (idempotently with a key), lists newest first, reads, and deletes', async () => {
    const first = await newGroup(ACME, 'North farmers');
    expect(first).toEqual({
      groupId: expect.stringMatching(/^grp_[0-9A-Z]{26}$/),
      name: 'North farmers',
      memberCount: 0,
      createdAt: expect.any(String),
    });
    const key = `grp-key-${Date.now()}`;
    const body = { name: 'South farmers', description: 'Below Beersheba' };
    const made = await call('POST', '/v1/groups', { key: ACME, body, headers: { 'idempotency-key': key } });
    const replay = await call('POST', '/v1/groups', { key: ACME, body, headers: { 'idempotency-key': key } });
    expect(made.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(made.body);
    const conflict = await call('POST', '/v1/groups', {
      key: ACME,
      body: { name: 'Other' },
      headers: { 'idempotency-key': key },
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
    // The same key is another tenant's own.
    const theirs = await call('POST', '/v1/groups', {
      key: GLOBEX,
      body,
      headers: { 'idempotency-key': key },
    });
    expect(theirs.body.groupId).not.toBe(made.body.groupId);

    const listed = await call('GET', '/v1/groups?limit=500', { key: ACME });
    const ids = listed.body.items.map((g: Json) => g.groupId);
    expect(ids.indexOf(made.body.groupId)).toBeLessThan(ids.indexOf(first.groupId));
    expect(ids).not.toContain(theirs.body.groupId);
    expect((await call('GET', `/v1/groups/${first.groupId}`, { key: ACME })).body).toEqual(first);
    expect((await call('GET', `/v1/groups/${first.groupId}`, { key: GLOBEX })).status).toBe(404);
    expect((await raw(`/v1/groups/${first.groupId}`, { key: GLOBEX, method: 'DELETE' })).status).toBe(404);

    for (const bad of [{}, { name: '  ' }, { name: 'x'.repeat(201) }, { name: 'x', color: 'red' }]) {
      const res = await call('POST', '/v1/groups', { key: ACME, body: bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }

    expect((await raw(`/v1/groups/${first.groupId}`, { key: ACME, method: 'DELETE' })).status).toBe(204);
    expect((await call('GET', `/v1/groups/${first.groupId}`, { key: ACME })).status).toBe(404);
    expect((await raw(`/v1/groups/${first.groupId}`, { key: ACME, method: 'DELETE' })).status).toBe(404);
    expect((await call('GET', '/v1/groups/not-a-group', { key: ACME })).status).toBe(404);
  });

  it('adds members (unknown phones become contacts) with exact counts, under repeats and concurrency', async () => {
    const group = await newGroup(ACME);
    const phones = Array.from({ length: 40 }, () => testPhone());
    const national = `0${phones[0]?.slice(4)}`;
    const added = await call('POST', `/v1/groups/${group.groupId}/members`, {
      key: ACME,
      body: { phones: [national, phones[1], phones[1], 'not-a-phone', '123'], defaultCountry: 'IL' },
    });
    expect(added.status).toBe(200);
    expect(added.body).toEqual({
      added: 2,
      alreadyMembers: 0,
      duplicateCount: 1,
      invalidRecipients: [
        { input: 'not-a-phone', reason: 'invalid_format', index: 3 },
        { input: '123', reason: 'too_short', index: 4 },
      ],
    });
    const contact = await call('GET', `/v1/contacts/${at(phones[0] as string)}`, { key: ACME });
    expect(contact.body).toMatchObject({
      phone: phones[0],
      groupIds: [group.groupId],
      timeZone: 'Asia/Jerusalem',
    });

    // The same phones from three requests at once: each membership counted once.
    const results = await Promise.all(
      [0, 1, 2].map(() =>
        call('POST', `/v1/groups/${group.groupId}/members`, { key: ACME, body: { phones } }),
      ),
    );
    for (const res of results) expect(res.body.added + res.body.alreadyMembers).toBe(40);
    expect(results.reduce((sum, res) => sum + res.body.added, 0)).toBe(38);
    expect(await memberCount(ACME, group.groupId)).toBe(40);
    expect(await memberships('acme', group.groupId)).toHaveLength(40);

    // Another tenant: 404 and nothing counted.
    const foreign = await call('POST', `/v1/groups/${group.groupId}/members`, {
      key: GLOBEX,
      body: { phones: [testPhone()] },
    });
    expect(foreign.status).toBe(404);
    expect(
      (
        await raw(`/v1/groups/${group.groupId}/members/${at(phones[2] as string)}`, {
          key: GLOBEX,
          method: 'DELETE',
        })
      ).status,
    ).toBe(404);
    expect((await call('GET', `/v1/groups/${group.groupId}/members`, { key: GLOBEX })).status).toBe(404);
    expect(await memberCount(ACME, group.groupId)).toBe(40);

    // Removal, once.
    const remove = () =>
      raw(`/v1/groups/${group.groupId}/members/${at(phones[2] as string)}`, { key: ACME, method: 'DELETE' });
    expect((await remove()).status).toBe(204);
    expect((await remove()).status).toBe(404);
    expect(await memberCount(ACME, group.groupId)).toBe(39);
    expect(
      (await call('GET', `/v1/contacts/${at(phones[2] as string)}`, { key: ACME })).body.groupIds,
    ).toEqual([]);

    const members = await call('GET', `/v1/groups/${group.groupId}/members?limit=500`, { key: ACME });
    expect(members.body.items.map((c: Json) => c.phone)).toEqual(
      phones.filter((p) => p !== phones[2]).sort(),
    );

    // Too many, none valid, a bad body.
    const tooMany = await call('POST', `/v1/groups/${group.groupId}/members`, {
      key: ACME,
      body: { phones: Array.from({ length: 1001 }, () => testPhone()) },
    });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error.code).toBe('TOO_MANY_RECIPIENTS');
    const none = await call('POST', `/v1/groups/${group.groupId}/members`, {
      key: ACME,
      body: { phones: ['x'] },
    });
    expect(none.status).toBe(400);
    expect(none.body.error.code).toBe('NO_VALID_RECIPIENTS');
    const bad = await call('POST', `/v1/groups/${group.groupId}/members`, {
      key: ACME,
      body: { phone: 'x' },
    });
    expect(bad.status).toBe(400);
    expect(await memberCount(ACME, group.groupId)).toBe(39);
  });

  it('deletes a group: gone at once, memberships and groupIds cleaned, contacts kept', async () => {
    const group = await newGroup(ACME);
    const phones = Array.from({ length: 200 }, () => testPhone());
    expect(
      (await call('POST', `/v1/groups/${group.groupId}/members`, { key: ACME, body: { phones } })).status,
    ).toBe(200);
    expect((await raw(`/v1/groups/${group.groupId}`, { key: ACME, method: 'DELETE' })).status).toBe(204);
    expect((await call('GET', `/v1/groups/${group.groupId}`, { key: ACME })).status).toBe(404);
    await waitFor(async () => ((await memberships('acme', group.groupId)).length === 0 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: 'the deleted group kept memberships',
    });
    const contact = await call('GET', `/v1/contacts/${at(phones[199] as string)}`, { key: ACME });
    expect(contact.status).toBe(200);
    expect(contact.body.groupIds).toEqual([]);
  });

  it("finishes a deletion handed to the groupCleanup queue's consumer", async () => {
    // What DELETE does for a group too large to finish in its request: mark it, queue the rest.
    const group = await newGroup(ACME);
    const phones = Array.from({ length: 150 }, () => testPhone());
    await call('POST', `/v1/groups/${group.groupId}/members`, { key: ACME, body: { phones } });
    const contacts = new DynamoContacts(doc, table);
    expect(await new DynamoGroups(doc, table, contacts).beginDelete('acme', group.groupId, new Date())).toBe(
      'started',
    );
    const sqs = new SQSClient({
      endpoint: api.twin.sqsEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: api.twin.queues.groupCleanup?.main.url,
        MessageBody: JSON.stringify({ tenantId: 'acme', groupId: group.groupId }),
      }),
    );
    sqs.destroy();
    await waitFor(
      async () => {
        const stored = await doc.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk AND sk = :sk',
            ExpressionAttributeValues: { ':pk': 'GROUPS#acme', ':sk': group.groupId },
            ConsistentRead: true,
          }),
        );
        return (stored.Items ?? []).length === 0 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'the cleanup consumer did not finish the group' },
    );
    expect(await memberships('acme', group.groupId)).toEqual([]);
    expect((await contacts.get('acme', phones[0] as string))?.groupIds).toEqual([]);
  });
});

describe('CSV exports', { timeout: 90_000 }, () => {
  const tricky = [
    { name: 'Levi, Dana', attributes: { city: 'Haifa' } },
    { name: 'Line\nBreak', attributes: { note: 'say "hi"' } },
    { name: 'שרה כהן', attributes: { city: 'באר שבע' } },
    { name: '=HYPERLINK("http://evil.example","click")', attributes: { plots: -2 } },
    { name: 'Plain', attributes: { organic: true } },
  ];

  it("exports a group's members: parses back to the JSON rows, formulas neutralized, in parts", async () => {
    const group = await newGroup(ACME, 'Export');
    const phones = tricky.map(() => testPhone());
    for (const [i, row] of tricky.entries())
      await call('PUT', `/v1/contacts/${at(phones[i] as string)}`, {
        key: ACME,
        body: { ...row, tags: ['a', 'b'] },
      });
    await call('POST', `/v1/groups/${group.groupId}/members`, { key: ACME, body: { phones } });

    const res = await raw(`/v1/groups/${group.groupId}/members?format=csv`, { key: ACME });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="${group.groupId}-members.csv"`,
    );
    expect(res.headers.get('link')).toBeNull();
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parse(Buffer.from(bytes), { bom: true, columns: true }) as Record<string, string>[];

    const json = (await call('GET', `/v1/groups/${group.groupId}/members?limit=500`, { key: ACME })).body
      .items as Json[];
    const guard = (text: string) => (/^[=+\-@\t\r]/.test(text) ? `'${text}` : text);
    expect(rows).toEqual(
      json.map((c) => ({
        phone: guard(c.phone),
        name: guard(c.name),
        tags: 'a, b',
        language: '',
        timeZone: c.timeZone,
        consent: 'unknown',
        consentSource: '',
        consentAt: '',
        suppressed: 'false',
        createdAt: c.createdAt,
        updatedAt: c.updatedAt,
        city: c.attributes.city ?? '',
        note: c.attributes.note ?? '',
        organic: c.attributes.organic === undefined ? '' : String(c.attributes.organic),
        plots: c.attributes.plots === undefined ? '' : String(c.attributes.plots),
      })),
    );
    expect(rows.find((r) => r.name?.includes('HYPERLINK'))?.name).toBe(
      `'=HYPERLINK("http://evil.example","click")`,
    );
    expect(rows.find((r) => r.city === 'באר שבע')?.name).toBe('שרה כהן');
    expect(rows.find((r) => r.note)?.name).toBe('Line\nBreak');

    // In parts of two, by Accept: text/csv, following Link until it is absent.
    const parts: Record<string, string>[] = [];
    let next: string | null = `/v1/groups/${group.groupId}/members?limit=2`;
    let count = 0;
    while (next) {
      const part = await raw(next, { key: ACME, headers: { accept: 'text/csv' } });
      expect(part.status).toBe(200);
      parts.push(...(parse(await part.text(), { bom: true, columns: true }) as Record<string, string>[]));
      const link = part.headers.get('link');
      next = link ? (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null) : null;
      if (next)
        expect(next).toContain(`cursor=${encodeURIComponent(part.headers.get('x-next-cursor') as string)}`);
      count++;
    }
    expect(count).toBe(3);
    expect(parts.map((r) => r.phone)).toEqual(rows.map((r) => r.phone));

    expect((await raw(`/v1/groups/${group.groupId}/members?format=csv`, { key: GLOBEX })).status).toBe(404);
    expect((await call('GET', `/v1/groups/${group.groupId}/members?format=xml`, { key: ACME })).status).toBe(
      400,
    );
  });

  it("exports a broadcast's recipients: the same rows as the JSON list", async () => {
    const phones = [testPhone(), testPhone('0002'), testPhone()];
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { name: 'Export me', template: { contentSid: CONTENT_SID }, recipients: phones },
    });
    expect(created.status).toBe(202);
    const id = created.body.broadcastId as string;
    await api.untilBroadcast(id, ACME);
    // A broadcast is final once everyone is sent; delivered and read callbacks keep coming. Compare the
    // two formats once every recipient is at its last status (read, or failed for the 0002 number).
    const json = await waitFor(
      async () => {
        const items = (await call('GET', `/v1/broadcasts/${id}/recipients?limit=500`, { key: ACME })).body
          .items as Json[];
        return items.every((r) => r.status === 'read' || r.status === 'failed') ? items : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'the recipients did not reach read or failed' },
    );
    const res = await raw(`/v1/broadcasts/${id}/recipients?format=csv&status=failed`, { key: ACME });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${id}-recipients.csv"`);
    const failed = parse(await res.text(), { bom: true, columns: true }) as Record<string, string>[];
    expect(failed).toEqual([
      expect.objectContaining({
        phone: `'${phones[1]}`,
        status: 'failed',
        errorCode: String(json.find((r) => r.phone === phones[1])?.errorCode),
      }),
    ]);
    const all = parse(
      await (
        await raw(`/v1/broadcasts/${id}/recipients`, { key: ACME, headers: { accept: 'text/csv' } })
      ).text(),
      { bom: true, columns: true },
    ) as Record<string, string>[];
    expect(all.map((r) => r.phone?.slice(1))).toEqual(json.map((r) => r.phone));
    expect(all.map((r) => r.status)).toEqual(json.map((r) => r.status));
    expect(all.map((r) => r.messageSid)).toEqual(json.map((r) => r.messageSid ?? ''));
    expect((await raw(`/v1/broadcasts/${id}/recipients?format=csv`, { key: GLOBEX })).status).toBe(404);
  });
});
