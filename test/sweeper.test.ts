import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBroadcastStore } from '../functions/adapters/dynamo-broadcast-store.ts';
import { DynamoContactStore } from '../functions/adapters/dynamo-contact-store.ts';
import { SqsTaskQueue } from '../functions/adapters/sqs-queues.ts';
import { TwilioMessenger } from '../functions/adapters/twilio-messenger.ts';
import type {
  Broadcast,
  ChunkEntry,
  FanOutTask,
  Recipient,
  RecipientKey,
  SendTask,
} from '../functions/core/ports.ts';
import { createSendHandler } from '../functions/send-messages.ts';
import { countsSignature, createSweeper, type SweepDeps } from '../functions/sweep-stuck.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { startTwilioSimulator, type TwilioSimulator } from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { capturingLogger, storeBroadcast } from './support/broadcasts.ts';
import { startTestDynamoDb } from './support/dynamodb.ts';

const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
const AUTH_TOKEN = 'sweeper-test-token';
const FROM = 'whatsapp:+14155238886';
const CONTENT_SID = `HX${'b'.repeat(32)}`;
const TENANT = 'tenant-sweep';
const MINUTE = 60_000;

const { logger, logs } = capturingLogger();

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let contacts: DynamoContactStore;
let store: DynamoBroadcastStore;
let simulator: TwilioSimulator;
let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
let sqsClient: SQSClient;
let sendQueueUrl = '';
let fanOutQueueUrl = '';
/** Where the simulator posts its status callbacks: it answers 200 and drops them (callbacks "lost"). */
let sink: Server;
let sinkUrl = '';
let messenger: TwilioMessenger;
let send: ReturnType<typeof createSendHandler>;
let sequence = 0;

