import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueDepth } from '../functions/adapters/dead-letters.ts';
import { SqsTaskQueue } from '../functions/adapters/sqs-queues.ts';
import { recipientKey } from '../functions/adapters/table-layout.ts';
import { TwilioMessenger } from '../functions/adapters/twilio-messenger.ts';
import type { SenderPacer } from '../functions/core/pacing.ts';
import type { Messenger, RecipientKey, SendLedger, SendTask } from '../functions/core/ports.ts';
import { capturingMetrics } from '../functions/core/service-metrics.ts';
import { adoptMessage } from '../functions/use-cases/reconcile-send.ts';
import {
  createSendConsumer,
  type SendConsumerDeps,
  statusCallbackUrl,
} from '../functions/use-cases/send-task.ts';
import { FaultInjector } from '../lib/local/faults/injector.ts';
import type { FaultRule } from '../lib/local/faults/spec.ts';
import { SAMPLE_TEMPLATES } from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { capturingLogger } from './support/broadcasts.ts';
import { untilCountsMatchLedger } from './support/counts-stream.ts';
import { ACCOUNT_SID, type SendRig, startSendRig } from './support/send-rig.ts';
import { sqsEvent, startTestQueues, type TestQueues } from './support/sqs.ts';

/**
 * The send consumer (functions/use-cases/send-task.ts) with the real adapters on DynamoDB Local, the
 * Twilio simulator through the real SDK, the real status webhook and the counts aggregator on the
 * stream: each recipient's message is sent at most once whatever SQS and Twilio do.
 */
const TENANT = 'tenant-send';
// The simulator knows the templates it is sent (SAMPLE_TEMPLATES): one variable, as numberedEntries fill.
const CONTENT_SID = SAMPLE_TEMPLATES.subsidyReminder.contentSid;

/** TWIN_FAULTS' twilio.429, off until a test turns it on: every create refused with 429/20429. */
const twilio429: { -readonly [K in keyof FaultRule]: FaultRule[K] } = {
  name: 'twilio.429',
  service: 'twilio',
  fault: '429',
  rate: 0,
};

const { logger, logs } = capturingLogger();
let rig: SendRig;
let queues: TestQueues;
/** Every task the consumer put back on the queue, with the delay it asked for. */
const requeued: { task: SendTask; delaySeconds: number }[] = [];
let send: ReturnType<typeof createSendConsumer>;

beforeAll(async () => {
  [rig, queues] = await Promise.all([
    startSendRig({
      tenantId: TENANT,
      contentSid: CONTENT_SID,
      logger,
      faults: new FaultInjector({ rules: [twilio429], seed: 1 }),
    }),
    startTestQueues(),
  ]);
  send = consumer();
}, 90_000);

afterAll(async () => {
  await queues?.stop();
  await rig?.stop();
});

function consumer(overrides: Partial<SendConsumerDeps> = {}) {
  return createSendConsumer({
    broadcasts: rig.broadcasts,
    ledger: rig.ledger,
    followUps: rig.followUps,
    contacts: rig.contacts,
    messageIndex: rig.messageIndex,
    messenger: async () => rig.messenger,
    // The delay is SQS's business: recorded here, the test hands the task back itself.
    requeue: async (task, delaySeconds) => {
      requeued.push({ task, delaySeconds });
    },
    statusCallbackBase: () => rig.callbackBase,
    backoffSeconds: [],
    random: () => 0,
    logger,
    ...overrides,
  });
}

const deliver = (tasks: readonly SendTask[], using = send, context?: Context) =>
  using(sqsEvent(tasks.map((t) => JSON.stringify(t))), context);

const requeuedFor = (key: RecipientKey) =>
  requeued.filter((r) => r.task.broadcastId === key.broadcastId && r.task.index === key.index);

