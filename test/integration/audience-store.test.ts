import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoContactStore } from '../../functions/adapters/dynamo-contact-store.ts';
import { DynamoContacts } from '../../functions/adapters/dynamo-contacts.ts';
import { DynamoGroups } from '../../functions/adapters/dynamo-groups.ts';
import { retryTransactionConflicts } from '../../functions/adapters/dynamo-items.ts';
import { GroupNotFoundError } from '../../functions/core/audience.ts';
import { ContactLimitError } from '../../functions/core/contact-rules.ts';
import { InvalidCursorError } from '../../functions/core/cursor.ts';
import { newGroupId } from '../../functions/core/ids.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let client: DynamoDBClient;
let doc: DynamoDBDocumentClient;
let contacts: DynamoContacts;
let groups: DynamoGroups;
let history: DynamoContactStore;

beforeAll(async () => {
  db = await startTestDynamoDb();
  // As the handlers' client is (functions/commons/wiring.ts): a write meeting a transaction is retried.
  client = new DynamoDBClient({
    endpoint: db.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  retryTransactionConflicts(client);
  doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  contacts = new DynamoContacts(doc, db.tableName);
  groups = new DynamoGroups(doc, db.tableName, contacts);
  history = new DynamoContactStore(doc, db.tableName);
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

let sequence = 0;
const phone = () => `+97252${String(1_000_000 + sequence++).padStart(7, '0')}`;
const tenant = (name = 't') => `${name}${sequence++}`;
const at = (minute = 0) => new Date(Date.UTC(2026, 10, 30, 9, minute));
const group = async (tenantId: string, name = 'Farmers') =>
  groups.create({ tenantId, groupId: newGroupId(), name, createdAt: at().toISOString() });
/** Every item of a partition, as stored. */
const partition = async (pk: string) =>
  (
    await doc.send(
      new QueryCommand({
        TableName: db.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
      }),
    )
  ).Items ?? [];

describe('DynamoContacts: upsert and merge rules', { timeout: 60_000 }, () => {
  it('creates with defaults (time zone from the country, consent unknown), then merges', async () => {
    const t = tenant();
    const p = phone();
    const first = await contacts.upsert(
      t,
      { phone: p, name: 'Dana', attributes: { city: 'Haifa', plots: 3 } },
      at(0),
    );
    expect(first.created).toBe(true);
    expect(first.contact).toEqual({
      tenantId: t,
      phone: p,
      name: 'Dana',
      attributes: { city: 'Haifa', plots: 3 },
      tags: [],
      timeZone: 'Asia/Jerusalem',
      consent: { status: 'unknown' },
      groupIds: [],
      createdAt: at(0).toISOString(),
      updatedAt: at(0).toISOString(),
    });
    const second = await contacts.upsert(
      t,
      { phone: p, attributes: { plots: 4, organic: true }, tags: ['north'], language: 'he' },
      at(1),
    );
    expect(second.created).toBe(false);
    expect(second.contact).toMatchObject({
      name: 'Dana',
      attributes: { city: 'Haifa', plots: 4, organic: true },
      tags: ['north'],
      language: 'he',
      createdAt: at(0).toISOString(),
      updatedAt: at(1).toISOString(),
    });
    await contacts.upsert(
      t,
      { phone: p, tags: ['north', 'vip'], removeAttributes: ['city'], timeZone: 'UTC' },
      at(2),
    );
    const read = await contacts.get(t, p);
    expect(read).toMatchObject({
      attributes: { plots: 4, organic: true },
      tags: ['north', 'vip'],
      timeZone: 'UTC',
    });
    expect(read?.attributes).not.toHaveProperty('city');

    // The same change again changes nothing: updatedAt stays.
    await contacts.upsert(t, { phone: p, tags: ['vip'] }, at(3));
    expect((await contacts.get(t, p))?.updatedAt).toBe(at(2).toISOString());
  });

  it('keys a contact by its WhatsApp identity: +52 1 55… and +52 55… are one contact', async () => {
    const t = tenant();
    await contacts.upsert(t, { phone: '+5215512345678', name: 'Ana' }, at());
    const again = await contacts.upsert(t, { phone: '+525512345678', language: 'es-MX' }, at(1));
    expect(again.created).toBe(false);
    expect(again.contact).toMatchObject({
      phone: '+525512345678',
      name: 'Ana',
      timeZone: 'America/Mexico_City',
    });
  });

  it('refuses a merge over the limits and writes nothing', async () => {
    const t = tenant();
    const p = phone();
    const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`a${i}`, i]));
    await contacts.upsert(t, { phone: p, attributes: many }, at());
    const more = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`b${i}`, i]));
    await expect(contacts.upsert(t, { phone: p, attributes: more }, at(1))).rejects.toBeInstanceOf(
      ContactLimitError,
    );
    expect(Object.keys((await contacts.get(t, p))?.attributes ?? {})).toHaveLength(60);
    const big = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, 'ש'.repeat(1000)]));
    await expect(contacts.upsert(t, { phone: phone(), attributes: big }, at())).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
  });
});

