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
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${KEY},other:${OTHER_KEY}` });
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

    const before = (await api.progress(id, KEY)).counts;
    expect(before.delivered + before.read).toBe(1);
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
