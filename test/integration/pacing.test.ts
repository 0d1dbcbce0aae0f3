import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBroadcasts } from '../../functions/adapters/dynamo-broadcasts.ts';
import { DynamoContactStore } from '../../functions/adapters/dynamo-contact-store.ts';
import { DynamoFollowUpLedger } from '../../functions/adapters/dynamo-follow-up-ledger.ts';
import { DynamoMessageIndex } from '../../functions/adapters/dynamo-message-index.ts';
import { DynamoSendLedger } from '../../functions/adapters/dynamo-send-ledger.ts';
import { DynamoSenderSchedule } from '../../functions/adapters/dynamo-sender-schedule.ts';
import { TwilioMessenger } from '../../functions/adapters/twilio-messenger.ts';
import { SenderPacer, slotIntervalMs } from '../../functions/core/pacing.ts';
import type { SendTask } from '../../functions/core/ports.ts';
import { createSendConsumer } from '../../functions/use-cases/send-task.ts';
import { startTwilioSimulator, type TwilioSimulator } from '../../lib/local/twilio-simulator.ts';
import { capturingLogger, storeBroadcast } from '../support/broadcasts.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';
import { sqsEvent } from '../support/sqs.ts';

/**
 * Per-sender rate control (issue 6): several send consumers (separate containers, each with its own
 * pacer) share one schedule per sender in DynamoDB and together stay under the provider's limit.
 */
const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
const AUTH_TOKEN = 'pacing-test-token';
const FROM = 'whatsapp:+14155238886';
const SIM_MPS = 20;
const { logger } = capturingLogger();

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let simulator: TwilioSimulator;
let sink: Server;
let sinkUrl = '';
let broadcasts: DynamoBroadcasts;
let ledger: DynamoSendLedger;
let contacts: DynamoContactStore;
let schedule: DynamoSenderSchedule;
/** Tasks the consumers put back on the queue (rate limited, or no slot in time). */
let requeued = 0;
const simulatorLog: string[] = [];
let sequence = 0;

beforeAll(async () => {
  [db, simulator] = await Promise.all([
    startTestDynamoDb(),
    startTwilioSimulator({
      port: 0,
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      mps: SIM_MPS,
      latencyMs: 5,
      callbackDelayMs: 50,
      callbackRetryDelaysMs: [],
      log: (line) => simulatorLog.push(line),
    }),
  ]);
  broadcasts = new DynamoBroadcasts(db.doc, db.tableName);
  ledger = new DynamoSendLedger(db.doc, db.tableName);
  contacts = new DynamoContactStore(db.doc, db.tableName);
  schedule = new DynamoSenderSchedule(db.doc, db.tableName);
  // Status callbacks are not this test's subject: they land here and are dropped.
  sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
}, 90_000);

afterAll(async () => {
  await simulator?.stop();
  await new Promise<void>((resolve) => (sink ? sink.close(() => resolve()) : resolve()));
  await db?.stop();
});

/** One "container": its own pacer (or none) over the shared schedule. */
function consumer(paced: boolean) {
  const messenger = new TwilioMessenger({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    from: FROM,
    apiBaseUrl: simulator.url,
  });
  return createSendConsumer({
    broadcasts,
    ledger,
    followUps: new DynamoFollowUpLedger(ledger),
    contacts,
    messageIndex: new DynamoMessageIndex(db.doc, db.tableName),
    messenger: async () => messenger,
    statusCallbackBase: () => sinkUrl,
    ...(paced ? { pacer: new SenderPacer(schedule, { configuredMps: SIM_MPS }) } : {}),
    requeue: async () => {
      requeued += 1;
    },
    backoffSeconds: [],
    concurrency: 10,
    logger,
  });
}

const batchOf = (tasks: readonly SendTask[]) => sqsEvent(tasks.map((t) => JSON.stringify(t)));