beforeAll(async () => {
  [db, simulator, fauxqs] = await Promise.all([
    startTestDynamoDb(),
    startTwilioSimulator({
      port: 0,
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      latencyMs: 2,
      callbackDelayMs: 20,
      callbackRetryDelaysMs: [],
      log: () => {},
    }),
    startFauxqs({ port: 0, logger: false }),
  ]);
  store = new DynamoBroadcastStore(db.doc, db.tableName);
  contacts = new DynamoContactStore(db.doc, db.tableName);
  sqsClient = new SQSClient({
    endpoint: fauxqs.address,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const queue = async (name: string) =>
    (await sqsClient.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
  [sendQueueUrl, fanOutQueueUrl] = await Promise.all([queue('sweep-send'), queue('sweep-fan-out')]);
  sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  messenger = new TwilioMessenger({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    from: FROM,
    apiBaseUrl: simulator.url,
    timeoutMs: 5000,
  });
  send = createSendHandler({
    store,
    contacts,
    messenger: async () => messenger,
    publicBaseUrl: () => sinkUrl,
    requeue: async () => {},
    logger,
  });
}, 90_000);

afterAll(async () => {
  sqsClient?.destroy();
  await simulator?.stop();
  await fauxqs?.stop();
  await new Promise<void>((resolve) => (sink ? sink.close(() => resolve()) : resolve()));
  await db?.stop();
});

/** The real sweeper over the real store, simulator and fauxqs queues; only the clock and durations vary. */
function sweeper(options: Partial<SweepDeps> = {}) {
  return createSweeper({
    store,
    contacts,
    messenger: async () => messenger,
    sendQueue: new SqsTaskQueue<SendTask>(sqsClient, sendQueueUrl),
    fanOutQueue: new SqsTaskQueue<FanOutTask>(sqsClient, fanOutQueueUrl),
    staleSeconds: 30,
    backoffSeconds: [300],
    logger,
    ...options,
  });
}

/** A clock `offsetMs` ahead of the real one. */
const ahead = (offsetMs: number) => () => new Date(Date.now() + offsetMs);

/** Messages now on a queue (received and deleted), as { body, message }. */
async function drain<T>(queueUrl: string): Promise<{ body: T; message: Message }[]> {
  const out: { body: T; message: Message }[] = [];
  for (;;) {
    const { Messages = [] } = await sqsClient.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return out;
    for (const message of Messages) out.push({ body: JSON.parse(message.Body ?? 'null') as T, message });
    await sqsClient.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
  }
}

const sendTasksFor = async (broadcastId: string) =>
  (await drain<SendTask>(sendQueueUrl)).filter((t) => t.body.broadcastId === broadcastId);

function phoneOf(index: number, last4: string): string {
  return `+9725${String(sequence).padStart(3, '0')}${String(index).padStart(2, '0')}${last4}`;
}

/** A stored broadcast; fanned out (recipients `queued`, no send task on any queue) unless `expand` is false. */
async function storedBroadcast(
  lastFours: string[],
  options: { expand?: boolean; createdAt?: Date; scheduledAt?: Date } = {},
): Promise<{ broadcast: Broadcast; keys: RecipientKey[]; phones: string[] }> {
  sequence += 1;
  const entries: ChunkEntry[] = lastFours.map((last4, index) => ({
    index,
    phone: phoneOf(index, last4),
    contentVariables: { '1': `name ${index}` },
  }));
  const stored = await storeBroadcast(store, {
    tenantId: TENANT,
    entries,
    contentSid: CONTENT_SID,
    expand: options.expand !== false,
    ...(options.createdAt ? { createdAt: options.createdAt } : {}),
    ...(options.scheduledAt ? { scheduledAt: options.scheduledAt } : {}),
  });
  return { ...stored, phones: entries.map((e) => e.phone) };
}

async function recipient(key: RecipientKey): Promise<Recipient> {
  const r = await store.getRecipient(key);
  if (!r) throw new Error(`no recipient ${key.index}`);
  return r;
}

const sentTo = (phone: string) => simulator.messages().filter((m) => m.to === `whatsapp:${phone}`);

/** A claim made `minutesAgo` whose lease (60 s) ran out long ago: a send Lambda that crashed. */
async function crashedClaim(key: RecipientKey, minutesAgo = 10): Promise<void> {
  const claimed = await store.claim(key, 1, new Date(Date.now() - minutesAgo * MINUTE), 60);
  expect(claimed.moved).toBe(true);
}

/** Sends through the real SDK (as the crashed sender did) and waits until the simulator reports `status`. */
async function sendViaSdk(key: RecipientKey, phone: string, status: string): Promise<string> {
  const result = await messenger.sendTemplate({
    to: phone,
    contentSid: CONTENT_SID,
    contentVariables: { '1': 'x' },
    statusCallback: `${sinkUrl}/webhooks/twilio/status?b=${key.broadcastId}&i=${key.index}&a=1&t=${TENANT}`,
  });
  if (result.kind !== 'accepted') throw new Error(`send failed: ${JSON.stringify(result)}`);
  await waitFor(() => sentTo(phone).some((m) => m.sid === result.sid && m.status === status), {
    timeoutMs: 5000,
    message: `simulator message never reached ${status}`,
  });
  return result.sid;
}

/** Hands SQS messages to the real send consumer, as the event source mapping would. */
function deliver(messages: Message[]) {
  const event: SQSEvent = {
    Records: messages.map((m) => ({
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${LOCAL_REGION}:000000000000:sweep-send`,
      awsRegion: LOCAL_REGION,
    })),
  };
  return send(event);
}

describe('sweeper against DynamoDB Local, fauxqs and the Twilio simulator', { timeout: 30_000 }, () => {
  it('re-enqueues a queued recipient whose SQS message was lost, only once it is stale and stalled; the redelivery sends once', async () => {
    const { broadcast, keys, phones } = await storedBroadcast(['1234']);
    const key = keys[0] as RecipientKey;
    const phone = phones[0] as string;
    // The fan-out wrote the recipient as queued but its send task never reached the queue.
    const fresh = sweeper();
    await fresh(); // first look: remembers the counts
    await fresh(); // stalled, but the recipient is not stale yet
    expect(await sendTasksFor(broadcast.broadcastId)).toEqual([]);

    const later = sweeper({ now: ahead(31_000) });
    const summary = await later();
    expect(summary.requeued).toBeGreaterThanOrEqual(1);
    const tasks = await sendTasksFor(broadcast.broadcastId);
    expect(tasks.map((t) => t.body)).toEqual([{ ...key, attempt: 1 }]);
    expect((await recipient(key)).status).toBe('queued');

    // The re-enqueued task goes through the real consumer: one message.
    const result = await deliver(tasks.map((t) => t.message));
    expect(result.batchItemFailures).toEqual([]);
    expect(sentTo(phone)).toHaveLength(1);
    expect((await recipient(key)).messageSid).toBe(sentTo(phone)[0]?.sid);
  });

  it('a crashed claim with no message at Twilio is released and resent: exactly one message', async () => {
    const { broadcast, keys, phones } = await storedBroadcast(['2345']);
    const key = keys[0] as RecipientKey;
    const phone = phones[0] as string;
    await crashedClaim(key);
    const sweep = sweeper();
    await sweep(); // remembers the counts
    expect((await recipient(key)).status).toBe('sending');
    const summary = await sweep(); // stalled: reconcile
    expect(summary.resent).toBeGreaterThanOrEqual(1);

    const released = await recipient(key);
    expect(released.status).toBe('queued');
    expect(released.attempts).toBe(1);
    expect(released.claimedAt).toBeUndefined();
    const tasks = await sendTasksFor(broadcast.broadcastId);
    expect(tasks.map((t) => t.body)).toEqual([{ ...key, attempt: 1 }]);
    expect(sentTo(phone)).toHaveLength(0);

    // Delivered twice (at least once): one message.
    await deliver(tasks.map((t) => t.message));
    await deliver(tasks.map((t) => t.message));
    expect(sentTo(phone)).toHaveLength(1);
    const sent = await recipient(key);
    expect(sent.status).toBe('sending');
    expect(sent.messageSid).toBe(sentTo(phone)[0]?.sid);
    // Its callbacks go to the sink (lost): the sweeper, with the lease over, takes the status from Twilio.
    await waitFor(() => sentTo(phone)[0]?.status === 'read', { timeoutMs: 5000 });
    const afterLease = sweeper({ now: ahead(10 * MINUTE) });
    await afterLease();
    await afterLease();
    expect((await recipient(key)).status).toBe('read');
    expect(sentTo(phone)).toHaveLength(1);
    expect(await sendTasksFor(broadcast.broadcastId)).toEqual([]);
    expect((await store.getBroadcast(TENANT, broadcast.broadcastId))?.status).toBe('completed');
  });

  it('a crashed claim whose message Twilio did take: the SID is adopted, nothing is sent again', async () => {
    const { broadcast, keys, phones } = await storedBroadcast(['3456']);
    const key = keys[0] as RecipientKey;
    const phone = phones[0] as string;
    await crashedClaim(key, 3);
    // The sender made the call and crashed before recording the SID; the callbacks were lost.
    const sid = await sendViaSdk(key, phone, 'read');
    const sweep = sweeper();
    await sweep();
    const summary = await sweep();
    expect(summary.adopted).toBeGreaterThanOrEqual(1);

    const adopted = await recipient(key);
    expect(adopted.messageSid).toBe(sid);
    expect(adopted.status).toBe('read');
    expect(adopted.readAt).toBeTruthy();
    expect(await store.findRecipientBySid(sid)).toEqual({ ...key, kind: 'template' });
    expect(await sendTasksFor(broadcast.broadcastId)).toEqual([]);
    expect(sentTo(phone)).toHaveLength(1);
    expect((await store.getBroadcast(TENANT, broadcast.broadcastId))?.status).toBe('completed');
    // Again: nothing more happens.
    await sweep();
    await sweep();
    expect(sentTo(phone)).toHaveLength(1);
  });

  it('does not adopt a message to the same phone that belongs to another recipient', async () => {
    const { broadcast, keys, phones } = await storedBroadcast(['4567']);
    const key = keys[0] as RecipientKey;
    const phone = phones[0] as string;
    await crashedClaim(key, 3);
    // Another broadcast's recipient with the same phone got a message after our claim: not ours.
    const other = await storedBroadcast(['0000']);
    const otherKey = other.keys[0] as RecipientKey;
    await store.claim(otherKey, 1, new Date(), 300);
    const otherSid = await sendViaSdk(otherKey, phone, 'queued');
    await store.recordSid(otherKey, 1, otherSid);

    const sweep = sweeper();
    await sweep();
    await sweep();
    const r = await recipient(key);
    expect(r.status).toBe('queued');
    expect(r.messageSid).toBeUndefined();
    expect((await sendTasksFor(broadcast.broadcastId)).map((t) => t.body)).toEqual([{ ...key, attempt: 1 }]);
  });

  it('lost callbacks of a recorded SID: the status comes from fetch (read; failed with its code)', async () => {
    const { broadcast, keys, phones } = await storedBroadcast(['5678', '0002', '0001']);
    const sids: string[] = [];
    for (const [n, status] of ['read', 'failed', 'undelivered'].entries()) {
      const key = keys[n] as RecipientKey;
      await crashedClaim(key, 3);
      const sid = await sendViaSdk(key, phones[n] as string, status);
      await store.recordSid(key, 1, sid);
      sids.push(sid);
    }
    const sweep = sweeper();
    await sweep();
    const summary = await sweep();
    expect(summary.reconciled).toBeGreaterThanOrEqual(3);
    const [read, failed, undelivered] = await Promise.all(keys.map(recipient));
    expect(read).toMatchObject({ status: 'read', messageSid: sids[0] });
    expect(failed).toMatchObject({ status: 'failed', errorCode: 63024, messageSid: sids[1] });
    expect(failed?.nextRetryAt).toBeUndefined(); // permanent: no retry
    expect(undelivered).toMatchObject({ status: 'undelivered', errorCode: 30003 });
    expect(undelivered?.nextRetryAt).toBeTruthy(); // transient: the retry job takes it from here
    for (const phone of phones) expect(sentTo(phone)).toHaveLength(1);
    expect(await sendTasksFor(broadcast.broadcastId)).toEqual([]);
    // A retry is pending: not final yet.
    expect((await store.getBroadcast(TENANT, broadcast.broadcastId))?.status).not.toBe('partial');
  });

  it('leaves a claim alone while its lease holds, and a queued recipient while its counts move', async () => {
    const { broadcast, keys } = await storedBroadcast(['6789', '6790']);
    const [a, b] = keys as [RecipientKey, RecipientKey];
    await store.claim(a, 1, new Date(), 300);
    const sweep = sweeper({ now: ahead(60_000) }); // recipient b is stale, a's lease still holds
    await sweep();
    // Progress between the two sweeps: nothing is inspected.
    await store.advance(a, 'sent', { at: new Date(), attempt: 1 });
    await sweep();
    expect(await sendTasksFor(broadcast.broadcastId)).toEqual([]);
    expect((await recipient(a)).status).toBe('sent');
    // No progress: now b is re-enqueued.
    await sweep();
    expect((await sendTasksFor(broadcast.broadcastId)).map((t) => t.body)).toEqual([{ ...b, attempt: 1 }]);
  });

  it('re-enqueues the fan-out of a chunk never expanded, once stale; skips a scheduled broadcast not due', async () => {
    const { broadcast } = await storedBroadcast(['7890'], {
      expand: false,
      createdAt: new Date(Date.now() - 10 * MINUTE),
    });
    const young = await storedBroadcast(['7891'], { expand: false });
    const notDue = await storedBroadcast(['7892'], {
      expand: false,
      createdAt: new Date(Date.now() - 10 * MINUTE),
      scheduledAt: new Date(Date.now() + 60 * MINUTE),
    });
    const summary = await sweeper()();
    expect(summary.refannedChunks).toBeGreaterThanOrEqual(1);
    const tasks = (await drain<FanOutTask>(fanOutQueueUrl)).map((t) => t.body);
    expect(tasks).toContainEqual({ tenantId: TENANT, broadcastId: broadcast.broadcastId, chunk: 0 });
    expect(tasks.some((t) => t.broadcastId === young.broadcast.broadcastId)).toBe(false);
    expect(tasks.some((t) => t.broadcastId === notDue.broadcast.broadcastId)).toBe(false);
    // Once due (and stale since it became due), its lost fan-out is re-enqueued too.
    await sweeper({ now: ahead(61 * MINUTE) })();
    const due = (await drain<FanOutTask>(fanOutQueueUrl)).map((t) => t.body);
    expect(due).toContainEqual({ tenantId: TENANT, broadcastId: notDue.broadcast.broadcastId, chunk: 0 });
  });

  it('fetchMessage: unknown SID → undefined; findMessages filters by To and time, also through a Messaging Service', async () => {
    expect(await messenger.fetchMessage(`SM${'e'.repeat(32)}`)).toBeUndefined();
    sequence += 1;
    const phone = phoneOf(0, '8901');
    const before = new Date(Date.now() - 1000);
    const sid = await sendViaSdk({ tenantId: TENANT, broadcastId: 'brd_x', index: 0 }, phone, 'read');
    const fetched = await messenger.fetchMessage(sid);
    expect(fetched).toMatchObject({ sid, to: phone, status: 'read' });
    expect(fetched?.dateCreated).toBeInstanceOf(Date);
    expect((await messenger.findMessages(phone, before)).map((m) => m.sid)).toEqual([sid]);
    expect(await messenger.findMessages(phone, new Date(Date.now() + MINUTE))).toEqual([]);
    expect(await messenger.findMessages(phoneOf(1, '8901'), before)).toEqual([]);
    const viaService = new TwilioMessenger({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      messagingServiceSid: `MG${'0'.repeat(32)}`,
      apiBaseUrl: simulator.url,
    });
    expect((await viaService.findMessages(phone, before)).map((m) => m.sid)).toEqual([sid]);
  });

  it('signatures are stable; logs mask phones', () => {
    expect(countsSignature({ b: 1, a: 2 })).toBe(countsSignature({ a: 2, b: 1 }));
    const text = JSON.stringify(logs);
    expect(text).not.toMatch(/\+9725\d{9}/);
    expect(text).not.toContain(AUTH_TOKEN);
  });
});
