import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Data retention (DynamoDB TTL) and erasure through the local twin: the items that hold a phone get
 * `expiresAt`, the twin's TTL deletes them with the identity AWS gives such deletions, and the
 * counts do not move; an erasure leaves no trace of the phone in the tenant's items.
 */
const KEY = 'key-acme-retention';
const OTHER_KEY = 'key-other-retention';
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;
const DAY = 86_400;

let api: ApiTwin;
let doc: DynamoDBDocumentClient;
let table: string;

beforeAll(async () => {
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${KEY},other:${OTHER_KEY}`, ERASURE_SETTLE_SECONDS: '1' });
  doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: api.twin.dynamodbEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    }),
  );
  table = api.twin.tableNames.main as string;
}, 90_000);

afterAll(async () => {
  doc?.destroy();
  await api?.stop();
});

/** Every item of the table (the twin's table is small). */
async function scanAll(): Promise<Json[]> {
  const items: Json[] = [];
  for await (const page of paginateScan({ client: doc }, { TableName: table }))
    items.push(...(page.Items ?? []));
  return items;
}

/** The items whose text holds the phone's digits anywhere (keys or values). */
async function itemsWithDigits(phone: string): Promise<Json[]> {
  const digits = phone.replace(/\D/g, '');
  return (await scanAll()).filter((item) => JSON.stringify(item).includes(digits));
}

async function broadcast(key: string, phones: string[], extra: Json = {}): Promise<string> {
  const { status, body } = await api.call('POST', '/v1/broadcasts', {
    key,
    body: {
      name: `retention ${Math.random()}`,
      template: { contentSid: CONTENT_SID },
      recipients: phones,
      ...extra,
    },
  });
  expect(status, JSON.stringify(body)).toBe(202);
  return body.broadcastId as string;
}

/** Waits until every recipient of the broadcast is delivered and on file in its history. */
function untilDelivered(id: string, key: string, phones: string[]): Promise<Json[]> {
  return waitFor(
    async () => {
      const { body } = await api.call('GET', `/v1/broadcasts/${id}/recipients?limit=100`, { key });
      const items = body.items as Json[];
      if (items.length < phones.length || !items.every((r) => ['delivered', 'read'].includes(r.status)))
        return undefined;
      for (const phone of phones) {
        const history = await api.call('GET', `/v1/contacts/${encodeURIComponent(phone)}/messages`, { key });
        if ((history.body.items as Json[]).length === 0) return undefined;
      }
      return items;
    },
    { timeoutMs: 30_000, intervalMs: 150, message: `broadcast ${id} was not delivered` },
  );
}

function near(value: unknown, expected: number, slackSeconds = 120) {
  expect(Number(value)).toBeGreaterThanOrEqual(expected - slackSeconds);
  expect(Number(value)).toBeLessThanOrEqual(expected + slackSeconds);
}

/** Items of tenant `acme` (its keys or its tenantId): another tenant's are told apart the same way. */
const ofTenant =
  (tenantId: string, broadcasts: string[] = []) =>
  (item: Json) =>
    item.tenantId === tenantId ||
    String(item.pk).includes(`#${tenantId}`) ||
    String(item.sk).includes(`#${tenantId}#`) ||
    broadcasts.some((id) => String(item.pk).includes(id));

async function call(method: string, route: string, key: string, body?: unknown) {
  return api.call(method, route, { key, ...(body !== undefined ? { body } : {}) });
}

describe('erasure (POST /v1/erasures)', () => {
  it("leaves no trace of the number in the tenant's items but its suppression, keeps counts, and leaves another tenant's data alone", async () => {
    const phone = testPhone();
    const bystander = testPhone();
    for (const key of [KEY, OTHER_KEY])
      expect(
        (await call('PUT', `/v1/contacts/${encodeURIComponent(phone)}`, key, { name: 'Dana Levi' })).status,
      ).toBe(200);
    const group = await call('POST', '/v1/groups', KEY, { name: `erasure ${Math.random()}` });
    await call('POST', `/v1/groups/${group.body.groupId}/members`, KEY, { phones: [phone, bystander] });
    // The other tenant's first: an inbound message goes to the tenant that wrote to the person last.
    const theirs = await broadcast(OTHER_KEY, [phone]);
    await untilDelivered(theirs, OTHER_KEY, [phone]);
    // A refused input that quotes the number (too long for E.164) is kept on the broadcast.
    const mine = await broadcast(KEY, [phone, bystander, `${phone}0000`], {
      frequencyCap: { max: 5, days: 7 },
    });
    const campaign = await call('POST', '/v1/campaigns', KEY, {
      name: `erasure ${Math.random()}`,
      audience: { phones: [phone, bystander] },
      template: { contentSid: CONTENT_SID },
      schedule: { expression: 'rate(7 days)' },
    });
    expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
    await untilDelivered(mine, KEY, [phone, bystander]);
    const inbound = await api.simulator('/_simulator/inbound', {
      from: phone,
      body: 'my address is 12 Herzl St',
    });
    expect(inbound.body.webhookStatus).toBe(200);
    await call('POST', '/v1/suppressions', KEY, { phone, note: 'asked by phone on 3 May' });
    // The simulator's last callback is `read`: after it the counts no longer change.
    await expect.poll(async () => (await api.progress(mine, KEY)).counts.read, { timeout: 10_000 }).toBe(2);
    const counts = (await api.progress(mine, KEY)).counts;
    const theirItems = (await itemsWithDigits(phone)).filter(ofTenant('other', [theirs]));
    expect(theirItems.length).toBeGreaterThanOrEqual(3);

    const started = await call('POST', '/v1/erasures', KEY, { phone });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body).toMatchObject({ status: 'queued', phoneMasked: expect.stringContaining('*') });
    expect(JSON.stringify(started.body)).not.toContain(phone.slice(1));
    const id = started.body.erasureId as string;
    expect((await call('GET', `/v1/erasures/${id}`, OTHER_KEY)).status).toBe(404);
    const done = await waitFor(
      async () => {
        const { body } = await call('GET', `/v1/erasures/${id}`, KEY);
        return body.status === 'completed' ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'the erasure did not complete' },
    );
    expect(done.progress).toMatchObject({
      contactErased: true,
      recipientsRedacted: 1,
      listEntriesRedacted: 1,
      invalidInputsRedacted: 1,
      campaignsChanged: 1,
      suppressionKept: true,
    });
    expect(done.progress.historyDeleted).toBeGreaterThanOrEqual(2);
    // At Twilio: this tenant's message to the person and the person's reply are deleted (both final);
    // the other tenant's message to the same number, on the same account, is not this tenant's to delete.
    expect(done.progress).toMatchObject({
      providerMessagesDeleted: 2,
      providerMessagesPending: 0,
      providerMessagesLeft: 0,
    });
    const simulator = api.twin.simulator;
    const toPhone = simulator?.messagesTo(`whatsapp:${phone}`) ?? [];
    expect(toPhone.map((m) => m.statusCallback?.includes(theirs))).toEqual([true]);
    expect((simulator?.inbound() ?? []).filter((m) => m.from === `whatsapp:${phone}`)).toEqual([]);

    // What stays of the number in this tenant's items: its suppression only (phone, reason, time).
    const left = (await itemsWithDigits(phone)).filter((i) => !ofTenant('other', [theirs])(i));
    expect(left.map((i) => `${i.pk} ${i.sk}`)).toEqual([`SUPPRESS#acme ${phone}`]);
    expect(left[0]?.detail).toBeUndefined();
    expect((await call('GET', `/v1/contacts/${encodeURIComponent(phone)}`, KEY)).status).toBe(404);
    const members = await call('GET', `/v1/groups/${group.body.groupId}`, KEY);
    expect(members.body.memberCount).toBe(1);
    const kept = await call('GET', `/v1/campaigns/${campaign.body.campaignId}`, KEY);
    expect(JSON.stringify(kept.body)).toContain(bystander);
    // The broadcast's counts and statuses stay; the recipient has no number any more.
    await expect.poll(async () => (await api.progress(mine, KEY)).counts).toEqual(counts);
    const listed = (await call('GET', `/v1/broadcasts/${mine}/recipients`, KEY)).body.items as Json[];
    expect(listed.map((r) => r.phone).sort()).toEqual([bystander, 'erased'].sort());
    expect(listed.find((r) => r.phone === 'erased')?.erasedAt).toEqual(expect.any(String));
    // The other tenant's data for the same number: untouched.
    expect((await itemsWithDigits(phone)).filter(ofTenant('other', [theirs]))).toEqual(theirItems);
    expect((await call('GET', `/v1/contacts/${encodeURIComponent(phone)}`, OTHER_KEY)).status).toBe(200);
  }, 90_000);

  it('keeps an erasure running while Twilio holds a message as not final (20009), the message still there', async () => {
    // The simulator leaves a message to a number ending 0009 `sent`: no delivery receipt yet.
    const phone = testPhone('0009');
    const id = await broadcast(KEY, [phone]);
    await waitFor(
      async () => {
        const history = await call('GET', `/v1/contacts/${encodeURIComponent(phone)}/messages`, KEY);
        return (history.body.items as Json[]).length > 0 ? true : undefined;
      },
      { timeoutMs: 30_000, message: `the message of ${id} was not on file` },
    );
    const started = await call('POST', '/v1/erasures', KEY, { phone });
    expect(started.status).toBe(202);
    const running = await waitFor(
      async () => {
        const { body } = await call('GET', `/v1/erasures/${started.body.erasureId}`, KEY);
        return body.progress.providerMessagesPending === 1 ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'the erasure did not reach Twilio' },
    );
    expect(Date.parse(running.providerRetryAt) - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(running).toMatchObject({
      status: 'running',
      progress: { historyDeleted: 1, providerMessagesDeleted: 0 },
    });
    expect(api.messagesTo(phone)).toBe(1);
    expect(await itemsWithDigits(phone)).toEqual([]);
  }, 60_000);

  it("lists the tenant's erasures newest first, a page at a time, with their status and never the number", async () => {
    const phones = [testPhone(), testPhone()];
    const ids: string[] = [];
    // The first written nationally, as the error for a national number without a country suggests.
    const national = `0${phones[0]?.slice(4)}`;
    const refused = await call('POST', '/v1/erasures', KEY, { phone: national });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('needs defaultCountry');
    const bodies = [{ phone: national, defaultCountry: 'IL' }, { phone: phones[1] }];
    for (const body of bodies) {
      const res = await fetch(`${api.twin.apiUrl}/v1/erasures`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const started = (await res.json()) as Json;
      expect(res.status, JSON.stringify(started)).toBe(202);
      // Where to follow it.
      expect(res.headers.get('location')).toBe(`/v1/erasures/${started.erasureId}`);
      ids.push(started.erasureId);
    }
    const first = await call('GET', '/v1/erasures?limit=1', KEY);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.items.map((e: Json) => e.erasureId)).toEqual([ids[1]]);
    expect(first.body.items[0]).toMatchObject({
      phoneMasked: expect.stringContaining('*'),
      progress: expect.any(Object),
    });
    const second = await call(
      'GET',
      `/v1/erasures?limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`,
      KEY,
    );
    expect(second.body.items.map((e: Json) => e.erasureId)).toEqual([ids[0]]);
    expect(second.body.items[0].phoneMasked.slice(-4)).toBe(phones[0]?.slice(-4));
    const all = await call('GET', '/v1/erasures?limit=500', KEY);
    for (const phone of phones) expect(JSON.stringify(all.body)).not.toContain(phone.slice(1));
    // Another tenant sees only its own; a cursor of this list is refused there.
    const theirs = await call('GET', '/v1/erasures?limit=500', OTHER_KEY);
    expect(theirs.body.items.filter((e: Json) => ids.includes(e.erasureId))).toEqual([]);
    const stolen = await call(
      'GET',
      `/v1/erasures?cursor=${encodeURIComponent(first.body.nextCursor)}`,
      OTHER_KEY,
    );
    expect(stolen.status).toBe(400);
    expect(stolen.body.error.details).toEqual([expect.objectContaining({ path: 'cursor' })]);
    // Listed complete once done (and nothing of theirs still moving when the next test compares scans).
    await waitFor(
      async () => {
        const listed = (await call('GET', '/v1/erasures?limit=500', KEY)).body.items as Json[];
        return ids.every((id) => listed.find((e) => e.erasureId === id)?.status === 'completed')
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'the listed erasures did not complete' },
    );
  });

  it('a rejected erasure writes nothing', async () => {
    const before = await scanAll();
    for (const body of [{}, { phone: 'call me' }, { phone: '+972501234567', also: 1 }]) {
      const refused = await call('POST', '/v1/erasures', KEY, body);
      expect(refused.status, JSON.stringify(refused.body)).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await api.call('POST', '/v1/erasures', { body: { phone: '+972501234567' } })).status).toBe(401);
    expect((await call('GET', '/v1/erasures/era_nope', KEY)).status).toBe(404);
    expect(await scanAll()).toEqual(before);
  });
});

describe('retention (DynamoDB TTL)', () => {
  it('sets expiresAt on every item family that holds the phone, and a TTL deletion leaves the counts as they were', async () => {
    const phone = testPhone();
    // Two-step (a SID index entry) with a frequency cap (the send history per person).
    const id = await broadcast(KEY, [phone], {
      followUp: { body: 'More at the co-op office.' },
      frequencyCap: { max: 5, days: 7 },
    });
    await untilDelivered(id, KEY, [phone]);
    const now = Math.floor(Date.now() / 1000);
    const items = await itemsWithDigits(phone);
    const byFamily = (test: (item: Json) => boolean) => items.filter(test);
    const recipients = byFamily((i) => String(i.sk).startsWith('R#'));
    const history = byFamily((i) => String(i.pk).startsWith('CONTACT#'));
    const sends = byFamily((i) => String(i.pk).startsWith('SENDS#'));
    const chunks = byFamily((i) => String(i.sk).startsWith('CHUNK#'));
    expect(recipients).toHaveLength(1);
    near(recipients[0]?.expiresAt, now + 90 * DAY);
    expect(history.length).toBeGreaterThan(0);
    for (const entry of history) near(entry.expiresAt, Date.parse(entry.at) / 1000 + 180 * DAY);
    expect(sends).toHaveLength(1);
    near(sends[0]?.expiresAt, now + 31 * DAY);
    expect(chunks).toHaveLength(1);
    near(chunks[0]?.expiresAt, now + 30 * DAY);
    // Every item that holds the phone expires: nothing of it is kept for ever.
    expect(items.filter((i) => i.expiresAt === undefined)).toEqual([]);
    // The SID index names the recipient, not the phone: found by the recipient's SID.
    const sid = recipients[0]?.messageSid as string;
    const [indexed] = (await scanAll()).filter((i) => i.pk === `SID#${sid}`);
    near(indexed?.expiresAt, now + 90 * DAY);

    await expect
      .poll(
        async () => {
          // The simulator's last callback is `read`: after it the recipient no longer changes.
          const { counts } = await api.progress(id, KEY);
          return counts.read;
        },
        { timeout: 10_000 },
      )
      .toBe(1);
    const before = (await api.progress(id, KEY)).counts;
    const deleted = await api.twin.timeToLive.expire(new Date((now + 181 * DAY) * 1000));
    expect(deleted).toBeGreaterThanOrEqual(5);
    expect(await itemsWithDigits(phone)).toEqual([]);
    // DynamoDB Local's stream is one shard: once a later broadcast is counted, the removals were read.
    const later = await broadcast(KEY, [testPhone()]);
    await api.untilBroadcast(later, KEY);
    expect((await api.progress(id, KEY)).counts).toEqual(before);
    const listed = await api.call('GET', `/v1/broadcasts/${id}/recipients`, { key: KEY });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([]);
    // The wall clock is not 181 days on: the list says when its recipients expire, not that they did.
    near(Date.parse(listed.body.recipientsExpireAt) / 1000, now + 90 * DAY);
    const kept = await api.call('GET', `/v1/broadcasts/${id}`, { key: KEY });
    expect(kept.status).toBe(200);
    expect(kept.body.totalRecipients).toBe(1);
  }, 60_000);
});
