import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { startFauxqs } from 'fauxqs';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBroadcastStore } from '../functions/adapters/dynamo-broadcast-store.ts';
import { DynamoContactStore } from '../functions/adapters/dynamo-contact-store.ts';
import {
  changeVisibility,
  mapLimit,
  queueUrlFromArn,
  SqsTaskQueue,
} from '../functions/adapters/sqs-queues.ts';
import { TwilioMessenger, toProviderFailure } from '../functions/adapters/twilio-messenger.ts';
import { SECRET_NOT_SET, secretToToken } from '../functions/commons/config.ts';
import { isValidTwilioSignature, parseForm } from '../functions/commons/twilio-signature.ts';
import type {
  Broadcast,
  BroadcastStore,
  ChunkEntry,
  RecipientKey,
  SendTask,
} from '../functions/core/ports.ts';
import { createSendHandler, parseSendTask, statusCallbackUrl } from '../functions/send-messages.ts';
import { callbackRefOf, createStatusWebhookHandler } from '../functions/twilio-status-webhook.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { createHttpGateway } from '../lib/local/http-gateway.ts';
import { startTwilioSimulator, type TwilioSimulator } from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { capturingLogger, storeBroadcast } from './support/broadcasts.ts';
import { startTestDynamoDb } from './support/dynamodb.ts';

const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
const AUTH_TOKEN = 'send-path-test-token';
const FROM = 'whatsapp:+14155238886';
const CONTENT_SID = `HX${'a'.repeat(32)}`;
const TENANT = 'tenant-send';

const { logger, logs } = capturingLogger();

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let contacts: DynamoContactStore;
let store: DynamoBroadcastStore;
let simulator: TwilioSimulator;
let gateway: Server;
let publicBase = '';
/** Every requeue the consumer asked for (ChangeMessageVisibility in production). */
const requeues: { messageId: string; delaySeconds: number }[] = [];
let send: ReturnType<typeof createSendHandler>;
let webhook: ReturnType<typeof createStatusWebhookHandler>;
let sequence = 0;
let messageCounter = 0;

beforeAll(async () => {
  [db, simulator] = await Promise.all([
    startTestDynamoDb(),
    startTwilioSimulator({
      port: 0,
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      latencyMs: 5,
      callbackDelayMs: 40,
      callbackRetryDelaysMs: [100, 300],
      log: () => {},
    }),
  ]);
  store = new DynamoBroadcastStore(db.doc, db.tableName);
  contacts = new DynamoContactStore(db.doc, db.tableName);
  webhook = createStatusWebhookHandler({
    store,
    contacts,
    authToken: async () => AUTH_TOKEN,
    publicBaseUrl: () => publicBase,
    // No retry windows here: retries are test/integration/retries.test.ts's subject.
    backoffSeconds: [],
    logger,
  });
  // The real payload-2.0 gateway in front of the webhook, so the simulator's signed callbacks arrive
  // exactly as API Gateway would hand them over.
  gateway = createServer(
    createHttpGateway({
      routes: [
        { method: 'POST', path: '/webhooks/twilio/status', invoke: (event) => webhook(event as never) },
      ],
      log: () => {},
    }),
  );
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  publicBase = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  const messenger = new TwilioMessenger({
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
    publicBaseUrl: () => publicBase,
    backoffSeconds: [],
    requeue: async (record, delaySeconds) => {
      requeues.push({ messageId: record.messageId, delaySeconds });
    },
    random: () => 0,
    logger,
  });
}, 90_000);

afterAll(async () => {
  await simulator?.stop();
  await new Promise<void>((resolve) => (gateway ? gateway.close(() => resolve()) : resolve()));
  await db?.stop();
});

/** A stored, fanned-out broadcast whose recipients end in the given last-four digits. */
async function queuedBroadcast(lastFours: string[]): Promise<{ broadcast: Broadcast; keys: RecipientKey[] }> {
  sequence += 1;
  const entries: ChunkEntry[] = lastFours.map((last4, index) => ({
    index,
    // Unique per broadcast so the simulator's one-time 0005 rejection applies to each test afresh.
    phone: `+9725${String(sequence).padStart(3, '0')}${String(index).padStart(2, '0')}${last4}`,
    contentVariables: { '1': `name ${index}` },
  }));
  return storeBroadcast(store, { tenantId: TENANT, entries, contentSid: CONTENT_SID, expand: true });
}

