import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoContactStore } from '../../functions/adapters/dynamo-contact-store.ts';
import type { ContactMessage } from '../../functions/core/ports.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let store: DynamoContactStore;
/** The commands the store sent, by name (QueryCommand, PutCommand, …). */
let sent: string[] = [];

beforeAll(async () => {
  db = await startTestDynamoDb();
  // Small Query pages, so reading a whole suppression list takes several.
  const counting = {
    send: (command: { constructor: { name: string } }) => {
      sent.push(command.constructor.name);
      return db.doc.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  store = new DynamoContactStore(counting, db.tableName, { listPageSize: 7 });
}, 60_000);
afterAll(async () => {
  await db?.stop();
});

let sequence = 0;
/** A fresh E.164 number per call. */
const phone = () => `+97250${String(1_000_000 + sequence++).padStart(7, '0')}`;
/** A fresh tenant id per call (so tests do not see each other's rows). */
const tenant = (name = 't') => `${name}${sequence++}`;

function message(over: Partial<ContactMessage> & Pick<ContactMessage, 'tenantId' | 'phone'>): ContactMessage {
  return {
    at: new Date().toISOString(),
    direction: 'outbound',
    type: 'broadcast',
    messageSid: `SM${String(sequence++).padStart(32, '0')}`,
    broadcastId: 'brd_01JD7X1B2C3D4E5F6G7H8J9K0M',
    index: 0,
    ...over,
  };
}

const minutesAfter = (base: number, minutes: number) => new Date(base + minutes * 60_000).toISOString();

/** Every history item stored for a contact, whatever the tenant (what the table really holds). */
async function rawHistory(contact: string) {
  const { Items } = await db.doc.send(
    new QueryCommand({
      TableName: db.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `CONTACT#${contact}` },
    }),
  );
  return Items ?? [];
}

describe('DynamoContactStore: suppressions', () => {
  it('suppresses, reads back consistently, replaces on a second add, and unsuppresses once', async () => {
    const t = tenant();
    const p = phone();
    expect(await store.suppression(t, p)).toBeUndefined();
    await store.suppress({
      tenantId: t,
      phone: p,
      reason: 'opt_out_keyword',
      detail: 'STOP',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    expect(await store.suppression(t, p)).toEqual({
      tenantId: t,
      phone: p,
      reason: 'opt_out_keyword',
      detail: 'STOP',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    await store.suppress({ tenantId: t, phone: p, reason: 'admin', createdAt: '2026-02-01T00:00:00.000Z' });
    // Replaced: the latest add wins, and the old detail does not linger.
    expect(await store.suppression(t, p)).toEqual({
      tenantId: t,
      phone: p,
      reason: 'admin',
      createdAt: '2026-02-01T00:00:00.000Z',
    });
    expect(await store.suppression(tenant(), p)).toBeUndefined(); // another tenant's list is its own
    expect(await store.unsuppress(t, p)).toBe(true);
    expect(await store.suppression(t, p)).toBeUndefined();
    expect(await store.unsuppress(t, p)).toBe(false);
  });

  it('answers the checks of concurrent sends from one BatchGetItem, each with its own tenant and phone', async () => {
    const [a, b] = [tenant(), tenant()];
    const [listedForA, optedOut, clean] = [phone(), phone(), phone()];
    await store.suppress({
      tenantId: a,
      phone: listedForA,
      reason: 'admin',
      createdAt: '2026-04-01T00:00:00.000Z',
    });
    await store.suppressForSender({
      phone: optedOut,
      reason: 'opt_out_button',
      createdAt: '2026-04-02T00:00:00.000Z',
    });
    // 60 checks (more than one BatchGetItem's 100 keys), a phone asked twice by one tenant among them.
    const checks: [string, string][] = [
      [a, listedForA],
      [b, listedForA],
      [a, optedOut],
      [b, optedOut],
      [a, clean],
      [a, clean],
      ...Array.from({ length: 54 }, () => [b, phone()] as [string, string]),
    ];
    sent = [];
    const answers = await Promise.all(checks.map(([t, p]) => store.suppression(t, p)));
    expect(sent).toEqual(['BatchGetCommand', 'BatchGetCommand']);
    expect(answers.slice(0, 6).map((s) => s && `${s.tenantId}:${s.reason}`)).toEqual([
      `${a}:admin`,
      undefined,
      `${a}:opt_out_button`,
      `${b}:opt_out_button`,
      undefined,
      undefined,
    ]);
    expect(answers.slice(6).every((s) => s === undefined)).toBe(true);
    await store.unsuppressForSender(optedOut); // the sender-wide list is every test's
  });

  it('finds which numbers are suppressed among many, across several Query pages of the list', async () => {
    const t = tenant();
    const other = tenant();
    const listed = Array.from({ length: 30 }, phone); // 30 suppressions: 5 pages of 7
    for (const p of listed)
      await store.suppress({ tenantId: t, phone: p, reason: 'admin', createdAt: new Date().toISOString() });
    await store.suppress({
      tenantId: other,
      phone: listed[0] as string,
      reason: 'admin',
      createdAt: new Date().toISOString(),
    });
    const clean = Array.from({ length: 20 }, phone);
    const asked = [listed[0], listed[13], listed[29], ...clean, listed[29]] as string[];

    sent = [];
    const found = await store.suppressedAmong(t, asked);
    // 30 keys in pages of 7: 5 Queries, plus 1 for the (empty) sender-wide list; no per-number read.
    expect(sent).toEqual(Array(6).fill('QueryCommand'));
    expect([...found].sort()).toEqual([listed[0], listed[13], listed[29]].sort());
    expect(await store.suppressedAmong(t, [])).toEqual(new Set());
    expect(await store.suppressedAmong(tenant(), asked)).toEqual(new Set());
    expect(await store.suppressedAmong(other, asked)).toEqual(new Set([listed[0]]));
  });

  it('lists suppressions in phone order, page by page, with no cursor on the last page', async () => {
    const t = tenant();
    const listed = Array.from({ length: 12 }, phone);
    for (const p of [...listed].reverse())
      await store.suppress({
        tenantId: t,
        phone: p,
        reason: 'admin',
        detail: `note ${p}`,
        createdAt: new Date().toISOString(),
      });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listSuppressions(t, { limit: 5, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(5);
      for (const s of page.items)
        expect(s).toMatchObject({ tenantId: t, reason: 'admin', detail: `note ${s.phone}` });
      seen.push(...page.items.map((s) => s.phone));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3); // 5 + 5 + 2
    expect(seen).toEqual([...listed].sort());

    // A page that ends exactly at the end of the list says so: no cursor to an empty page.
    const exact = await store.listSuppressions(t, { limit: 12 });
    expect(exact.items).toHaveLength(12);
    expect(exact.nextCursor).toBeUndefined();
  });

  it('refuses a cursor it did not give out', async () => {
    for (const cursor of ['nope', Buffer.from('{"x":1}').toString('base64url')])
      await expect(store.listSuppressions(tenant(), { limit: 5, cursor })).rejects.toMatchObject({
        name: 'InvalidCursor',
      });
  });
});

describe('DynamoContactStore: history', () => {
  it('records a message once however often it is recorded', async () => {
    const t = tenant();
    const p = phone();
    const m = message({ tenantId: t, phone: p });
    await store.recordMessage(m);
    await store.recordMessage(m);
    await store.recordMessage({ ...m });
    const { items } = await store.listMessages(t, p, { limit: 50 });
    expect(items).toEqual([m]);
    expect(await rawHistory(p)).toHaveLength(1);
  });

  it('lists newest first, in pages, and only the asking tenant’s entries (tenant a never reads ab)', async () => {
    const p = phone();
    const base = Date.parse('2026-03-01T10:00:00.000Z');
    const a = `a${sequence++}`;
    const ab = `${a}b`; // tenant a's id is a prefix of this one's
    const ofA = Array.from({ length: 7 }, (_, i) =>
      message({ tenantId: a, phone: p, at: minutesAfter(base, i) }),
    );
    const ofAb = Array.from({ length: 3 }, (_, i) =>
      message({
        tenantId: ab,
        phone: p,
        at: minutesAfter(base, 100 + i),
        direction: 'inbound',
        type: 'inbound',
        body: 'hi',
      }),
    );
    // Written out of order: the order comes from the keys.
    for (const m of [...ofAb, ...ofA].sort(() => Math.random() - 0.5)) await store.recordMessage(m);

    const got: ContactMessage[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listMessages(a, p, { limit: 3, ...(cursor ? { cursor } : {}) });
      got.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(got.map((m) => m.at)).toEqual(ofA.map((m) => m.at).reverse());
    expect(got.every((m) => m.tenantId === a)).toBe(true);

    const other = await store.listMessages(ab, p, { limit: 50 });
    expect(other.items.map((m) => m.messageSid)).toEqual(ofAb.map((m) => m.messageSid).reverse());
    expect(other.nextCursor).toBeUndefined();
    expect((await store.listMessages(tenant(), p, { limit: 50 })).items).toEqual([]);

    // A cursor of tenant ab's history is not a way into tenant a's, nor the other way round.
    const abPage = await store.listMessages(ab, p, { limit: 1 });
    await expect(
      store.listMessages(a, p, { limit: 5, cursor: abPage.nextCursor as string }),
    ).rejects.toMatchObject({ name: 'InvalidCursor' });
  });

  it('finds the tenants of a contact, each with its latest message time, without reading every entry', async () => {
    const p = phone();
    const base = Date.parse('2026-04-01T08:00:00.000Z');
    const [t1, t2, t3] = [`x${sequence++}`, `x${sequence++}`, `x${sequence++}-y`];
    const latest: Record<string, string> = {};
    for (const [t, count] of [
      [t1, 5],
      [t2, 1],
      [t3, 4],
    ] as const)
      for (let i = 0; i < count; i++) {
        const at = minutesAfter(base, i * 7 + count);
        await store.recordMessage(message({ tenantId: t, phone: p, at }));
        latest[t] = at;
      }
    await store.recordMessage(message({ tenantId: t1, phone: phone() })); // another contact

    sent = [];
    const tenants = await store.tenantsOfContact(p);
    expect(sent).toHaveLength(4); // one Query per tenant and a last, empty one: not one per entry (10)
    expect([...tenants].sort((x, y) => x.tenantId.localeCompare(y.tenantId))).toEqual(
      [t1, t2, t3].sort().map((t) => ({ tenantId: t, lastAt: latest[t] })),
    );
    expect(await store.tenantsOfContact(phone())).toEqual([]);
  });
});

describe('DynamoContactStore: inbound', () => {
  it('records an inbound message and its handled-marker atomically, once per MessageSid', async () => {
    const p = phone();
    const sid = `SM${'f'.repeat(30)}${sequence++}`;
    const at = new Date().toISOString();
    const entries = [tenant('in'), tenant('in')].map((t) =>
      message({
        tenantId: t,
        phone: p,
        at,
        messageSid: sid,
        direction: 'inbound',
        type: 'inbound',
        body: 'STOP',
        broadcastId: undefined,
        index: undefined,
      }),
    );
    expect(await store.inboundHandled(sid)).toBe(false);
    expect(await store.recordInbound(sid, entries)).toBe(true);
    expect(await store.inboundHandled(sid)).toBe(true);
    // Twilio's retry of the same message: refused, nothing written twice.
    expect(
      await store.recordInbound(sid, [
        ...entries,
        message({ tenantId: tenant('in'), phone: p, messageSid: sid }),
      ]),
    ).toBe(false);
    const stored = await rawHistory(p);
    expect(stored).toHaveLength(2);
    for (const e of entries) {
      const { items } = await store.listMessages(e.tenantId, p, { limit: 10 });
      expect(items).toEqual([
        {
          tenantId: e.tenantId,
          phone: p,
          at,
          direction: 'inbound',
          type: 'inbound',
          messageSid: sid,
          body: 'STOP',
        },
      ]);
    }
  });

  it('rethrows failures that are not a repeat', async () => {
    const broken = new DynamoContactStore(db.doc, 'no-such-table');
    await expect(broken.recordInbound(`SMbroken${sequence++}`, [])).rejects.toThrow();
  });
});

describe('DynamoContactStore: sender-wide opt-outs', () => {
  /** A Mexico City mobile, fresh per call, in the form we send to (+52 + 10 digits). */
  const mexican = () => `+5255${String(10_000_000 + sequence++).slice(-8)}`;

  it('binds every tenant, including one that never had the number, in whatever form the phone comes', async () => {
    const p = mexican();
    const withOne = `+521${p.slice(3)}`; // the same person as WhatsApp reports them
    const t = tenant();
    expect(await store.suppression(t, p)).toBeUndefined();

    await store.suppressForSender({
      phone: withOne,
      reason: 'opt_out_keyword',
      detail: 'stop',
      createdAt: '2026-03-01T00:00:00.000Z',
    });
    for (const asker of [t, tenant('later')])
      for (const form of [p, withOne, `whatsapp:${withOne}`])
        expect(await store.suppression(asker, form)).toEqual({
          tenantId: asker,
          phone: p,
          reason: 'opt_out_keyword',
          detail: 'stop',
          createdAt: '2026-03-01T00:00:00.000Z',
          scope: 'sender',
        });
    // The create route asks with the phones as it holds them, and gets them back as asked.
    const clean = mexican();
    expect(await store.suppressedAmong(tenant(), [clean, p, withOne])).toEqual(new Set([p, withOne]));

    // A tenant's own record of the same number is shadowed by the sender-wide one while it lasts.
    await store.suppress({ tenantId: t, phone: p, reason: 'admin', createdAt: '2026-03-02T00:00:00.000Z' });
    expect(await store.suppression(t, p)).toMatchObject({ scope: 'sender', reason: 'opt_out_keyword' });

    expect(await store.unsuppressForSender(withOne)).toBe(true);
    expect(await store.unsuppressForSender(p)).toBe(false);
    expect(await store.suppression(tenant(), p)).toBeUndefined();
    expect(await store.suppression(t, p)).toEqual({
      tenantId: t,
      phone: p,
      reason: 'admin',
      createdAt: '2026-03-02T00:00:00.000Z',
    });
  });

  it("lists a tenant's own and the sender-wide opt-outs merged in phone order, once per phone, page by page", async () => {
    const t = tenant();
    const phones = Array.from({ length: 7 }, mexican); // ascending
    const [a, b, c, d, e, f, g] = phones as [string, string, string, string, string, string, string];
    for (const own of [a, c, d, g])
      await store.suppress({ tenantId: t, phone: own, reason: 'admin', createdAt: new Date().toISOString() });
    for (const optedOut of [b, d, e, f])
      await store.suppressForSender({
        phone: optedOut,
        reason: 'opt_out_button',
        createdAt: new Date().toISOString(),
      });
    try {
      const seen: { phone: string; scope?: string }[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.listSuppressions(t, { limit: 2, ...(cursor ? { cursor } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((s) => ({ phone: s.phone, ...(s.scope ? { scope: s.scope } : {}) })));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      const mine = seen.filter((s) => phones.includes(s.phone));
      expect(mine).toEqual([
        { phone: a },
        { phone: b, scope: 'sender' },
        { phone: c },
        { phone: d, scope: 'sender' }, // on both lists: listed once, as the opt-out that binds
        { phone: e, scope: 'sender' },
        { phone: f, scope: 'sender' },
        { phone: g },
      ]);
      expect(pages).toBe(Math.ceil(seen.length / 2));
      // Another tenant sees the sender-wide ones only.
      const theirs = await store.listSuppressions(tenant(), { limit: 100 });
      expect(theirs.items.filter((s) => phones.includes(s.phone)).map((s) => s.phone)).toEqual([b, d, e, f]);
    } finally {
      for (const optedOut of [b, d, e, f]) await store.unsuppressForSender(optedOut);
    }
  });
});
