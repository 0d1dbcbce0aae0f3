import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecipientKey, SendTask } from '../functions/core/ports.ts';
import { capturingMetrics } from '../functions/core/service-metrics.ts';
import { createStatusWebhookHandler, type StoredCallback } from '../functions/twilio-status-webhook.ts';
import { statusCallbackUrl } from '../functions/use-cases/send-task.ts';
import { applyStatusCallback } from '../functions/use-cases/status-callback.ts';
import { SAMPLE_TEMPLATES } from '../lib/local/twilio-simulator.ts';
import { capturingLogger } from './support/broadcasts.ts';
import { untilCountsMatchLedger } from './support/counts-stream.ts';
import { ACCOUNT_SID, type SendRig, startSendRig } from './support/send-rig.ts';

/**
 * The status webhook (functions/twilio-status-webhook.ts → use-cases/status-callback.ts) on the real
 * ledger: signed callbacks move a recipient forward only, for their own attempt and SID; counts follow
 * through the stream aggregator.
 */
const TENANT = 'tenant-callbacks';
const { logger } = capturingLogger();
const metrics = capturingMetrics();
let rig: SendRig;
let sequence = 0;

beforeAll(async () => {
  rig = await startSendRig({
    tenantId: TENANT,
    contentSid: SAMPLE_TEMPLATES.subsidyReminder.contentSid,
    logger,
    backoffSeconds: [300],
    metrics,
  });
}, 90_000);

afterAll(async () => {
  await rig?.stop();
});

const sidOf = (n: number) => `SM${String(n).padStart(32, '0')}`;