/** Our own port with some methods replaced (a fault or a race placed exactly where a test needs it). */
function around<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (property in overrides) return overrides[property as keyof T];
      const value = Reflect.get(object, property, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/**
 * Time passes until the claim's lease has run out (core/recovery.ts: the invocation's deadline +
 * 10 s, about 40 s here): what a redelivery after the queue's visibility timeout finds.
 */
async function leaseRunsOut(key: RecipientKey) {
  await rig.db.doc.send(
    new UpdateCommand({
      TableName: rig.db.tableName,
      Key: recipientKey(key.broadcastId, key.index),
      UpdateExpression: 'SET leaseUntil = :past',
      ExpressionAttributeValues: { ':past': new Date(Date.now() - 1000).toISOString() },
    }),
  );
}

const at = <T>(list: readonly T[], n: number): T => {
  const item = list[n];
  if (item === undefined) throw new Error(`no item ${n}`);
  return item;
};

describe('the send consumer against DynamoDB Local and the Twilio simulator', { timeout: 30_000 }, () => {
  it('an ordinary number: one message with the template, its variables and a callback naming the send; read; the broadcast completes', async () => {
    const { broadcast, keys, phones, tasks } = await rig.store(['1234']);
    const [key, phone, task] = [at(keys, 0), at(phones, 0), at(tasks, 0)];
    expect((await deliver([task])).batchItemFailures).toEqual([]);

    const messages = rig.sentTo(phone);
    expect(messages).toHaveLength(1);
    const message = at(messages, 0);
    expect(message.contentSid).toBe(CONTENT_SID);
    expect(JSON.parse(message.contentVariables ?? '{}')).toEqual({ '1': 'name 0' });
    expect(message.statusCallback).toBe(statusCallbackUrl(rig.callbackBase, task));
    const read = await rig.untilStatus(key, 'read');
    // The SID reached the ledger with the first callback; the history entry follows from the stream.
    await expect
      .poll(async () => (await rig.contacts.listMessages(TENANT, phone, { limit: 5 })).items, {
        timeout: 10_000,
      })
      .toEqual([expect.objectContaining({ messageSid: message.sid, at: read.claimedAt, type: 'broadcast' })]);
    expect(read.messageSid).toBe(message.sid);
    expect(read.sentAt && read.deliveredAt && read.readAt).toBeTruthy();
    await rig.untilBroadcast(broadcast, 'completed');
    await untilCountsMatchLedger(rig, broadcast);
    expect(await rig.counts(broadcast)).toMatchObject({ read: 1, queued: 0, sending: 0, pending: 0 });
  });

  it('every last-four-digit outcome of API.md, each recipient at its own status, and counts that add up', async () => {
    const digits = ['0001', '0002', '0003', '0004', '0005', '0009', '1234'];
    const { broadcast, keys, phones, tasks } = await rig.store(digits);
    const byDigits = (d: string) => {
      const n = digits.indexOf(d);
      return { key: at(keys, n), phone: at(phones, n), task: at(tasks, n) };
    };
    expect((await deliver(tasks)).batchItemFailures).toEqual([]);

    // 0003: create refused (400, 21211): failed for good, nothing at Twilio.
    const invalid = byDigits('0003');
    expect(await rig.recipient(invalid.key)).toMatchObject({ status: 'failed', errorCode: 21211 });
    expect(rig.sentTo(invalid.phone)).toHaveLength(0);

    // 0005: 429 on the first try: the claim is released and the task put back 2 s later (no jitter here).
    const limited = byDigits('0005');
    const released = await rig.recipient(limited.key);
    expect(released).toMatchObject({ status: 'queued', attempts: 1 });
    expect(released.errorCode).toBeUndefined();
    expect(released.claimedAt).toBeUndefined();
    expect(rig.sentTo(limited.phone)).toHaveLength(0);
    expect(requeuedFor(limited.key)).toEqual([{ task: limited.task, delaySeconds: 2 }]);

    // 0004: 500 after Twilio created the message: never resent, the task put back for after the lease
    // (the next test follows that case when no callback comes).
    const ambiguous = byDigits('0004');
    expect(rig.sentTo(ambiguous.phone)).toHaveLength(1);
    expect(requeuedFor(ambiguous.key)).toHaveLength(1);
    expect(at(requeuedFor(ambiguous.key), 0).delaySeconds).toBeGreaterThan(30);

    // The 0005 task comes back: accepted this time.
    expect((await deliver([limited.task])).batchItemFailures).toEqual([]);
    expect(rig.sentTo(limited.phone)).toHaveLength(1);

    // The callbacks tell the rest; the 0004 one names the send in its signed query and adopts the SID.
    expect(await rig.untilStatus(byDigits('0001').key, 'undelivered')).toMatchObject({ errorCode: 30003 });
    expect(await rig.untilStatus(byDigits('0002').key, 'failed')).toMatchObject({ errorCode: 63024 });
    expect((await rig.untilStatus(ambiguous.key, 'read')).messageSid).toBe(
      rig.sentTo(ambiguous.phone)[0]?.sid,
    );
    await rig.untilStatus(limited.key, 'read');
    await rig.untilStatus(byDigits('1234').key, 'read');
    await rig.untilStatus(byDigits('0009').key, 'sent');
    for (const phone of phones) expect(rig.sentTo(phone).length).toBeLessThanOrEqual(1);

    await rig.untilBroadcast(broadcast, 'partial');
    const totals = await untilCountsMatchLedger(rig, broadcast);
    expect(totals.errors).toEqual({ '21211': 1, '30003': 1, '63024': 1 });
    const counts = await rig.counts(broadcast);
    expect(counts).toMatchObject({ read: 3, sent: 1, undelivered: 1, failed: 2, queued: 0, sending: 0 });
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(digits.length);
  });

  it('records its metrics: sent, refused by code, rate limited, the first send once; a test send none', async () => {
    const metrics = capturingMetrics();
    const measured = consumer({ metrics });
    const { tasks } = await rig.store(['1234', '0003', '0005', '1235']);
    expect((await deliver(tasks, measured)).batchItemFailures).toEqual([]);
    expect(metrics.sum('MessagesSent')).toBe(2);
    expect(metrics.sum('MessagesFailed', { ErrorCode: '21211' })).toBe(1);
    expect(metrics.sum('ProviderRateLimited')).toBe(1);
    // 21211 is not transient: no retry scheduled.
    expect(metrics.sum('RetriesScheduled')).toBe(0);
    const latencies = metrics.recorded.filter((r) => r.name === 'FirstSendLatency');
    expect(latencies).toHaveLength(1);
    expect(latencies[0]?.value).toBeGreaterThanOrEqual(0);
    // Nothing with a tenant, broadcast or phone in it: every dimension is a bounded one.
    for (const r of metrics.recorded)
      expect(Object.keys(r.dimensions).every((d) => d === 'ErrorCode')).toBe(true);

    // The same broadcast marked a test send: nothing recorded, and its callbacks are marked too.
    const testOnly = capturingMetrics();
    const asTest = consumer({
      metrics: testOnly,
      broadcasts: around(rig.broadcasts, {
        get: async (tenantId: string, broadcastId: string) => {
          const b = await rig.broadcasts.get(tenantId, broadcastId);
          return b && { ...b, test: true };
        },
      }),
    });
    const test = await rig.store(['1236']);
    expect((await deliver(test.tasks, asTest)).batchItemFailures).toEqual([]);
    expect(rig.sentTo(at(test.phones, 0))[0]?.statusCallback).toContain('x=1');
    expect(testOnly.recorded).toEqual([]);
  });

  it('a broadcast whose only recipient Twilio refuses (0003) ends failed, with nothing sent', async () => {
    const { broadcast, keys, phones, tasks } = await rig.store(['0003']);
    expect((await deliver(tasks)).batchItemFailures).toEqual([]);
    const failed = await rig.recipient(at(keys, 0));
    expect(failed).toMatchObject({ status: 'failed', errorCode: 21211 });
    expect(failed.messageSid).toBeUndefined();
    expect(rig.sentTo(at(phones, 0))).toHaveLength(0);
    await rig.untilBroadcast(broadcast, 'failed');
  });

  it('a 429 puts the task back as a FRESH message: however often it waits, it never reaches the DLQ', async () => {
    const queue = await queues.queue('send-waiting', { maxReceiveCount: 2 });
    const sendQueue = new SqsTaskQueue<SendTask>(queues.client, queue.main.url);
    const delays: number[] = [];
    // Each 429 reaches the pacer with the rate its send was paced at: how the pacer tells a repeat
    // from a send paced before its last cut (core/pacing.ts).
    const signals: (number | undefined)[] = [];
    const pacer = {
      acquire: async () => ({ ok: true as const, at: Date.now() + 50, pacedMps: 77 }),
      slowDown: async (_sender: string, pacedMps?: number) => {
        signals.push(pacedMps);
      },
    } as unknown as SenderPacer;
    // As functions/send-messages.ts wires it: back on the send queue as a new message.
    const viaQueue = consumer({
      pacer,
      requeue: async (task, delaySeconds) => {
        delays.push(delaySeconds);
        await sendQueue.enqueue([task]); // the delay itself is SQS's: not waited for here
      },
    });
    const { keys, phones, tasks } = await rig.store(['2345']);
    const [key, phone] = [at(keys, 0), at(phones, 0)];
    await sendQueue.enqueue(tasks);
    const receiveCounts: (string | undefined)[] = [];
    const round = async () => {
      const { received, response } = await waitFor(
        async () => {
          const pumped = await queues.pump(queue.main.url, viaQueue);
          return pumped.received.length > 0 ? pumped : undefined;
        },
        { timeoutMs: 5000, message: 'the send task did not come back' },
      );
      receiveCounts.push(...received.map((m) => m.Attributes?.ApproximateReceiveCount));
      expect(response.batchItemFailures).toEqual([]);
    };

    twilio429.rate = 1;
    try {
      // Five times its maxReceiveCount of 2: Twilio says "too many requests" every time.
      for (let n = 0; n < 5; n++) {
        await round();
        expect(await rig.recipient(key)).toMatchObject({ status: 'queued', attempts: 1 });
      }
    } finally {
      twilio429.rate = 0;
    }
    await round();

    expect(receiveCounts).toEqual(['1', '1', '1', '1', '1', '1']);
    expect(signals).toEqual([77, 77, 77, 77, 77]);
    expect(delays).toHaveLength(5);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(2);
    expect(rig.sentTo(phone)).toHaveLength(1);
    expect(await queueDepth(queues.client, queue.deadLetter.url)).toMatchObject({ visible: 0 });
    expect(await queueDepth(queues.client, queue.main.url)).toMatchObject({ visible: 0, inFlight: 0 });
    await rig.untilStatus(key, 'read');
  });

  it('an ambiguous 500: left sending; the task comes back after the lease and adopts the message Twilio has', async () => {
    const { broadcast, keys, phones, tasks } = await rig.store(['0004']);
    const [key, phone, task] = [at(keys, 0), at(phones, 0), at(tasks, 0)];
    rig.loseCallbacksOf(broadcast.broadcastId); // no callback will tell us
    expect((await deliver([task])).batchItemFailures).toEqual([]);
    const left = await rig.recipient(key);
    expect(left.status).toBe('sending');
    expect(left.messageSid).toBeUndefined();
    expect(rig.sentTo(phone)).toHaveLength(1);
    expect(requeuedFor(key)).toHaveLength(1);

    // Delivered again while the lease holds (SQS at least once): nothing sent, back for later again.
    await deliver([task]);
    expect(rig.sentTo(phone)).toHaveLength(1);
    expect(requeuedFor(key)).toHaveLength(2);
    expect((await rig.recipient(key)).status).toBe('sending');

    const sid = at(rig.sentTo(phone), 0).sid;
    await waitFor(() => rig.sentTo(phone)[0]?.status === 'read', { message: 'Twilio never read it' });
    await leaseRunsOut(key);
    expect((await deliver([task])).batchItemFailures).toEqual([]);
    const adopted = await rig.recipient(key);
    expect(adopted).toMatchObject({ status: 'read', messageSid: sid, attempts: 1 });
    await expect
      .poll(async () => (await rig.contacts.listMessages(TENANT, phone, { limit: 5 })).items, {
        timeout: 10_000,
      })
      .toEqual([expect.objectContaining({ messageSid: sid, at: left.claimedAt })]);
    expect(rig.sentTo(phone)).toHaveLength(1);
    await rig.untilBroadcast(broadcast, 'completed');
  });

  it('a claim whose invocation died before calling Twilio: the redelivered task finds no message and sends exactly once', async () => {
    const { keys, phones, tasks } = await rig.store(['2468']);
    const [key, phone, task] = [at(keys, 0), at(phones, 0), at(tasks, 0)];
    // The dead invocation's claim, its lease long over.
    const dead = await rig.ledger.claim(task, new Date(Date.now() - 120_000), new Date(Date.now() - 60_000));
    expect(dead.claimed).toBe(true);
    expect(rig.sentTo(phone)).toHaveLength(0);

    expect((await deliver([task])).batchItemFailures).toEqual([]);
    expect(rig.sentTo(phone)).toHaveLength(1);
    await deliver([task]);
    expect(rig.sentTo(phone)).toHaveLength(1);
    expect((await rig.untilStatus(key, 'read')).messageSid).toBe(rig.sentTo(phone)[0]?.sid);
  });

  it('a taken-over claim whose send is ambiguous again waits for its NEW lease, and is adopted, never resent', async () => {
    const { broadcast, keys, phones, tasks } = await rig.store(['0004']);
    const [key, phone, task] = [at(keys, 0), at(phones, 0), at(tasks, 0)];
    rig.loseCallbacksOf(broadcast.broadcastId);
    await rig.ledger.claim(task, new Date(Date.now() - 120_000), new Date(Date.now() - 60_000));
    expect((await deliver([task])).batchItemFailures).toEqual([]);
    expect(rig.sentTo(phone)).toHaveLength(1); // taken over and sent; Twilio answers 500 after creating it
    const taken = await rig.recipient(key);
    expect(taken.status).toBe('sending');
    const leaseLeft = (Date.parse(taken.leaseUntil ?? '') - Date.now()) / 1000;
    expect(leaseLeft).toBeGreaterThan(30);
    // Put back for when the lease it now holds has run out, not at once.
    expect(at(requeuedFor(key), 0).delaySeconds).toBeGreaterThanOrEqual(Math.floor(leaseLeft));

    await waitFor(() => rig.sentTo(phone)[0]?.status === 'read', { message: 'Twilio never read it' });
    await leaseRunsOut(key);
    await deliver([task]);
    expect(await rig.recipient(key)).toMatchObject({ status: 'read', messageSid: rig.sentTo(phone)[0]?.sid });
    expect(rig.sentTo(phone)).toHaveLength(1);
  });

  it('a duplicated task sends once (twice in one batch, and again later)', async () => {
    const { keys, phones, tasks } = await rig.store(['2222']);
    const [key, phone, task] = [at(keys, 0), at(phones, 0), at(tasks, 0)];
    expect((await deliver([task, task])).batchItemFailures).toEqual([]);
    expect((await deliver([task])).batchItemFailures).toEqual([]);
    expect(rig.sentTo(phone)).toHaveLength(1);
    await rig.untilStatus(key, 'read');
    await deliver([task]);
    expect(rig.sentTo(phone)).toHaveLength(1);
  });

  it('a stale attempt sends nothing; the current attempt sends', async () => {
    const { keys, phones, tasks } = await rig.store(['3579']);
    const [key, phone, task] = [at(keys, 0), at(phones, 0), at(tasks, 0)];
    // Attempt 1 failed transiently and the retry job re-queued the recipient as attempt 2.
    await rig.ledger.claim(task, new Date(), new Date(Date.now() + 60_000));
    await rig.ledger.report(key, { to: 'failed', at: new Date(), attempt: 1, errorCode: 30008 });
    expect(await rig.ledger.requeueForRetry(key, 1, new Date())).toMatchObject({ attempts: 2 });

    await deliver([task]); // attempt 1's task, delivered late
    expect(await rig.recipient(key)).toMatchObject({ status: 'queued', attempts: 2 });
    expect(rig.sentTo(phone)).toHaveLength(0);

    await deliver([{ ...task, attempt: 2 }]);
    expect(rig.sentTo(phone)).toHaveLength(1);
    expect(await rig.untilStatus(key, 'read')).toMatchObject({ attempts: 2 });
  });

  it('a cancel that lands between the claim and the call sends nothing; the counts show the recipient cancelled', async () => {
    const { broadcast, keys, phones, tasks } = await rig.store(['4680']);
    const [key, phone, task] = [at(keys, 0), at(phones, 0), at(tasks, 0)];
    const racing = consumer({
      ledger: around<SendLedger>(rig.ledger, {
        claim: async (...args) => {
          const claim = await rig.ledger.claim(...args);
          await rig.broadcasts.cancel(TENANT, broadcast.broadcastId, new Date()); // the admin, just then
          return claim;
        },
      }),
    });
    expect((await deliver([task], racing)).batchItemFailures).toEqual([]);
    expect(rig.sentTo(phone)).toHaveLength(0);
    const released = await rig.recipient(key);
    expect(released).toMatchObject({ status: 'queued', attempts: 1 });
    expect(released.claimedAt).toBeUndefined();
    // Delivered again: the broadcast is cancelled, nothing is sent.
    await deliver([task]);
    expect(rig.sentTo(phone)).toHaveLength(0);
    await expect
      .poll(() => rig.counts(broadcast), { timeout: 10_000 })
      .toMatchObject({
        cancelled: 1,
        queued: 0,
        sending: 0,
      });
  });

  it('a pause that lands while a claimed send waits for its pacing slot sends nothing: the claim goes back to queued for the resume', async () => {
    const { broadcast, keys, phones, tasks } = await rig.store(['4690', '4691']);
    // Slots 0.3 s and 2.5 s ahead: the second claim waits its slot out across the pause.
    const slots = [300, 2_500];
    const pacer = {
      acquire: async () => ({ ok: true as const, at: Date.now() + (slots.shift() ?? 0) }),
      slowDown: async () => {},
    } as unknown as SenderPacer;
    const pausing = consumer({
      pacer,
      messenger: async () =>
        around<Messenger>(rig.messenger, {
          sendTemplate: async (...args) => {
            const sent = await rig.messenger.sendTemplate(...args);
            await rig.broadcasts.pause(TENANT, broadcast.broadcastId, new Date(), 'paused by an admin');
            return sent;
          },
        }),
    });
    expect((await deliver(tasks, pausing)).batchItemFailures).toEqual([]);
    expect(rig.sentTo(at(phones, 0))).toHaveLength(1);
    expect(rig.sentTo(at(phones, 1))).toHaveLength(0);
    expect(await rig.recipient(at(keys, 1))).toMatchObject({ status: 'queued', attempts: 1 });
    expect(requeuedFor(at(keys, 1))).toEqual([]); // dropped, not hopping on the queue: the resume releases it
  });

  it('a resume that lands between the paused read and the claim release (its release task saw the claim) puts the send back on the queue, not lost', async () => {
    const { broadcast, keys, phones, tasks } = await rig.store(['4692']);
    const [key, phone, task] = [at(keys, 0), at(phones, 0), at(tasks, 0)];
    await rig.broadcasts.markRunning(TENANT, broadcast.broadcastId, new Date());
    const pacer = {
      acquire: async () => ({ ok: true as const, at: Date.now() + 300 }),
      slowDown: async () => {},
    } as unknown as SenderPacer;
    let resumed = false;
    const racing = consumer({
      pacer,
      // Paused while the claim waits for its slot; resumed just before the claim is released.
      ledger: around<SendLedger>(rig.ledger, {
        claim: async (...args) => {
          const claim = await rig.ledger.claim(...args);
          await rig.broadcasts.pause(TENANT, broadcast.broadcastId, new Date(), 'paused by an admin');
          return claim;
        },
        release: async (...args) => {
          if (!resumed) await rig.broadcasts.resume(TENANT, broadcast.broadcastId, new Date());
          resumed = true;
          return rig.ledger.release(...args);
        },
      }),
    });
    expect((await deliver([task], racing)).batchItemFailures).toEqual([]);
    expect(resumed).toBe(true);
    expect(rig.sentTo(phone)).toHaveLength(0);
    expect(await rig.recipient(key)).toMatchObject({ status: 'queued', attempts: 1 });
    expect(requeuedFor(key)).toEqual([{ task, delaySeconds: 0 }]);
    expect((await deliver([task])).batchItemFailures).toEqual([]);
    expect(rig.sentTo(phone)).toHaveLength(1);
  });

  it.each([
    { busy: true, counted: 'counts the slot missed when the sender was busy' },
    { busy: false, counted: 'counts nothing when the sender was idle' },
  ])(
    'a send whose decisive broadcast read comes back after its slot books a new slot and leaves at that one, not late beside the next, and $counted',
    async ({ busy }) => {
      const { phones, tasks } = await rig.store([busy ? '4683' : '4685']);
      const phone = at(phones, 0);
      const booked: number[] = [];
      const pacer = {
        // First a slot 150 ms ahead (time for the claim), then one 400 ms ahead: behind 350 ms of
        // other sends (busy), or with nothing booked before it.
        acquire: async () => {
          const slotAt = Date.now() + (booked.length === 0 ? 150 : 400);
          booked.push(slotAt);
          return { ok: true as const, at: slotAt, behindMs: booked.length > 1 && busy ? 350 : 0 };
        },
        slowDown: async () => {},
      } as unknown as SenderPacer;
      // The first read (before the claim) is quick; the one begun for the first slot takes 300 ms, as
      // a read several sends wait on may on a busy table.
      let reads = 0;
      let sentAt: number | undefined;
      const metrics = capturingMetrics();
      const slowRead = consumer({
        pacer,
        metrics,
        broadcasts: around(rig.broadcasts, {
          get: async (...args: Parameters<typeof rig.broadcasts.get>) => {
            reads++;
            if (reads === 2) await new Promise((resolve) => setTimeout(resolve, 300));
            return rig.broadcasts.get(...args);
          },
        }),
        messenger: async () =>
          around<Messenger>(rig.messenger, {
            sendTemplate: async (...args) => {
              sentAt = Date.now();
              return rig.messenger.sendTemplate(...args);
            },
          }),
      });
      expect((await deliver(tasks, slowRead)).batchItemFailures).toEqual([]);
      expect(rig.sentTo(phone)).toHaveLength(1);
      // A new slot, and sent at it, not when the slow read let it go 250 ms after the first. (On a
      // loaded machine the second slot may be missed too: a third, and sent at that one.)
      expect(booked.length).toBeGreaterThanOrEqual(2);
      expect(sentAt).toBeGreaterThanOrEqual(at(booked, booked.length - 1));
      // Each slot left behind other sends is counted: the capacity an operator sees the sender lose.
      expect(metrics.sum('MissedSendSlots')).toBe(busy ? booked.length - 1 : 0);
    },
  );

  it('a claim late for its slot whose read finds the broadcast cancelled is released then, not booked another slot', async () => {
    const { broadcast, keys, phones, tasks } = await rig.store(['4684']);
    const [key, phone] = [at(keys, 0), at(phones, 0)];
    const booked: number[] = [];
    const pacer = {
      acquire: async () => {
        const slotAt = Date.now() + 150;
        booked.push(slotAt);
        return { ok: true as const, at: slotAt, behindMs: 350 };
      },
      slowDown: async () => {},
    } as unknown as SenderPacer;
    // The read begun for the slot is slow (late past the tolerance), and the broadcast was cancelled
    // after the claim: the cancel's count waits on this claim, so it must not wait another slot.
    let reads = 0;
    const metrics = capturingMetrics();
    const cancelledWhileWaiting = consumer({
      pacer,
      metrics,
      ledger: around<SendLedger>(rig.ledger, {
        claim: async (...args) => {
          const claim = await rig.ledger.claim(...args);
          await rig.broadcasts.cancel(TENANT, broadcast.broadcastId, new Date());
          return claim;
        },
      }),
      broadcasts: around(rig.broadcasts, {
        get: async (...args: Parameters<typeof rig.broadcasts.get>) => {
          reads++;
          if (reads === 2) await new Promise((resolve) => setTimeout(resolve, 300));
          return rig.broadcasts.get(...args);
        },
      }),
    });
    expect((await deliver(tasks, cancelledWhileWaiting)).batchItemFailures).toEqual([]);
    expect(booked).toHaveLength(1);
    // The cancel, not the lateness, left the slot: no capacity the sender lost.
    expect(metrics.sum('MissedSendSlots')).toBe(0);
    expect(rig.sentTo(phone)).toHaveLength(0);
    expect(await rig.recipient(key)).toMatchObject({ status: 'queued', attempts: 1 });
  });

  it("one sender's tasks waiting for its slots never hold up another sender's tasks in the same batch", async () => {
    // A tenant's own number at 2/s and another's at the deployment's rate, their tasks in one batch.
    const slow = await rig.store(['4701', '4702', '4703', '4704']);
    const fast = await rig.store(['4705', '4706']);
    const intervalMs: Record<string, number> = { 'whatsapp:+15550004700': 500, 'whatsapp:+15550004800': 50 };
    const nextAt: Record<string, number> = {};
    const pacer = {
      acquire: async (sender: string) => {
        const slotAt = Math.max(Date.now() + 50, nextAt[sender] ?? 0);
        nextAt[sender] = slotAt + (intervalMs[sender] ?? 0);
        return { ok: true as const, at: slotAt };
      },
      slowDown: async () => {},
    } as unknown as SenderPacer;
    const sentAt = new Map<string, number>();
    const twoSenders = consumer({
      pacer,
      concurrency: 2,
      messenger: async (broadcast) =>
        around<Messenger>(rig.messenger, {
          sender:
            broadcast.broadcastId === slow.broadcast.broadcastId
              ? 'whatsapp:+15550004700'
              : 'whatsapp:+15550004800',
          sendTemplate: async (message) => {
            sentAt.set(message.to, Date.now());
            return rig.messenger.sendTemplate(message);
          },
        }),
    });
    expect((await deliver([...slow.tasks, ...fast.tasks], twoSenders)).batchItemFailures).toEqual([]);
    const times = (phones: string[]) => phones.map((phone) => sentAt.get(phone) ?? Number.NaN);
    const [slowTimes, fastTimes] = [times(slow.phones), times(fast.phones)];
    expect([...slowTimes, ...fastTimes].every(Number.isFinite)).toBe(true);
    // The slow sender's second message leaves half a second after its first; the fast sender's two
    // are out before it (behind the slow sender's two in flight, they would wait over a second).
    expect(Math.max(...fastTimes)).toBeLessThan(Math.min(...slowTimes) + 500);
  });

  it('an invocation past its deadline before the call (a stalled event loop; on the twin, one abandoned at its timeout) sends nothing and puts the task back', async () => {
    const { keys, phones, tasks } = await rig.store(['4681']);
    const [key, phone, task] = [at(keys, 0), at(phones, 0), at(tasks, 0)];
    // The deadline passes during the claim, whatever the reads before it took (2 s is room enough
    // for them on a loaded machine; a fixed 200 ms was not, and the task went back unclaimed).
    const deadline = Date.now() + 2_000;
    const slow = consumer({
      minRemainingMs: 0,
      ledger: around<SendLedger>(rig.ledger, {
        claim: async (...args) => {
          const claim = await rig.ledger.claim(...args);
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()) + 100));
          return claim;
        },
      }),
    });
    const context = { getRemainingTimeInMillis: () => deadline - Date.now() } as Context;
    expect((await deliver([task], slow, context)).batchItemFailures).toEqual([]);
    expect(rig.sentTo(phone)).toHaveLength(0);
    expect(await rig.recipient(key)).toMatchObject({ status: 'queued', attempts: 1 });
    expect(requeuedFor(key)).toEqual([{ task, delaySeconds: 0 }]);
    // Delivered again with time to spare: sent once.
    await deliver([task]);
    expect(rig.sentTo(phone)).toHaveLength(1);
  });

  it('a cancelled broadcast: nothing written, nothing sent, Twilio never asked; its counts show the recipient cancelled', async () => {
    const { broadcast, keys, phones, tasks } = await rig.store(['5555']);
    await rig.broadcasts.cancel(TENANT, broadcast.broadcastId, new Date());
    const noTwilio = consumer({
      messenger: async () => {
        throw new Error('Twilio must not be asked for a cancelled broadcast');
      },
    });
    expect((await deliver(tasks, noTwilio)).batchItemFailures).toEqual([]);
    expect(await rig.ledger.get(at(keys, 0))).toBeUndefined();
    expect(rig.sentTo(at(phones, 0))).toHaveLength(0);
    expect(await rig.counts(broadcast)).toMatchObject({ cancelled: 1, queued: 0, pending: 0 });
  });

  it("a suppressed number is skipped and sent nothing; another tenant's list does not stop this tenant", async () => {
    const { broadcast, keys, phones, tasks } = await rig.store(['5151', '5252']);
    const [optedOut, othersList] = [at(phones, 0), at(phones, 1)];
    const suppression = {
      reason: 'opt_out_keyword' as const,
      detail: 'stop',
      createdAt: new Date().toISOString(),
    };
    await rig.contacts.suppress({ tenantId: TENANT, phone: optedOut, ...suppression });
    await rig.contacts.suppress({ tenantId: 'another-tenant', phone: othersList, ...suppression });
    expect((await deliver(tasks)).batchItemFailures).toEqual([]);
    const skipped = await rig.recipient(at(keys, 0));
    expect(skipped.status).toBe('skipped');
    expect(skipped.errorMessage).toContain('opt_out_keyword');
    expect(rig.sentTo(optedOut)).toHaveLength(0);
    expect(rig.sentTo(othersList)).toHaveLength(1);
    await rig.untilStatus(at(keys, 1), 'read');
    await rig.untilBroadcast(broadcast, 'completed');
    await untilCountsMatchLedger(rig, broadcast);
    expect(await rig.counts(broadcast)).toMatchObject({ skipped: 1, read: 1 });
  });

  it('an opt-out Twilio answers at the send (21610) suppresses the number first: a throttled suppression leaves the recipient sending, and the redelivery asks Twilio again', async () => {
    const { keys, phones, tasks } = await rig.store(['6006']);
    const [key, phone] = [at(keys, 0), at(phones, 0)];
    rig.simulator.unsubscribe(phone);
    let throttled = 0;
    const throttling = consumer({
      contacts: around(rig.contacts, {
        suppress: async () => {
          throttled++;
          // As the SDK raises it once its own retries are spent.
          throw new ProvisionedThroughputExceededException({
            message: 'The level of configured provisioned throughput for the table was exceeded.',
            $metadata: { httpStatusCode: 400 },
          });
        },
      }),
    });
    const event = sqsEvent(tasks.map((t) => JSON.stringify(t)));
    expect((await throttling(event)).batchItemFailures).toEqual([
      { itemIdentifier: event.Records[0]?.messageId },
    ]);
    expect(throttled).toBe(1);
    expect((await rig.recipient(key)).status).toBe('sending');
    expect(await rig.contacts.suppression(TENANT, phone)).toBeUndefined();

    // SQS hands the task back after its visibility timeout; by then the claim's lease has run out.
    await leaseRunsOut(key);
    expect((await deliver(tasks)).batchItemFailures).toEqual([]);
    expect(await rig.recipient(key)).toMatchObject({ status: 'failed', errorCode: 21610 });
    expect(await rig.contacts.suppression(TENANT, phone)).toMatchObject({
      reason: 'provider_error',
      detail: '21610',
    });
    expect(rig.sentTo(phone)).toHaveLength(0);
  });

  it('an abandoned claim whose message Twilio reports failed with 63014 (the person blocked the sender) is adopted as failed, and the number suppressed', async () => {
    const { keys, phones, tasks } = await rig.store(['6014']);
    const [key, phone, task] = [at(keys, 0), at(phones, 0), at(tasks, 0)];
    const claim = await rig.ledger.claim(task, new Date(), new Date(Date.now() + 60_000));
    if (!claim.claimed) throw new Error('not claimed');
    // What the sweeper or a redelivered task does with the message Twilio's list returns.
    const found = {
      sid: `SM${'6'.repeat(32)}`,
      to: `whatsapp:${phone}`,
      status: 'failed',
      errorCode: 63014,
      dateCreated: new Date(),
    };
    const deps = { ...rig, backoffSeconds: [] };
    expect(await adoptMessage(deps, claim.recipient, 'template', found, new Date())).toBe(true);
    expect(await rig.recipient(key)).toMatchObject({
      status: 'failed',
      errorCode: 63014,
      messageSid: found.sid,
    });
    expect(await rig.contacts.suppression(TENANT, phone)).toMatchObject({
      reason: 'provider_error',
      detail: '63014',
    });
  });

  it('a body that is not a task is dropped without poisoning the batch; a record that throws fails alone', async () => {
    const { keys, phones, tasks } = await rig.store(['6666', '7777']);
    const [good, bad] = [at(tasks, 0), at(tasks, 1)];
    const flaky = consumer({
      ledger: around<SendLedger>(rig.ledger, {
        claim: async (task, ...rest) => {
          if (task.index === bad.index) throw new Error('DynamoDB is having a moment');
          return rig.ledger.claim(task, ...rest);
        },
      }),
    });
    const event: SQSEvent = sqsEvent([
      'not json',
      JSON.stringify({ tenantId: 'x' }),
      JSON.stringify(good),
      JSON.stringify(bad),
    ]);
    const result = await flaky(event);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: event.Records[3]?.messageId }]);
    expect(rig.sentTo(at(phones, 0))).toHaveLength(1);
    expect(rig.sentTo(at(phones, 1))).toHaveLength(0);
    expect(await rig.ledger.get(at(keys, 1))).toBeUndefined();
  });

  it('with Twilio not configured, nothing is claimed and the task waits on the queue for a minute', async () => {
    const { keys, tasks } = await rig.store(['8888']);
    const unconfigured = consumer({
      messenger: async () => new TwilioMessenger({ accountSid: ACCOUNT_SID }),
    });
    expect((await deliver(tasks, unconfigured)).batchItemFailures).toEqual([]);
    expect(requeuedFor(at(keys, 0)).map((r) => r.delaySeconds)).toEqual([60]);
    expect(await rig.ledger.get(at(keys, 0))).toBeUndefined();
  });

  it('logs mask phones and never carry the auth token', () => {
    const text = JSON.stringify(logs);
    expect(text).not.toContain(rig.authToken);
    expect(text).not.toMatch(/\+9725\d{8}/);
    expect(text).toMatch(/\+\*+\d{4}/);
  });
});
