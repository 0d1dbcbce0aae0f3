import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBroadcasts } from '../../functions/adapters/dynamo-broadcasts.ts';
import { DynamoSendHistory } from '../../functions/adapters/dynamo-send-history.ts';
import { DynamoSendLedger } from '../../functions/adapters/dynamo-send-ledger.ts';
import { HOUR_MS, hourOf, mergeBook, WINDOW_HOURS } from '../../functions/core/messaging-limit.ts';
import type { Broadcast, ChunkEntry, SendTask } from '../../functions/core/ports.ts';
import { createFanOut } from '../../functions/use-cases/fan-out-chunk.ts';
import type { BroadcastPlan } from '../../functions/use-cases/plan-broadcast.ts';
import { timePlan } from '../../functions/use-cases/plan-timing.ts';
import { createRetryJob } from '../../functions/use-cases/retry-due.ts';
import { heldForQuietHours } from '../../functions/use-cases/send-window.ts';
import { collectingQueue, silentLogger, storeBroadcast } from '../support/broadcasts.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

/**
 * Quiet hours, frequency caps and the messaging limit with a controllable clock, over DynamoDB Local:
 * the plan's timing (use-cases/plan-timing.ts), the fan-out that makes later recipients wait, the
 * retry job that releases them when their time comes, the send path's own check, and the send
 * history that caps and limits read.
 */
let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let broadcasts: DynamoBroadcasts;
let ledger: DynamoSendLedger;
let history: DynamoSendHistory;

beforeAll(async () => {
  db = await startTestDynamoDb();
  broadcasts = new DynamoBroadcasts(db.doc, db.tableName);
  ledger = new DynamoSendLedger(db.doc, db.tableName);
  history = new DynamoSendHistory(db.doc, db.tableName);
}, 60_000);
afterAll(async () => {
  await db?.stop();
});

const NIGHT = { start: '21:00', end: '08:00' };
const NAIROBI = '+254712000001';
const NEW_YORK = '+12125550101';

/** A plan as planBroadcast makes it: the entries, nobody skipped, the contacts' zones. */
function planOf(phones: string[], zones: Record<string, string> = {}): BroadcastPlan {
  const entries: ChunkEntry[] = phones.map((phone, index) => ({
    index,
    phone,
    contentVariables: { '1': 'x' },
  }));
  const timeZones = new Map<number, string>();
  for (const e of entries) if (zones[e.phone]) timeZones.set(e.index, zones[e.phone] as string);
  return {
    entries,
    invalid: [],
    duplicateCount: 0,
    skipped: { suppressed: 0, marketing_not_delivered_us: 0, no_consent: 0, frequency_cap: 0 },
    timeZones,
  };
}

/** Stores the timed entries as a broadcast and fans it out at `at`; the tasks it enqueued at once. */
async function fanOutAt(tenantId: string, entries: ChunkEntry[], at: Date, fields: Partial<Broadcast> = {}) {
  const { broadcast } = await storeBroadcast({ broadcasts, ledger }, { tenantId, entries, fields });
  const sendQueue = collectingQueue<SendTask>();
  const fanOut = createFanOut({
    broadcasts,
    ledger,
    sendQueue,
    history,
    logger: silentLogger,
    now: () => at,
  });
  for (let chunk = 0; chunk < broadcast.chunkCount; chunk++)
    await fanOut({ tenantId, broadcastId: broadcast.broadcastId, chunk });
  return { broadcast, sent: sendQueue.tasks };
}

/** One run of the retry job at `at`: the send tasks it enqueued. */
async function retryJobAt(at: Date, pageSize?: number) {
  const sendQueue = collectingQueue<SendTask>();
  const summary = await createRetryJob({
    broadcasts,
    ledger,
    sendQueue,
    logger: silentLogger,
    ...(pageSize ? { pageSize } : {}),
    now: () => at,
  })();
  return { tasks: sendQueue.tasks, summary };
}