/** 60 queued recipients, sent by 3 consumers at once in batches of 10 (as 3 Lambdas would). */
async function sendSixtyAtOnce(paced: boolean) {
  sequence += 1;
  const entries = Array.from({ length: 60 }, (_, index) => ({
    index,
    phone: `+97252${String(sequence).padStart(2, '0')}${String(index).padStart(3, '0')}5${String(index % 10)}${sequence}`,
    contentVariables: { '1': 'x' },
  }));
  const { tasks } = await storeBroadcast(
    { broadcasts, ledger },
    { tenantId: 'tenant-pace', entries, fanOut: true },
  );
  const consumers = [consumer(paced), consumer(paced), consumer(paced)];
  // A container's first HTTP request is slow (connection and client set-up: a Lambda cold start);
  // each sends one message of its own first, so the burst below measures the pacing, not that.
  const warmUp = await storeBroadcast(
    { broadcasts, ledger },
    {
      tenantId: 'tenant-pace',
      entries: [0, 1, 2].map((index) => ({
        index,
        phone: `+9725399${String(sequence).padStart(2, '0')}${index}555`,
        contentVariables: {},
      })),
      fanOut: true,
    },
  );
  await Promise.all(
    warmUp.tasks.map((task, n) => (consumers[n] as ReturnType<typeof consumer>)(batchOf([task]))),
  );
  const batches = Array.from({ length: 6 }, (_, n) => tasks.slice(n * 10, n * 10 + 10));
  const before = simulatorLog.filter((l) => l.startsWith('429')).length;
  const requeuedBefore = requeued;
  const results = await Promise.all(
    batches.map((batch, n) => (consumers[n % 3] as ReturnType<typeof consumer>)(batchOf(batch))),
  );
  const provider429 = simulatorLog.filter((l) => l.startsWith('429')).length - before;
  const phones = new Set(entries.map((e) => `whatsapp:${e.phone}`));
  const sent = simulator.messages().filter((m) => phones.has(m.to));
  return { results, provider429, sent, putBack: requeued - requeuedBefore };
}