function taskOf(key: RecipientKey, attempt = 1): SendTask {
  return { ...key, attempt };
}

function sqsEvent(bodies: string[]): SQSEvent {
  return {
    Records: bodies.map(
      (body): SQSRecord => ({
        messageId: `msg-${++messageCounter}`,
        receiptHandle: `rh-${messageCounter}`,
        body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(Date.now()),
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${LOCAL_REGION}:000000000000:broadcast-send`,
        awsRegion: LOCAL_REGION,
      }),
    ),
  };
}

const deliver = (tasks: SendTask[]) => send(sqsEvent(tasks.map((t) => JSON.stringify(t))));

const sentTo = (phone: string) => simulator.messages().filter((m) => m.to === `whatsapp:${phone}`);

async function recipient(key: RecipientKey) {
  const r = await store.getRecipient(key);
  if (!r) throw new Error(`no recipient ${key.index}`);
  return r;
}

async function waitForStatus(key: RecipientKey, status: string, timeoutMs = 8000) {
  return waitFor(
    async () => {
      const r = await recipient(key);
      return r.status === status ? r : undefined;
    },
    { timeoutMs, intervalMs: 50, message: `recipient ${key.index} never reached ${status}` },
  );
}

/** A status callback as Twilio would post it to `url`, signed with `token`. */
function callbackEvent(
  url: string,
  params: Record<string, string>,
  options: { token?: string; signature?: string | null; base64?: boolean } = {},
): APIGatewayProxyEventV2 {
  const parsed = new URL(url);
  const body = new URLSearchParams(params).toString();
  const signature =
    options.signature === undefined
      ? twilio.getExpectedTwilioSignature(options.token ?? AUTH_TOKEN, url, params)
      : options.signature;
  return {
    version: '2.0',
    routeKey: 'POST /webhooks/twilio/status',
    rawPath: parsed.pathname,
    rawQueryString: parsed.search.slice(1),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(signature !== null ? { 'x-twilio-signature': signature } : {}),
    },
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'test',
      domainPrefix: 'test',
      http: {
        method: 'POST',
        path: parsed.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'x',
      },
      requestId: 'r',
      routeKey: 'POST /webhooks/twilio/status',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: Boolean(options.base64),
  };
}

const statusOf = (r: unknown) => (r as APIGatewayProxyStructuredResultV2).statusCode;

describe('send consumer against the Twilio simulator and DynamoDB Local', { timeout: 15_000 }, () => {
  it('claims a normal number once, records its SID, and follows the callbacks to read', async () => {
    const { broadcast, keys } = await queuedBroadcast(['1234']);
    const key = keys[0] as RecipientKey;
    const result = await deliver([taskOf(key)]);
    expect(result.batchItemFailures).toEqual([]);
    const r = await recipient(key);
    const messages = sentTo(r.phone);
    expect(messages).toHaveLength(1);
    expect(r.messageSid).toBe(messages[0]?.sid);
    expect(['sending', 'sent', 'delivered', 'read']).toContain(r.status);
    // The message carried the template, the rendered variables and a callback naming the send.
    expect(messages[0]?.contentSid).toBe(CONTENT_SID);
    expect(JSON.parse(messages[0]?.contentVariables ?? '{}')).toEqual({ '1': 'name 0' });
    expect(messages[0]?.statusCallback).toBe(statusCallbackUrl(publicBase, taskOf(key)));
    const final = await waitForStatus(key, 'read');
    expect(final.sentAt && final.deliveredAt && final.readAt).toBeTruthy();
    expect((await store.getBroadcast(TENANT, broadcast.broadcastId))?.status).toBe('completed');
  });

  it('sends once when the same SendTask is delivered twice (same batch, then again later)', async () => {
    const { keys } = await queuedBroadcast(['2222']);
    const key = keys[0] as RecipientKey;
    const first = await deliver([taskOf(key), taskOf(key)]);
    const second = await deliver([taskOf(key)]);
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    const r = await recipient(key);
    expect(sentTo(r.phone)).toHaveLength(1);
    await waitForStatus(key, 'read');
  });

  it('a stale attempt sends nothing', async () => {
    const { keys } = await queuedBroadcast(['3333']);
    const key = keys[0] as RecipientKey;
    const result = await deliver([taskOf(key, 7)]);
    expect(result.batchItemFailures).toEqual([]);
    const r = await recipient(key);
    expect(r.status).toBe('queued');
    expect(sentTo(r.phone)).toHaveLength(0);
  });

  it('0003: Twilio refuses the number (21211) → failed, permanent, nothing sent, broadcast failed', async () => {
    const { broadcast, keys } = await queuedBroadcast(['0003']);
    const key = keys[0] as RecipientKey;
    const result = await deliver([taskOf(key)]);
    expect(result.batchItemFailures).toEqual([]);
    const r = await recipient(key);
    expect(r.status).toBe('failed');
    expect(r.errorCode).toBe(21211);
    expect(r.messageSid).toBeUndefined();
    expect(sentTo(r.phone)).toHaveLength(0);
    expect((await store.getBroadcast(TENANT, broadcast.broadcastId))?.status).toBe('failed');
  });

  it('0005: 429 on the first try → claim released, record requeued as a batch item failure; accepted on redelivery', async () => {
    const { keys } = await queuedBroadcast(['0005']);
    const key = keys[0] as RecipientKey;
    const event = sqsEvent([JSON.stringify(taskOf(key))]);
    const messageId = event.Records[0]?.messageId;
    const first = await send(event);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: messageId }]);
    expect(requeues).toContainEqual({ messageId, delaySeconds: 2 });
    const released = await recipient(key);
    expect(released.status).toBe('queued');
    expect(released.attempts).toBe(1);
    expect(released.errorCode).toBeUndefined();
    expect(sentTo(released.phone)).toHaveLength(0);

    const again = await send(event);
    expect(again.batchItemFailures).toEqual([]);
    const r = await recipient(key);
    expect(sentTo(r.phone)).toHaveLength(1);
    expect(r.messageSid).toBe(sentTo(r.phone)[0]?.sid);
    await waitForStatus(key, 'read');
  });

  it('0004: 500 after the message was created → stays sending, never resent, the callback adopts the SID', async () => {
    const { broadcast, keys } = await queuedBroadcast(['0004']);
    const key = keys[0] as RecipientKey;
    const result = await deliver([taskOf(key)]);
    expect(result.batchItemFailures).toEqual([]);
    const right = await recipient(key);
    expect(right.status).toBe('sending');
    expect(right.messageSid).toBeUndefined();
    // The message is redelivered (say the delete was lost): nothing is sent again.
    await deliver([taskOf(key)]);
    const created = sentTo(right.phone);
    expect(created).toHaveLength(1);
    // The simulator's first callback names the send in its (signed) query: the SID is adopted.
    const adopted = await waitForStatus(key, 'read');
    expect(adopted.messageSid).toBe(created[0]?.sid);
    expect(await store.findRecipientBySid(created[0]?.sid ?? '')).toEqual({ ...key, kind: 'template' });
    expect(sentTo(right.phone)).toHaveLength(1);
    expect((await store.getBroadcast(TENANT, broadcast.broadcastId))?.status).toBe('completed');
  });

  it('0001 and 0002: accepted, then undelivered 30003 / failed 63024 from the callbacks; each recipient ends with its code', async () => {
    const { broadcast, keys } = await queuedBroadcast(['0001', '0002', '4321']);
    const result = await deliver(keys.map((k) => taskOf(k)));
    expect(result.batchItemFailures).toEqual([]);
    const [k1, k2, k3] = keys as [RecipientKey, RecipientKey, RecipientKey];
    expect((await waitForStatus(k1, 'undelivered')).errorCode).toBe(30003);
    expect((await waitForStatus(k2, 'failed')).errorCode).toBe(63024);
    await waitForStatus(k3, 'read');
    // It may read `completed` while all three are `sent`; the late failures turn it into `partial`.
    await waitFor(
      async () => (await store.getBroadcast(broadcast.tenantId, broadcast.broadcastId))?.status === 'partial',
      { timeoutMs: 10_000, message: 'the broadcast did not end partial' },
    );
  }, 15_000);

  it('a number that opts out after it was queued is skipped at the send, and sent nothing', async () => {
    const { broadcast, keys } = await queuedBroadcast(['5151', '5252']);
    const [optedOut, stays] = keys as [RecipientKey, RecipientKey];
    const phone = (await recipient(optedOut)).phone;
    await contacts.suppress({
      tenantId: TENANT,
      phone,
      reason: 'opt_out_keyword',
      detail: 'stop',
      createdAt: new Date().toISOString(),
    });
    const result = await deliver([taskOf(optedOut), taskOf(stays)]);
    expect(result.batchItemFailures).toEqual([]);
    const skipped = await recipient(optedOut);
    expect(skipped.status).toBe('skipped');
    expect(skipped.errorMessage).toContain('opt_out_keyword');
    expect(sentTo(phone)).toHaveLength(0);
    expect(sentTo((await recipient(stays)).phone)).toHaveLength(1);
    const { counts } = await store.getCounts(broadcast);
    expect(counts.skipped).toBe(1);
    // Another tenant's list does not stop this tenant's sends, and the other way round.
    expect(await contacts.suppression('another-tenant', phone)).toBeUndefined();
  });

  it('a cancelled broadcast: the recipient is cancelled and nothing is sent', async () => {
    const { broadcast, keys } = await queuedBroadcast(['5555']);
    const key = keys[0] as RecipientKey;
    const cancelledStore: BroadcastStore = Object.create(store, {
      getBroadcast: { value: async () => ({ ...broadcast, status: 'cancelled' }) },
    });
    const consumer = createSendHandler({
      store: cancelledStore,
      contacts,
      messenger: async () => {
        throw new Error('must not be asked for');
      },
      publicBaseUrl: () => publicBase,
      requeue: async () => {},
      logger,
    });
    const result = await consumer(sqsEvent([JSON.stringify(taskOf(key))]));
    expect(result.batchItemFailures).toEqual([]);
    const r = await recipient(key);
    expect(r.status).toBe('cancelled');
    expect(sentTo(r.phone)).toHaveLength(0);
  });

  it('a bad body is dropped without poisoning the batch; a throwing record fails alone', async () => {
    const { keys } = await queuedBroadcast(['6666', '7777']);
    const [good, bad] = keys as [RecipientKey, RecipientKey];
    const flaky: BroadcastStore = Object.create(store, {
      getRecipient: {
        value: async (k: RecipientKey) => {
          if (k.index === bad.index) throw new Error('DynamoDB is having a moment');
          return store.getRecipient(k);
        },
      },
    });
    const consumer = createSendHandler({
      store: flaky,
      contacts,
      messenger: async () =>
        new TwilioMessenger({
          accountSid: ACCOUNT_SID,
          authToken: AUTH_TOKEN,
          from: FROM,
          apiBaseUrl: simulator.url,
        }),
      publicBaseUrl: () => publicBase,
      requeue: async () => {},
      logger,
    });
    const event = sqsEvent([
      'not json',
      JSON.stringify({ tenantId: 'x' }),
      JSON.stringify(taskOf(good)),
      JSON.stringify(taskOf(bad)),
    ]);
    const result = await consumer(event);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: event.Records[3]?.messageId }]);
    expect(sentTo((await recipient(good)).phone)).toHaveLength(1);
    expect((await recipient(bad)).status).toBe('queued');
  });

  it('an unconfigured messenger claims nothing and puts the record back', async () => {
    const { keys } = await queuedBroadcast(['8888']);
    const key = keys[0] as RecipientKey;
    const back: number[] = [];
    const consumer = createSendHandler({
      store,
      contacts,
      messenger: async () => new TwilioMessenger({ accountSid: ACCOUNT_SID }),
      publicBaseUrl: () => publicBase,
      requeue: async (_r, delay) => {
        back.push(delay);
      },
      logger,
    });
    const result = await consumer(sqsEvent([JSON.stringify(taskOf(key))]));
    expect(result.batchItemFailures).toHaveLength(1);
    expect(back).toEqual([60]);
    expect((await recipient(key)).status).toBe('queued');
  });

  it('logs mask phones and never carry the auth token', () => {
    const text = JSON.stringify(logs);
    expect(text).not.toContain(AUTH_TOKEN);
    expect(text).not.toMatch(/\+9725\d{8}/);
    expect(text).toMatch(/\+\*+\d{4}/);
  });
});

describe('status webhook', () => {
  async function recipientWithSid(last4: string) {
    const { broadcast, keys } = await queuedBroadcast([last4]);
    const key = keys[0] as RecipientKey;
    await store.claim(key, 1, new Date(), 300);
    const sid = `SM${String(sequence).padStart(32, '0')}`;
    await store.recordSid(key, 1, sid);
    const url = statusCallbackUrl(publicBase, taskOf(key));
    return { broadcast, key, sid, url };
  }

  it('refuses a forged, missing or wrong-token signature with 403 and changes nothing', async () => {
    const { key, sid, url } = await recipientWithSid('9001');
    const params = { MessageSid: sid, MessageStatus: 'delivered', AccountSid: ACCOUNT_SID };
    for (const event of [
      callbackEvent(url, params, { signature: 'forged+signature=' }),
      callbackEvent(url, params, { signature: null }),
      callbackEvent(url, params, { token: 'another-token' }),
      // Signed for another URL (the query names another recipient).
      { ...callbackEvent(url, params), rawQueryString: 'b=x&i=0&a=1&t=y' },
      // Body changed after signing.
      {
        ...callbackEvent(url, params),
        body: new URLSearchParams({ ...params, MessageStatus: 'read' }).toString(),
      },
    ]) {
      const answer = (await webhook(event)) as APIGatewayProxyStructuredResultV2;
      expect(answer.statusCode).toBe(403);
      expect(JSON.parse(String(answer.body))).toEqual({
        error: { code: 'FORBIDDEN', message: expect.any(String) },
      });
    }
    expect((await recipient(key)).status).toBe('sending');
  });

  it('shuffled and duplicated callbacks end at the right status, counted once', async () => {
    const { broadcast, key, sid, url } = await recipientWithSid('9002');
    const order = ['read', 'sent', 'delivered', 'sent', 'read', 'queued', 'delivered', 'failed', 'read'];
    for (const status of order) {
      const answer = await webhook(
        callbackEvent(url, {
          MessageSid: sid,
          MessageStatus: status,
          AccountSid: ACCOUNT_SID,
          To: 'whatsapp:+1',
        }),
      );
      expect(statusOf(answer)).toBe(200);
    }
    const r = await recipient(key);
    expect(r.status).toBe('read');
    const { counts } = await store.getCounts(broadcast);
    expect(counts.read).toBe(1);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);
    expect((await store.getBroadcast(TENANT, broadcast.broadcastId))?.status).toBe('completed');
  });

  it('undelivered with its code survives a late sent; a base64 body is read', async () => {
    const { key, sid, url } = await recipientWithSid('9003');
    for (const [status, code] of [
      ['undelivered', '30003'],
      ['sent', ''],
      ['undelivered', '30003'],
    ] as const) {
      const params: Record<string, string> = { MessageSid: sid, MessageStatus: status };
      if (code) params.ErrorCode = code;
      expect(statusOf(await webhook(callbackEvent(url, params, { base64: true })))).toBe(200);
    }
    const r = await recipient(key);
    expect(r.status).toBe('undelivered');
    expect(r.errorCode).toBe(30003);
  });

  it('a failure with 21610 (opted out at Twilio) puts the number on the suppression list, not retried', async () => {
    const { key, sid, url } = await recipientWithSid('9005');
    const params = { MessageSid: sid, MessageStatus: 'failed', ErrorCode: '21610' };
    expect(statusOf(await webhook(callbackEvent(url, params)))).toBe(200);
    const r = await recipient(key);
    expect(r).toMatchObject({ status: 'failed', errorCode: 21610 });
    expect(r.nextRetryAt).toBeUndefined();
    expect(await contacts.suppression(TENANT, r.phone)).toMatchObject({
      reason: 'provider_error',
      detail: '21610',
    });
  });

  it('an unknown MessageSid is answered 200 and changes nothing; so is one whose query names another attempt', async () => {
    const { key, url } = await recipientWithSid('9004');
    const unknown = `SM${'f'.repeat(32)}`;
    const noQuery = `${publicBase}/webhooks/twilio/status`;
    expect(
      statusOf(await webhook(callbackEvent(noQuery, { MessageSid: unknown, MessageStatus: 'read' }))),
    ).toBe(200);
    const otherAttempt = url.replace('a=1', 'a=2');
    expect(
      statusOf(await webhook(callbackEvent(otherAttempt, { MessageSid: unknown, MessageStatus: 'read' }))),
    ).toBe(200);
    // Same attempt but the recipient already has a SID: not adopted.
    expect(statusOf(await webhook(callbackEvent(url, { MessageSid: unknown, MessageStatus: 'read' })))).toBe(
      200,
    );
    expect((await recipient(key)).status).toBe('sending');
    expect(await store.findRecipientBySid(unknown)).toBeUndefined();
  });
});

describe('helpers', () => {
  it("checks signatures with twilio-node's own test vector", () => {
    const params = {
      CallSid: 'CA1234567890ABCDE',
      Caller: '+14158675309',
      Digits: '1234',
      From: '+14158675309',
      To: '+18005551212',
    };
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const good = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';
    expect(isValidTwilioSignature('12345', { url, signedParams: params, signature: good })).toBe(true);
    expect(isValidTwilioSignature('12345', { url, signedParams: params, signature: good.slice(1) })).toBe(
      false,
    );
    expect(isValidTwilioSignature(undefined, { url, signedParams: params, signature: good })).toBe(false);
    expect(isValidTwilioSignature('12345', { url: 'not a url', signedParams: params, signature: good })).toBe(
      false,
    );
  });

  it('parses forms, send tasks and callback references strictly', () => {
    expect(parseForm('a=1&b=2&a=3')).toEqual({
      params: { a: '1', b: '2' },
      signedParams: { a: ['1', '3'], b: '2' },
    });
    expect(parseSendTask('{"tenantId":"t","broadcastId":"b","index":0,"attempt":1}')).toEqual({
      tenantId: 't',
      broadcastId: 'b',
      index: 0,
      attempt: 1,
    });
    expect(parseSendTask('{"tenantId":"t","broadcastId":"b","index":-1,"attempt":1}')).toBeUndefined();
    expect(parseSendTask('[')).toBeUndefined();
    const url = statusCallbackUrl('https://x.example/', {
      tenantId: 't 1',
      broadcastId: 'brd_1',
      index: 4,
      attempt: 2,
    });
    expect(url).toBe('https://x.example/webhooks/twilio/status?b=brd_1&i=4&a=2&t=t+1');
    expect(callbackRefOf(new URL(url).searchParams)).toEqual({
      tenantId: 't 1',
      broadcastId: 'brd_1',
      index: 4,
      attempt: 2,
      kind: 'template',
    });
    const followUp = statusCallbackUrl('https://x.example', {
      tenantId: 't',
      broadcastId: 'brd_1',
      index: 4,
      attempt: 1,
      kind: 'followUp',
    });
    expect(followUp).toBe('https://x.example/webhooks/twilio/status?b=brd_1&i=4&a=1&t=t&k=f');
    expect(callbackRefOf(new URL(followUp).searchParams)).toMatchObject({ index: 4, kind: 'followUp' });
    expect(callbackRefOf(new URLSearchParams('b=x&i=&a=1&t=y'))).toBeUndefined();
    expect(callbackRefOf(new URLSearchParams('b=x&i=1&a=0&t=y'))).toBeUndefined();
  });

  it('reads the auth token from a bare or JSON secret, and a freshly deployed one as not set', () => {
    expect(secretToToken(' abc ')).toBe('abc');
    expect(secretToToken('{"authToken":"xyz"}')).toBe('xyz');
    expect(secretToToken('')).toBeUndefined();
    // Until the operator stores the token, Twilio is "not configured" (503 at create), not failing per send.
    expect(secretToToken(SECRET_NOT_SET)).toBeUndefined();
  });

  it('maps SDK failures to provider results without retrying', async () => {
    expect(toProviderFailure(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toMatchObject({
      kind: 'network-error',
    });
    expect(
      toProviderFailure(Object.assign(new Error('timeout of 100ms exceeded'), { code: 'ECONNABORTED' })),
    ).toMatchObject({
      kind: 'timeout',
    });
    // A server that never answers: one request, reported as a timeout (ambiguous), not retried.
    let requests = 0;
    const silent = createServer(() => {
      requests++;
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const messenger = new TwilioMessenger({
        accountSid: ACCOUNT_SID,
        authToken: AUTH_TOKEN,
        from: '+14155238886',
        apiBaseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        timeoutMs: 200,
      });
      expect(messenger.configured).toBe(true);
      const result = await messenger.sendTemplate({
        to: '+972501234567',
        contentSid: CONTENT_SID,
        contentVariables: {},
        statusCallback: 'https://x.example/cb',
      });
      expect(result.kind).toBe('timeout');
      expect(requests).toBe(1);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
    // Nothing listens: a network error.
    const refused = new TwilioMessenger({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      messagingServiceSid: `MG${'0'.repeat(32)}`,
      apiBaseUrl: 'http://127.0.0.1:1',
    });
    const answer = await refused.sendTemplate({
      to: '+972501234567',
      contentSid: CONTENT_SID,
      contentVariables: {},
      statusCallback: 'https://x.example/cb',
    });
    expect(answer.kind).toBe('network-error');
    expect(new TwilioMessenger({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN }).configured).toBe(false);
  });

  it('maps a queue ARN to its URL and limits concurrency', async () => {
    expect(queueUrlFromArn('arn:aws:sqs:eu-west-1:123456789012:broadcast-send')).toBe(
      'https://sqs.eu-west-1.amazonaws.com/123456789012/broadcast-send',
    );
    expect(
      queueUrlFromArn('arn:aws:sqs:us-east-1:000000000000:q', 'http://localhost:9324/000000000000/q'),
    ).toBe('http://localhost:9324/000000000000/q');
    let active = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return n * 2;
    });
    expect(out).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(peak).toBe(3);
  });

  it('enqueues tasks in batches of 10 through fauxqs, and changeVisibility hides a message for the delay', async () => {
    const server = await startFauxqs({ port: 0, logger: false });
    const client = new SQSClient({
      endpoint: server.address,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const { QueueUrl } = await client.send(
        new CreateQueueCommand({ QueueName: 'send-path-test', Attributes: { VisibilityTimeout: '30' } }),
      );
      const url = QueueUrl ?? '';
      const tasks = Array.from({ length: 25 }, (_, index) => ({
        tenantId: 't',
        broadcastId: 'b',
        index,
        attempt: 1,
      }));
      await new SqsTaskQueue(client, url).enqueue(tasks);
      await new SqsTaskQueue(client, url).enqueue([{ tenantId: 't', broadcastId: 'b', chunk: 0 }]);
      const bodies: unknown[] = [];
      const handles: string[] = [];
      await waitFor(async () => {
        const out = await client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
        for (const m of out.Messages ?? []) {
          bodies.push(JSON.parse(m.Body ?? 'null'));
          handles.push(m.ReceiptHandle ?? '');
        }
        return bodies.length >= 26;
      });
      expect(bodies).toHaveLength(26);
      expect(bodies).toContainEqual({ tenantId: 't', broadcastId: 'b', index: 24, attempt: 1 });
      expect(bodies).toContainEqual({ tenantId: 't', broadcastId: 'b', chunk: 0 });
      // Make one visible again now, one in an hour; delete the rest.
      const [now, later, ...rest] = handles as [string, string, ...string[]];
      await changeVisibility(client, url, now, 0);
      await changeVisibility(client, url, later, 3600);
      for (let i = 0; i < rest.length; i += 10)
        await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: rest.slice(i, i + 10).map((ReceiptHandle, n) => ({ Id: String(n), ReceiptHandle })),
          }),
        );
      const again = await client.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      expect(again.Messages ?? []).toHaveLength(1);
    } finally {
      client.destroy();
      await server.stop();
    }
  });
});