const mine = (tasks: SendTask[], broadcast: Broadcast) =>
  tasks.filter((t) => t.broadcastId === broadcast.broadcastId);

describe('quiet hours across midnight, in two time zones', () => {
  it('New York is sent at once, Nairobi waits until 08:00 there and is sent when the clock passes it', async () => {
    const tenantId = 'quiet-a';
    const now = new Date('2026-11-30T19:00:00Z'); // 14:00 in New York, 22:00 in Nairobi
    const timed = await timePlan(
      planOf([NEW_YORK, NAIROBI]),
      { tenantId, now, quietHours: NIGHT, senderMps: 80 },
      history,
    );
    // The dry run's figures.
    expect(timed.timing.waiting).toEqual({ quiet_hours: 1, messaging_limit: 0 });
    expect(timed.timing.waitingUntil?.toISOString()).toBe('2026-12-01T05:00:00.000Z');
    expect(timed.entries[1]).toMatchObject({
      notBefore: '2026-12-01T05:00:00.000Z',
      timeZone: 'Africa/Nairobi',
    });

    const { broadcast, sent } = await fanOutAt(tenantId, timed.entries, now);
    expect(sent.map((t) => t.phone)).toEqual([NEW_YORK]);
    const waiting = await ledger.get({ tenantId, broadcastId: broadcast.broadcastId, index: 1 });
    expect(waiting).toMatchObject({
      status: 'queued',
      waitReason: 'quiet_hours',
      nextRetryAt: '2026-12-01T05:00:00.000Z',
    });
    // A stray task for it (a duplicate, the sweeper) cannot claim it early.
    const early = await ledger.claim(
      { tenantId, broadcastId: broadcast.broadcastId, index: 1, attempt: 1, phone: NAIROBI },
      now,
      new Date(now.getTime() + 60_000),
    );
    expect(early.claimed).toBe(false);

    // 07:59 in Nairobi: still waiting. 08:00:30: released, with its values and zone, once.
    expect(mine((await retryJobAt(new Date('2026-12-01T04:59:00Z'))).tasks, broadcast)).toEqual([]);
    const released = mine((await retryJobAt(new Date('2026-12-01T05:00:30Z'))).tasks, broadcast);
    expect(released).toEqual([
      expect.objectContaining({
        phone: NAIROBI,
        attempt: 1,
        variables: { '1': 'x' },
        timeZone: 'Africa/Nairobi',
      }),
    ]);
    expect(mine((await retryJobAt(new Date('2026-12-01T05:01:30Z'))).tasks, broadcast)).toEqual([]);
    const claim = await ledger.claim(
      released[0] as SendTask,
      new Date('2026-12-01T05:00:31Z'),
      new Date('2026-12-01T05:10:00Z'),
    );
    expect(claim.claimed).toBe(true);
  });

  it('one run of the retry job releases everyone due, page after page (08:00 comes for all at once)', async () => {
    const tenantId = 'quiet-d';
    const now = new Date('2026-11-30T19:00:00Z');
    const phones = Array.from({ length: 7 }, (_, n) => `+25471200050${n}`);
    const timed = await timePlan(
      planOf(phones),
      { tenantId, now, quietHours: NIGHT, senderMps: 80 },
      history,
    );
    const { broadcast, sent } = await fanOutAt(tenantId, timed.entries, now);
    expect(sent).toEqual([]);
    const run = await retryJobAt(new Date('2026-12-01T05:00:05Z'), 2);
    expect(
      mine(run.tasks, broadcast)
        .map((t) => t.index)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('at send time: a recipient reached inside their quiet hours waits, and is released at the end', async () => {
    const tenantId = 'quiet-b';
    const { broadcast, tasks } = await storeBroadcast(
      { broadcasts, ledger },
      { tenantId, entries: planOf([NAIROBI]).entries, fanOut: true },
    );
    const task = { ...(tasks[0] as SendTask), timeZone: 'Africa/Nairobi' };
    const late = new Date('2026-11-30T18:30:00Z'); // 21:30 in Nairobi
    const held = await heldForQuietHours(task, { quietHours: NIGHT }, ledger, late);
    expect(held).toEqual({ held: true, until: new Date('2026-12-01T05:00:00Z') });
    const outside = await heldForQuietHours(
      task,
      { quietHours: NIGHT },
      ledger,
      new Date('2026-11-30T17:00:00Z'),
    );
    expect(outside).toEqual({ held: false });
    expect(mine((await retryJobAt(new Date('2026-12-01T05:00:00Z'))).tasks, broadcast)).toHaveLength(1);
    // Claimed by a send in flight: never pulled back from under it.
    const claimed = await ledger.claim(task, late, new Date(late.getTime() + 60_000));
    expect(claimed.claimed).toBe(true);
    expect(await heldForQuietHours(task, { quietHours: NIGHT }, ledger, late)).toEqual({ held: false });
    expect(await ledger.get(task)).toMatchObject({ status: 'sending' });
  });

  it('a cancelled broadcast’s waiting recipients are never released: they end cancelled', async () => {
    const tenantId = 'quiet-c';
    const now = new Date('2026-11-30T19:00:00Z');
    const timed = await timePlan(
      planOf([NAIROBI]),
      { tenantId, now, quietHours: NIGHT, senderMps: 80 },
      history,
    );
    const { broadcast } = await fanOutAt(tenantId, timed.entries, now);
    await broadcasts.cancel(tenantId, broadcast.broadcastId, now);
    const run = await retryJobAt(new Date('2026-12-01T06:00:00Z'));
    expect(mine(run.tasks, broadcast)).toEqual([]);
    expect(await ledger.get({ tenantId, broadcastId: broadcast.broadcastId, index: 0 })).toMatchObject({
      status: 'cancelled',
    });
  });
});

describe('frequency cap windows', () => {
  it('the 3rd message within 7 days is skipped (frequency_cap), and allowed again after', async () => {
    const tenantId = 'freq-a';
    const phone = '+254712000101';
    const other = '+254712000102';
    const cap = { max: 2, days: 7 };
    await history.record(tenantId, 'brd_first', [{ phone, at: '2026-11-20T10:00:00.000Z' }]);
    await history.record(tenantId, 'brd_second', [{ phone, at: '2026-11-24T10:00:00.000Z' }]);
    // A repeated fan-out of the same broadcast is the same message, not a third.
    await history.record(tenantId, 'brd_second', [{ phone, at: '2026-11-24T10:00:00.000Z' }]);

    const third = await timePlan(
      planOf([phone, other]),
      { tenantId, now: new Date('2026-11-26T10:00:00Z'), frequencyCap: cap, senderMps: 80 },
      history,
    );
    expect(third.skipped.frequency_cap).toBe(1);
    expect(third.entries[0]).toMatchObject({ skipped: true, skipReason: 'frequency_cap' });
    expect(third.entries[1]?.skipped).toBeUndefined();

    // Once the first is 7 days old, one more may go.
    const later = await timePlan(
      planOf([phone]),
      { tenantId, now: new Date('2026-11-27T10:00:01Z'), frequencyCap: cap, senderMps: 80 },
      history,
    );
    expect(later.skipped.frequency_cap).toBe(0);

    // Another tenant's messages to the same person do not count.
    const elsewhere = await timePlan(
      planOf([phone]),
      { tenantId: 'freq-b', now: new Date('2026-11-26T10:00:00Z'), frequencyCap: cap, senderMps: 80 },
      history,
    );
    expect(elsewhere.skipped.frequency_cap).toBe(0);
  });

  it('the fan-out records the messages that count, and the history forgets what no window reaches', async () => {
    const tenantId = 'freq-c';
    const phone = '+254712000201';
    await history.record(tenantId, 'brd_old', [{ phone, at: '2026-09-01T10:00:00.000Z' }]);
    const now = new Date('2026-11-30T10:00:00Z');
    // A plain one-off of a tenant without a limit: not recorded.
    await fanOutAt(tenantId, planOf([phone]).entries, now);
    expect((await history.among(tenantId, [phone])).get(phone)?.sends).toEqual(['2026-09-01T10:00:00.000Z']);
    // A broadcast with a cap of its own (so also a campaign's run, or any under a limit): recorded.
    await fanOutAt(tenantId, planOf([phone]).entries, now, { frequencyCap: { max: 3, days: 7 } });
    expect((await history.among(tenantId, [phone])).get(phone)?.sends).toEqual([now.toISOString()]);
    // A test send never is.
    const later = new Date('2026-11-30T11:00:00Z');
    await fanOutAt(tenantId, planOf([phone]).entries, later, {
      recordsHistory: true,
      test: true,
    } as Partial<Broadcast>);
    expect((await history.among(tenantId, [phone])).get(phone)?.sends).toEqual([now.toISOString()]);
  });
});

describe("Meta's messaging limit", () => {
  it('splits a broadcast across two days: 3 now, 2 when the window frees; the book refuses a stale write', async () => {
    const tenantId = 'limit-a';
    const now = new Date('2026-11-30T10:15:00Z');
    const phones = Array.from({ length: 5 }, (_, n) => `+25471200030${n}`);
    const timed = await timePlan(
      planOf(phones),
      { tenantId, now, messagingLimit: 3, senderMps: 80 },
      history,
    );
    const release = new Date((hourOf(now.getTime()) + WINDOW_HOURS) * HOUR_MS);
    expect(timed.timing.waiting).toEqual({ quiet_hours: 0, messaging_limit: 2 });
    expect(timed.timing.estimatedFinishAt.getTime()).toBe(release.getTime() + 25);
    expect(timed.entries.filter((e) => e.notBefore).map((e) => e.notBefore)).toEqual([
      release.toISOString(),
      release.toISOString(),
    ]);
    // Written back conditionally: a second create that read the same version loses and times again.
    const book = mergeBook(timed.book, timed.timing.booked, now.getTime());
    expect(await history.writeBook(tenantId, book, timed.bookVersion)).toBe(true);
    expect(await history.writeBook(tenantId, book, timed.bookVersion)).toBe(false);

    const { broadcast, sent } = await fanOutAt(tenantId, timed.entries, now, { recordsHistory: true });
    expect(sent).toHaveLength(3);
    // A second broadcast now finds the day used up: all of it waits for the next window, after the first.
    const next = await timePlan(
      planOf(['+254712000399']),
      { tenantId, now, messagingLimit: 3, senderMps: 80 },
      history,
    );
    expect(next.entries[0]?.notBefore).toBe(release.toISOString());

    // The next day, past the release: the 2 go.
    expect(mine((await retryJobAt(new Date(release.getTime() - 60_000))).tasks, broadcast)).toEqual([]);
    expect(mine((await retryJobAt(new Date(release.getTime() + 1_000))).tasks, broadcast)).toHaveLength(2);
  });

  it('a person messaged this hour by another broadcast counts once', async () => {
    const tenantId = 'limit-b';
    const now = new Date('2026-11-30T10:15:00Z');
    const phone = '+254712000401';
    const first = await timePlan(
      planOf([phone]),
      { tenantId, now, messagingLimit: 1, senderMps: 80 },
      history,
    );
    expect(
      await history.writeBook(tenantId, mergeBook(first.book, first.timing.booked, now.getTime()), 0),
    ).toBe(true);
    await fanOutAt(tenantId, first.entries, now, { recordsHistory: true });
    const again = await timePlan(
      planOf([phone]),
      { tenantId, now: new Date(now.getTime() + 60_000), messagingLimit: 1, senderMps: 80 },
      history,
    );
    expect(again.entries[0]?.notBefore).toBeUndefined();
    expect(again.timing.booked).toEqual({});
  });
});