describe('per-sender pacing across consumers', () => {
  it('three consumers sending 60 messages at once stay under the sender limit; none sent twice, none failed', async () => {
    const { results, provider429, sent, putBack } = await sendSixtyAtOnce(true);
    // The pacer spaces the calls 4 % under the limit: 40 ms of slack per rolling second. On this shared
    // 2-core machine a request can now and then take longer than that to reach the simulator, which
    // counts arrivals; measured: the calls themselves never exceed the limit, and at most 2 of 60
    // arrivals did (against 40 unpaced, below).
    expect(provider429).toBeLessThanOrEqual(2);
    // A 429 puts its task back, unsent, never failed: every recipient is sent once or waits its turn.
    expect(putBack).toBe(provider429);
    expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);
    expect(sent).toHaveLength(60 - putBack);
    expect(new Set(sent.map((m) => m.to)).size).toBe(sent.length);
  }, 60_000);

  it('without pacing the same load draws 429s from the provider (what the pacer prevents)', async () => {
    const { provider429, results, putBack } = await sendSixtyAtOnce(false);
    expect(provider429).toBeGreaterThanOrEqual(20);
    // Rate-limited tasks go back to the queue as fresh messages: delayed, never failed.
    expect(putBack).toBe(provider429);
    expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);
  }, 60_000);

  it('concurrent bookings from separate pacers never share a slot', async () => {
    const sender = `whatsapp:+1555${Date.now()}`;
    const pacers = Array.from({ length: 4 }, () => new SenderPacer(schedule, { configuredMps: 100 }));
    const paces = await Promise.all(
      Array.from({ length: 80 }, (_, n) => (pacers[n % 4] as SenderPacer).acquire(sender, 60_000)),
    );
    const slots = paces.map((p) => (p.ok ? p.at : Number.NaN)).sort((a, b) => a - b);
    expect(slots.every(Number.isFinite)).toBe(true);
    for (let i = 1; i < slots.length; i++)
      expect((slots[i] as number) - (slots[i - 1] as number)).toBeGreaterThanOrEqual(
        slotIntervalMs(100) - 0.01, // epoch milliseconds as doubles: ~0.0002 ms resolution
      );
  }, 30_000);

  it('stores slot times DynamoDB and JavaScript read alike, so a booking never loses to rounding', async () => {
    const sender = `whatsapp:+1888${Date.now()}`;
    const pacers = Array.from({ length: 3 }, () => new SenderPacer(schedule, { configuredMps: 19.2 }));
    // 1000 / (19.2 × 0.96) ms between slots: not a finite binary fraction.
    await Promise.all(
      Array.from({ length: 45 }, (_, n) => (pacers[n % 3] as SenderPacer).acquire(sender, 60_000)),
    );
    const stored = await db.doc.send(
      new GetItemCommand({
        TableName: db.tableName,
        Key: { pk: { S: `PACE#${sender}` }, sk: { S: 'PACE' } },
      }),
    );
    const text = stored.Item?.nextSlotAt?.N ?? '';
    // The decimal DynamoDB keeps is the very number JavaScript reads: whole 1/1024 ms.
    expect(Number.isInteger(Number(text) * 1024), text).toBe(true);
    expect((text.split('.')[1] ?? '').length, text).toBeLessThanOrEqual(10);
  }, 30_000);

  it('a schedule stored a hair below now (inexact decimals) makes the callers wait a block, never fail', async () => {
    const sender = `whatsapp:+1999${Date.now()}`;
    const now = Date.now() + 1_000;
    // As written before exact times: 1796054065000.9999999999999 reads back as …001 in JavaScript,
    // while DynamoDB compares the exact decimal (below now: the busy write's condition fails).
    await db.doc.send(
      new PutItemCommand({
        TableName: db.tableName,
        Item: {
          pk: { S: `PACE#${sender}` },
          sk: { S: 'PACE' },
          nextSlotAt: { N: `${now - 1}.9999999999999` },
        },
      }),
    );
    const fresh = new DynamoSenderSchedule(db.doc, db.tableName);
    const request = { count: 10, intervalMs: slotIntervalMs(20), horizonMs: 60_000 };
    const first = await fresh.book(sender, { ...request, nowMs: now });
    expect(first).toMatchObject({ booked: false });
    if (first.booked) return;
    // One block's wait, not the queue's visibility timeout; the booking after it starts the sender afresh.
    expect(first.nextFreeAt - now).toBeLessThanOrEqual(10 * slotIntervalMs(20) + 1);
    const next = await fresh.book(sender, { ...request, nowMs: first.nextFreeAt });
    expect(next).toMatchObject({ booked: true, firstSlotAt: first.nextFreeAt });
  }, 30_000);

  /** Two containers' pacers of one 50/s sender over the shared schedule, on the clock given. */
  const twoContainers = (now: () => number) =>
    [0, 1].map(() => new SenderPacer(schedule, { configuredMps: 50, blockSize: 1, now })) as [
      SenderPacer,
      SenderPacer,
    ];
  /** The spacing a container books now: one booking learns the schedule's cut, the next two show it. */
  async function bookedSpacing(pacer: SenderPacer, sender: string): Promise<number> {
    await pacer.acquire(sender, 60_000);
    const first = await pacer.acquire(sender, 60_000);
    const second = await pacer.acquire(sender, 60_000);
    return first.ok && second.ok ? second.at - first.at : 0;
  }

  it("a slow-down in one container slows the sender's pace in the others", async () => {
    const sender = `whatsapp:+1666${Date.now()}`;
    // One instant for both containers: the cut's recovery (back to 50/s over 5 s) and an idle
    // schedule's fresh start do not move with how long this machine takes between the calls.
    const instant = Date.now();
    const [a, b] = twoContainers(() => instant);
    await a.slowDown(sender);
    // 50 → 45 messages/s (a 10 % cut, the sender at its full rate) for every container of this sender.
    expect(await bookedSpacing(b, sender)).toBeCloseTo(slotIntervalMs(45), 1);
  }, 30_000);

  it('a signal in another container while the rate still climbs back is a repeat: the deeper cut, for all', async () => {
    const sender = `whatsapp:+1777${Date.now()}`;
    let instant = Date.now();
    const [a, b] = twoContainers(() => instant);
    await a.slowDown(sender); // 50 → 45
    await b.acquire(sender, 60_000); // b learns the cut from the schedule
    instant += 1_500; // climbing back 1 message/s a second: 46.5
    await b.slowDown(sender);
    // A limit below the configured rate: 46.5 → 32.55 (30 %), not another 10 %.
    expect(await bookedSpacing(a, sender)).toBeCloseTo(slotIntervalMs(46.5 * 0.7), 1);
  }, 30_000);

  it('a container that has not booked since the others cut judges its signal from the stored cut: the rate never rises', async () => {
    const sender = `whatsapp:+1888${Date.now()}`;
    let instant = Date.now();
    const [a, b] = twoContainers(() => instant);
    await a.slowDown(sender); // 50 → 45
    instant += 1_500;
    await a.slowDown(sender); // a repeat: 46.5 → 32.55
    instant += 1_500;
    // b has seen neither cut; from its own view it would cut 10 % from 50, to 45. From the stored
    // cut, climbing back (34.05), it is another repeat.
    await b.slowDown(sender);
    expect(await bookedSpacing(a, sender)).toBeCloseTo(slotIntervalMs(34.05 * 0.7), 1);
  }, 30_000);
});
