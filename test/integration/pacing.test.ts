import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBroadcastStore } from '../../functions/adapters/dynamo-broadcast-store.ts';
import { DynamoContactStore } from '../../functions/adapters/dynamo-contact-store.ts';
import { DynamoSenderSchedule } from '../../functions/adapters/dynamo-sender-schedule.ts';
import { TwilioMessenger } from '../../functions/adapters/twilio-messenger.ts';
import { SenderPacer, slotIntervalMs } from '../../functions/core/pacing.ts';
import type { RecipientKey } from '../../functions/core/ports.ts';
import { createSendHandler } from '../../functions/send-messages.ts';
import { startTwilioSimulator, type TwilioSimulator } from '../../lib/local/twilio-simulator.ts';
import { capturingLogger, storeBroadcast } from '../support/broadcasts.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

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
let store: DynamoBroadcastStore;
let contacts: DynamoContactStore;
let schedule: DynamoSenderSchedule;
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
  store = new DynamoBroadcastStore(db.doc, db.tableName);
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
  return createSendHandler({
    store,
    contacts,
    messenger: async () => messenger,
    publicBaseUrl: () => sinkUrl,
    ...(paced ? { pacer: new SenderPacer(schedule, { configuredMps: SIM_MPS }) } : {}),
    requeue: async () => {},
    concurrency: 10,
    logger,
  });
}

function sqsEvent(keys: RecipientKey[]): SQSEvent {
  return {
    Records: keys.map(
      (key, n): SQSRecord => ({
        messageId: `m-${sequence}-${key.index}-${n}`,
        receiptHandle: `rh-${key.index}`,
        body: JSON.stringify({ ...key, attempt: 1 }),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: '0',
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: '0',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:broadcast-send',
        awsRegion: 'us-east-1',
      }),
    ),
  };
}

/** 60 queued recipients, sent by 3 consumers at once in batches of 10 (as 3 Lambdas would). */
async function sendSixtyAtOnce(paced: boolean) {
  sequence += 1;
  const entries = Array.from({ length: 60 }, (_, index) => ({
    index,
    phone: `+97252${String(sequence).padStart(2, '0')}${String(index).padStart(3, '0')}5${String(index % 10)}${sequence}`,
    contentVariables: { '1': 'x' },
  }));
  const { keys } = await storeBroadcast(store, { tenantId: 'tenant-pace', entries, expand: true });
  const consumers = [consumer(paced), consumer(paced), consumer(paced)];
  // A container's first HTTP request is slow (connection and client set-up: a Lambda cold start);
  // each sends one message of its own first, so the burst below measures the pacing, not that.
  const warmUp = await storeBroadcast(store, {
    tenantId: 'tenant-pace',
    entries: [0, 1, 2].map((index) => ({
      index,
      phone: `+9725399${String(sequence).padStart(2, '0')}${index}555`,
      contentVariables: {},
    })),
    expand: true,
  });
  await Promise.all(
    warmUp.keys.map((key, n) => (consumers[n] as ReturnType<typeof consumer>)(sqsEvent([key]))),
  );
  const batches = Array.from({ length: 6 }, (_, n) => keys.slice(n * 10, n * 10 + 10));
  const before = simulatorLog.filter((l) => l.startsWith('429')).length;
  const results = await Promise.all(
    batches.map((batch, n) => (consumers[n % 3] as ReturnType<typeof consumer>)(sqsEvent(batch))),
  );
  const provider429 = simulatorLog.filter((l) => l.startsWith('429')).length - before;
  const phones = new Set(entries.map((e) => `whatsapp:${e.phone}`));
  const sent = simulator.messages().filter((m) => phones.has(m.to));
  return { results, provider429, sent };
}

describe('per-sender pacing across consumers', () => {
  it('three consumers sending 60 messages at once stay under the sender limit: no 429, each sent once', async () => {
    const { results, provider429, sent } = await sendSixtyAtOnce(true);
    expect(provider429).toBe(0);
    expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);
    expect(sent).toHaveLength(60);
    expect(new Set(sent.map((m) => m.to)).size).toBe(60);
  }, 60_000);

  it('without pacing the same load draws 429s from the provider (what the pacer prevents)', async () => {
    const { provider429, results } = await sendSixtyAtOnce(false);
    expect(provider429).toBeGreaterThan(0);
    // Rate-limited tasks go back to the queue: delayed, never failed.
    expect(results.flatMap((r) => r.batchItemFailures).length).toBe(provider429);
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

  it("a slow-down in one container slows the sender's pace in the others", async () => {
    const sender = `whatsapp:+1666${Date.now()}`;
    const a = new SenderPacer(schedule, { configuredMps: 50, blockSize: 1 });
    const b = new SenderPacer(schedule, { configuredMps: 50, blockSize: 1 });
    await a.slowDown(sender);
    await b.acquire(sender, 60_000); // learns the cut from the schedule
    const first = await b.acquire(sender, 60_000);
    const second = await b.acquire(sender, 60_000);
    const gap = first.ok && second.ok ? second.at - first.at : 0;
    // 50 → 35 messages/s (a 30 % cut) for every container of this sender.
    expect(gap).toBeCloseTo(slotIntervalMs(35), 1);
  }, 30_000);
});