/** A recipient claimed for `attempt` 1 (Twilio took its message, whose SID no callback has named yet). */
async function claimedRecipient(last4: string) {
  const { broadcast, keys, phones, tasks } = await rig.store([last4]);
  const [key, task] = [keys[0] as RecipientKey, tasks[0] as SendTask];
  expect((await rig.ledger.claim(task, new Date(), new Date(Date.now() + 60_000))).claimed).toBe(true);
  sequence += 1;
  return {
    broadcast,
    key,
    task,
    phone: phones[0] as string,
    sid: sidOf(sequence),
    url: statusCallbackUrl(rig.callbackBase, task),
  };
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
      ? twilio.getExpectedTwilioSignature(options.token ?? rig.authToken, url, params)
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

const post = async (url: string, params: Record<string, string>, options = {}) =>
  ((await rig.webhook(callbackEvent(url, params, options))) as APIGatewayProxyStructuredResultV2).statusCode;

describe('status webhook on the send ledger', { timeout: 20_000 }, () => {
  it('records callbacks by status, a failure by its code and its retry once, refused signatures; a test send nothing', async () => {
    metrics.recorded.length = 0;
    const { sid, url } = await claimedRecipient('9011');
    const failed = { MessageSid: sid, MessageStatus: 'undelivered', ErrorCode: '30003', To: 'whatsapp:+1' };
    expect(await post(url, failed)).toBe(200);
    expect(await post(url, failed)).toBe(200); // Twilio's duplicate: a callback, not a second failure
    expect(await post(url, failed, { signature: 'forged+signature=' })).toBe(403);
    expect(metrics.sum('StatusCallbacks', { Status: 'undelivered' })).toBe(2);
    expect(metrics.sum('MessagesFailed', { ErrorCode: '30003' })).toBe(1);
    expect(metrics.sum('RetriesScheduled')).toBe(1);
    expect(metrics.sum('TwilioAuthFailures', { Source: 'webhook' })).toBe(1);

    // A test send's callbacks (x=1 in the signed URL, as the send consumer names them) count nowhere.
    metrics.recorded.length = 0;
    const test = await claimedRecipient('9012');
    const testUrl = statusCallbackUrl(rig.callbackBase, test.task, { test: true });
    expect(await post(testUrl, { MessageSid: test.sid, MessageStatus: 'failed', ErrorCode: '63024' })).toBe(
      200,
    );
    expect((await rig.recipient(test.key)).status).toBe('failed');
    expect(metrics.recorded).toEqual([]);
  });

  it('refuses a forged, missing or wrong-token signature with 403 and changes nothing', async () => {
    const { key, sid, url } = await claimedRecipient('9001');
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
      const answer = (await rig.webhook(event)) as APIGatewayProxyStructuredResultV2;
      expect(answer.statusCode).toBe(403);
      expect(JSON.parse(String(answer.body))).toEqual({
        error: { code: 'FORBIDDEN', message: expect.any(String) },
      });
    }
    const r = await rig.recipient(key);
    expect(r.status).toBe('sending');
    expect(r.messageSid).toBeUndefined();
  });

  it('shuffled and duplicated callbacks end at the right status, counted once; the broadcast completes', async () => {
    const { broadcast, key, sid, url } = await claimedRecipient('9002');
    const order = ['read', 'sent', 'delivered', 'sent', 'read', 'queued', 'delivered', 'failed', 'read'];
    for (const status of order)
      expect(await post(url, { MessageSid: sid, MessageStatus: status, To: 'whatsapp:+1' })).toBe(200);
    const r = await rig.recipient(key);
    expect(r).toMatchObject({ status: 'read', messageSid: sid });
    // A lost `sent` and `delivered` are implied by `read`.
    expect(r.sentAt && r.deliveredAt && r.readAt).toBeTruthy();
    await rig.untilBroadcast(broadcast, 'completed');
    await untilCountsMatchLedger(rig, broadcast);
    const counts = await rig.counts(broadcast);
    expect(counts.read).toBe(1);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('undelivered with its code (and its retry) survives a late sent; a base64 body is read', async () => {
    const { key, sid, url } = await claimedRecipient('9003');
    for (const [status, code] of [
      ['undelivered', '30003'],
      ['sent', ''],
      ['undelivered', '30003'],
    ] as const) {
      const params: Record<string, string> = { MessageSid: sid, MessageStatus: status };
      if (code) params.ErrorCode = code;
      expect(await post(url, params, { base64: true })).toBe(200);
    }
    const r = await rig.recipient(key);
    expect(r).toMatchObject({ status: 'undelivered', errorCode: 30003, messageSid: sid });
    // Transient: the retry job gets it after the first window (300 s here).
    expect(Date.parse(r.nextRetryAt ?? '') - Date.now()).toBeGreaterThan(250_000);
  });

  it('a failure with 21610 (opted out at Twilio) suppresses the number and is never retried', async () => {
    const { key, phone, sid, url } = await claimedRecipient('9005');
    // The number comes from the callback's own `To`, as Twilio sends it: the webhook reads nothing.
    const params = { MessageSid: sid, MessageStatus: 'failed', ErrorCode: '21610', To: `whatsapp:${phone}` };
    expect(await post(url, params)).toBe(200);
    const r = await rig.recipient(key);
    expect(r).toMatchObject({ status: 'failed', errorCode: 21610 });
    expect(r.nextRetryAt).toBeUndefined();
    expect(await rig.contacts.suppression(TENANT, r.phone)).toMatchObject({
      reason: 'provider_error',
      detail: '21610',
    });
  });

  it('a 63014 whose suppression write is throttled is kept for a later try, and that try suppresses the number', async () => {
    const { key, phone, sid, url } = await claimedRecipient('9012');
    const kept: StoredCallback[] = [];
    const throttled = createStatusWebhookHandler({
      ledger: rig.ledger,
      followUps: rig.followUps,
      messageIndex: rig.messageIndex,
      contacts: new Proxy(rig.contacts, {
        get(target, property) {
          if (property === 'suppress')
            return async () => {
              throw new ProvisionedThroughputExceededException({
                message: 'The level of configured provisioned throughput for the table was exceeded.',
                $metadata: { httpStatusCode: 400 },
              });
            };
          const value = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }),
      backoffSeconds: [300],
      authToken: async () => rig.authToken,
      publicBaseUrl: () => rig.callbackBase,
      retries: { enqueue: async (callbacks) => void kept.push(...callbacks) },
      logger,
    });
    const params = { MessageSid: sid, MessageStatus: 'failed', ErrorCode: '63014', To: `whatsapp:${phone}` };
    const answer = (await throttled(callbackEvent(url, params))) as APIGatewayProxyStructuredResultV2;
    expect(answer.statusCode).toBe(200);
    expect(kept).toHaveLength(1);
    // Nothing moved yet: the retry's move still lies ahead, and the suppression with it.
    expect((await rig.recipient(key)).status).toBe('sending');
    expect(await rig.contacts.suppression(TENANT, phone)).toBeUndefined();

    // The callback retry queue's consumer (functions/retry-status-callbacks.ts) applies it again.
    const stored = kept[0] as StoredCallback;
    const deps = { ...rig, backoffSeconds: [300], logger };
    expect(
      await applyStatusCallback(deps, { params: stored.params, query: new URLSearchParams(stored.query) }),
    ).toBe('applied');
    expect(await rig.recipient(key)).toMatchObject({ status: 'failed', errorCode: 63014 });
    expect(await rig.contacts.suppression(TENANT, phone)).toMatchObject({
      reason: 'provider_error',
      detail: '63014',
    });
  });

  it("an opt-out code leaves a suppression already on the tenant's list as it is (an admin's, with its note), repeated or not", async () => {
    const { key, phone, sid, url } = await claimedRecipient('9013');
    const admin = {
      tenantId: TENANT,
      phone,
      reason: 'admin' as const,
      detail: 'asked by phone',
      createdAt: '2026-11-01T09:00:00.000Z',
    };
    await rig.contacts.suppress(admin);
    const params = { MessageSid: sid, MessageStatus: 'failed', ErrorCode: '63014', To: `whatsapp:${phone}` };
    expect(await post(url, params)).toBe(200);
    expect(await post(url, params)).toBe(200);
    expect(await rig.recipient(key)).toMatchObject({ status: 'failed', errorCode: 63014 });
    expect(await rig.contacts.suppression(TENANT, phone)).toMatchObject({
      reason: 'admin',
      detail: 'asked by phone',
      createdAt: admin.createdAt,
    });
  });

  it('an unknown MessageSid is answered 200 and changes nothing; nor does a callback of another attempt or SID', async () => {
    const { key, sid, url } = await claimedRecipient('9004');
    const unknown = `SM${'f'.repeat(32)}`;
    const bare = `${rig.callbackBase}/webhooks/twilio/status`;
    expect(await post(bare, { MessageSid: unknown, MessageStatus: 'read' })).toBe(200);
    expect(await post(url.replace('a=1', 'a=2'), { MessageSid: sid, MessageStatus: 'read' })).toBe(200);
    expect((await rig.recipient(key)).status).toBe('sending');
    // Its own SID is adopted by its first callback; another SID for the same attempt is not.
    expect(await post(url, { MessageSid: sid, MessageStatus: 'sent' })).toBe(200);
    expect(await post(url, { MessageSid: unknown, MessageStatus: 'read' })).toBe(200);
    expect(await rig.recipient(key)).toMatchObject({ status: 'sent', messageSid: sid });
  });

  it("a callback to the bare URL moves only the recipient whose recorded SID it names: attempt 1's `delivered` leaves attempt 2 undelivered", async () => {
    const { key, task, sid: first, url: firstUrl } = await claimedRecipient('9006');
    // A two-step broadcast's messages are indexed by SID (its taps name them); so is attempt 1's.
    await rig.messageIndex.index(first, { ...key, kind: 'template' });
    expect(await post(firstUrl, { MessageSid: first, MessageStatus: 'sent' })).toBe(200);
    expect(
      await post(firstUrl, { MessageSid: first, MessageStatus: 'undelivered', ErrorCode: '30003' }),
    ).toBe(200);
    // The retry job's attempt 2, sent and undelivered in its turn.
    expect(await rig.ledger.requeueForRetry(key, 1, new Date())).toMatchObject({ attempts: 2 });
    const retry = { ...task, attempt: 2 };
    expect((await rig.ledger.claim(retry, new Date(), new Date(Date.now() + 60_000))).claimed).toBe(true);
    const second = sidOf(++sequence);
    await rig.messageIndex.index(second, { ...key, kind: 'template' });
    const secondUrl = statusCallbackUrl(rig.callbackBase, retry);
    expect(await post(secondUrl, { MessageSid: second, MessageStatus: 'sent' })).toBe(200);
    expect(
      await post(secondUrl, { MessageSid: second, MessageStatus: 'undelivered', ErrorCode: '30003' }),
    ).toBe(200);
    expect(await rig.recipient(key)).toMatchObject({
      status: 'undelivered',
      attempts: 2,
      messageSid: second,
    });

    // Twilio (or a console-configured callback URL) reports attempt 1's message delivered, signed, no query.
    const bare = `${rig.callbackBase}/webhooks/twilio/status`;
    expect(await post(bare, { MessageSid: first, MessageStatus: 'delivered' })).toBe(200);
    expect(await rig.recipient(key)).toMatchObject({
      status: 'undelivered',
      attempts: 2,
      messageSid: second,
    });

    // The same report for attempt 2's own message is believed (a delivery receipt after a failure).
    expect(await post(bare, { MessageSid: second, MessageStatus: 'delivered' })).toBe(200);
    expect(await rig.recipient(key)).toMatchObject({ status: 'delivered', attempts: 2, messageSid: second });
  });
});