describe('DynamoContacts.upsertMany and group counts', { timeout: 60_000 }, () => {
  it('imports 100 contacts into a group with an exact count, and the same batch again changes no count', async () => {
    const t = tenant();
    const g = await group(t);
    const batch = Array.from({ length: 100 }, (_, i) => ({
      phone: phone(),
      name: `Farmer ${i}`,
      groupIds: [g.groupId],
    }));
    expect(await contacts.upsertMany(t, batch, at())).toEqual({ created: 100, updated: 0 });
    expect((await groups.get(t, g.groupId))?.memberCount).toBe(100);
    expect(await contacts.upsertMany(t, batch, at(1))).toEqual({ created: 0, updated: 100 });
    expect((await groups.get(t, g.groupId))?.memberCount).toBe(100);
    expect(await partition(`GROUP#${t}#${g.groupId}`)).toHaveLength(100);
    expect((await contacts.get(t, batch[7]?.phone as string))?.groupIds).toEqual([g.groupId]);
  });

  it('refuses a batch naming a group that does not exist (or another tenant’s) before writing anything', async () => {
    const t = tenant();
    const other = await group(tenant('other'));
    const p = phone();
    for (const groupId of [newGroupId(), other.groupId]) {
      const attempt = contacts.upsertMany(t, [{ phone: p }, { phone: phone(), groupIds: [groupId] }], at());
      await expect(attempt).rejects.toBeInstanceOf(GroupNotFoundError);
    }
    expect(await contacts.get(t, p)).toBeUndefined();
    expect((await groups.get(other.tenantId, other.groupId))?.memberCount).toBe(0);
  });

  it('leaves whole transactions only when an import dies mid-batch, and the retry completes it exactly', async () => {
    const t = tenant();
    const g = await group(t);
    const batch = Array.from({ length: 100 }, () => ({ phone: phone(), groupIds: [g.groupId] }));
    // A process that dies at its second transaction (a timeout, a crash): the first one stays whole.
    let transactions = 0;
    const dying = {
      send: (command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'TransactWriteCommand' && ++transactions === 2)
          return Promise.reject(new Error('the Lambda died'));
        return doc.send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    await expect(new DynamoContacts(dying, db.tableName).upsertMany(t, batch, at())).rejects.toThrow('died');
    const written = await partition(`GROUP#${t}#${g.groupId}`);
    expect(written).toHaveLength(49);
    expect((await groups.get(t, g.groupId))?.memberCount).toBe(49);
    expect(await partition(`CONTACTS#${t}`)).toHaveLength(49);
    // The import's retry of the same batch: the rest is written, nothing counted twice.
    expect(await contacts.upsertMany(t, batch, at(1))).toEqual({ created: 51, updated: 49 });
    expect((await groups.get(t, g.groupId))?.memberCount).toBe(100);
    expect(await partition(`GROUP#${t}#${g.groupId}`)).toHaveLength(100);
  });

  it('counts each membership once under concurrent adds of the same phones', async () => {
    const t = tenant();
    const g = await group(t);
    const phones = Array.from({ length: 60 }, phone);
    const results = await Promise.all([
      groups.addMembers(t, g.groupId, phones, at()),
      groups.addMembers(t, g.groupId, [...phones].reverse(), at()),
      contacts.upsertMany(
        t,
        phones.slice(0, 30).map((p) => ({ phone: p, groupIds: [g.groupId] })),
        at(),
      ),
    ]);
    expect((await groups.get(t, g.groupId))?.memberCount).toBe(60);
    expect(await partition(`GROUP#${t}#${g.groupId}`)).toHaveLength(60);
    const [a, b] = results;
    expect(a.added + a.alreadyMembers).toBe(60);
    expect(b.added + b.alreadyMembers).toBe(60);
    expect(a.added + b.added).toBeLessThanOrEqual(60);
    // A repeated add adds nobody.
    expect(await groups.addMembers(t, g.groupId, phones, at(1))).toEqual({ added: 0, alreadyMembers: 60 });
  });

  it('removes a member once, and erasing a contact moves every count', async () => {
    const t = tenant();
    const [g1, g2] = [await group(t, 'a'), await group(t, 'b')];
    const [p1, p2] = [phone(), phone()];
    await groups.addMembers(t, g1.groupId, [p1, p2], at());
    await groups.addMembers(t, g2.groupId, [p1, p2], at());
    expect(await groups.removeMember(t, g1.groupId, p2)).toBe(true);
    expect(await groups.removeMember(t, g1.groupId, p2)).toBe(false);
    expect((await contacts.get(t, p2))?.groupIds).toEqual([g2.groupId]);
    expect(await contacts.erase(t, p1)).toBe(true);
    expect(await contacts.erase(t, p1)).toBe(false);
    expect((await groups.get(t, g1.groupId))?.memberCount).toBe(0);
    expect((await groups.get(t, g2.groupId))?.memberCount).toBe(1);
    expect(await partition(`GROUP#${t}#${g2.groupId}`)).toEqual([expect.objectContaining({ sk: p2 })]);
  });

  it('erases a contact of 60 groups (more than one transaction holds) with every count moved', async () => {
    const t = tenant();
    const all = await Promise.all(Array.from({ length: 60 }, (_, i) => group(t, `g${i}`)));
    const p = phone();
    await contacts.upsert(t, { phone: p, groupIds: all.slice(0, 40).map((g) => g.groupId) }, at());
    await contacts.upsert(t, { phone: p, groupIds: all.slice(40).map((g) => g.groupId) }, at());
    expect((await contacts.get(t, p))?.groupIds).toHaveLength(60);
    expect(await contacts.erase(t, p)).toBe(true);
    const counts = await Promise.all(all.map(async (g) => (await groups.get(t, g.groupId))?.memberCount));
    expect(counts).toEqual(all.map(() => 0));
  });
});

describe('DynamoGroups: delete', { timeout: 60_000 }, () => {
  it('deletes a group of 250: memberships and the contacts’ groupIds go, the contacts and other groups stay', async () => {
    const t = tenant();
    const [doomed, kept] = [await group(t, 'doomed'), await group(t, 'kept')];
    const phones = Array.from({ length: 250 }, phone);
    await groups.addMembers(t, doomed.groupId, phones, at());
    await groups.addMembers(t, kept.groupId, phones.slice(0, 10), at());
    expect(await groups.beginDelete(t, doomed.groupId, at(1))).toBe('started');
    // From now on the group is gone for readers and writers, before its memberships are.
    expect(await groups.get(t, doomed.groupId)).toBeUndefined();
    await expect(groups.addMembers(t, doomed.groupId, [phone()], at())).rejects.toBeInstanceOf(
      GroupNotFoundError,
    );
    expect((await contacts.get(t, phones[0] as string))?.groupIds).toEqual([kept.groupId]);
    expect(await groups.beginDelete(t, doomed.groupId, at(1))).toBe('already');
    // A cut-short cleanup (deadline already passed) does a page, and a rerun finishes.
    expect(await groups.cleanup(t, doomed.groupId, { deadline: 0 })).toEqual({ done: false, removed: 100 });
    expect(await groups.cleanup(t, doomed.groupId)).toEqual({ done: true, removed: 150 });
    expect(await partition(`GROUP#${t}#${doomed.groupId}`)).toEqual([]);
    expect((await partition(`GROUPS#${t}`)).map((g) => g.sk)).toEqual([kept.groupId]);
    const stored = (await partition(`CONTACTS#${t}`)).filter((c) => c.groupIds?.has(doomed.groupId));
    expect(stored).toEqual([]);
    expect((await contacts.list(t, {}, { limit: 500 })).items).toHaveLength(250);
    expect(await groups.delete(t, doomed.groupId)).toBe(false);
    expect(await groups.delete(t, kept.groupId)).toBe(true);
    expect(await partition(`GROUP#${t}#${kept.groupId}`)).toEqual([]);
  });
});

describe('DynamoContacts.list', { timeout: 60_000 }, () => {
  const t = tenant('list');
  let g: Awaited<ReturnType<typeof group>>;
  const rows = [
    { phone: '+972501110001', name: 'Dana Levi', tags: ['north'] },
    { phone: '+972501110002', name: 'dalia Cohen', tags: ['south'] },
    { phone: '+972521110003', name: 'Omer', tags: ['north', 'vip'] },
    { phone: '+14155550004', name: 'Dána Smith' },
    { phone: '+972501110005', tags: ['north'] },
  ];
  beforeAll(async () => {
    g = await group(t);
    await contacts.upsertMany(t, rows, at());
    await groups.addMembers(t, g.groupId, ['+972501110001', '+972521110003', '+14155550004'], at());
  });
  const phonesOf = async (filter: Parameters<DynamoContacts['list']>[1], limit = 50) => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await contacts.list(t, filter, { limit, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((c) => c.phone));
      cursor = page.nextCursor;
    } while (cursor);
    return seen;
  };

  it('lists in phone order, page by page', async () => {
    expect(await phonesOf({}, 2)).toEqual([
      '+14155550004',
      '+972501110001',
      '+972501110002',
      '+972501110005',
      '+972521110003',
    ]);
  });

  it('filters by phone prefix, name prefix (case and accents aside), tag and group, and combinations', async () => {
    expect(await phonesOf({ q: '+97250' })).toEqual(['+972501110001', '+972501110002', '+972501110005']);
    expect(await phonesOf({ q: '972 52' })).toEqual(['+972521110003']);
    // Name order: dalia cohen, dana levi, dana smith.
    expect(await phonesOf({ q: 'DA' }, 1)).toEqual(['+972501110002', '+972501110001', '+14155550004']);
    expect(await phonesOf({ q: 'dana' })).toEqual(['+972501110001', '+14155550004']);
    expect(await phonesOf({ tag: 'north' }, 1)).toEqual(['+972501110001', '+972501110005', '+972521110003']);
    expect(await phonesOf({ groupId: g.groupId }, 1)).toEqual([
      '+14155550004',
      '+972501110001',
      '+972521110003',
    ]);
    expect(await phonesOf({ groupId: g.groupId, tag: 'north' })).toEqual(['+972501110001', '+972521110003']);
    expect(await phonesOf({ groupId: g.groupId, q: 'd' })).toEqual(['+14155550004', '+972501110001']);
    expect(await phonesOf({ q: '+97250', tag: 'north' })).toEqual(['+972501110001', '+972501110005']);
    expect(await phonesOf({ tag: 'nobody' })).toEqual([]);
  });

  it('walks a group by phones only (memberPhones) and reads contacts in bulk (getMany)', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await groups.memberPhones(t, g.groupId, { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['+14155550004', '+972501110001', '+972521110003']);
    const found = await contacts.getMany(t, [...seen, '+972509999999']);
    expect([...found.keys()].sort()).toEqual(seen);
    expect(found.get('+972521110003')).toMatchObject({
      name: 'Omer',
      tags: ['north', 'vip'],
      groupIds: [g.groupId],
    });
    expect((await contacts.getMany('other-tenant', seen)).size).toBe(0);
  });

  it('refuses a tampered cursor, another list’s and another tenant’s', async () => {
    const page = await contacts.list(t, {}, { limit: 1 });
    const cursor = page.nextCursor as string;
    const tampered = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(cursor, 'base64url').toString()), pk: 'CONTACTS#other' }),
    ).toString('base64url');
    await expect(contacts.list(t, {}, { limit: 1, cursor: tampered })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
    await expect(contacts.list('other', {}, { limit: 1, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(contacts.list(t, { groupId: g.groupId }, { limit: 1, cursor })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
    // A cursor of the whole list is outside a phone-prefix range: refused, not a DynamoDB error.
    const outside = (await contacts.list(t, {}, { limit: 1 })).nextCursor as string;
    await expect(contacts.list(t, { q: '+97252' }, { limit: 1, cursor: outside })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
  });

  it('never lists or reads another tenant’s contacts', async () => {
    const other = tenant('other');
    await contacts.upsert(other, { phone: '+972501110001', name: 'Someone else' }, at());
    expect((await contacts.get(t, '+972501110001'))?.name).toBe('Dana Levi');
    expect((await contacts.list(other, {}, { limit: 50 })).items.map((c) => c.name)).toEqual([
      'Someone else',
    ]);
    expect((await contacts.list(other, { q: 'dana' }, { limit: 50 })).items).toEqual([]);
    expect((await contacts.list(other, { groupId: g.groupId }, { limit: 50 })).items).toEqual([]);
    expect(await contacts.erase(other, '+972521110003')).toBe(false);
    expect(await groups.removeMember(other, g.groupId, '+972521110003')).toBe(false);
    expect((await groups.get(t, g.groupId))?.memberCount).toBe(3);
  });
});

describe('DynamoContactStore.eraseHistoryText', { timeout: 60_000 }, () => {
  it("removes the text of the tenant's entries only, keeping their metadata", async () => {
    const p = phone();
    const [mine, theirs] = [tenant('a'), tenant('b')];
    const inbound = (tenantId: string, sid: string) => ({
      tenantId,
      phone: p,
      at: at().toISOString(),
      direction: 'inbound' as const,
      type: 'inbound' as const,
      messageSid: sid,
      body: 'My ID is 123',
      buttonPayload: 'confirm',
    });
    await history.recordInbound(`SM${'1'.repeat(32)}${sequence++}`, [
      inbound(mine, 'SMa'),
      inbound(theirs, 'SMb'),
    ]);
    expect(await history.eraseHistoryText(mine, p, at(5))).toBe(1);
    expect(await history.eraseHistoryText(mine, p, at(6))).toBe(0);
    const [erased] = (await history.listMessages(mine, p, { limit: 5 })).items;
    expect(erased).toMatchObject({ messageSid: 'SMa', direction: 'inbound', at: at().toISOString() });
    expect(erased).not.toHaveProperty('body');
    expect(erased).not.toHaveProperty('buttonPayload');
    const [kept] = (await history.listMessages(theirs, p, { limit: 5 })).items;
    expect(kept).toMatchObject({ body: 'My ID is 123', buttonPayload: 'confirm' });
  });
});
