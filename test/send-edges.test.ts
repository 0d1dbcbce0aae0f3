import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsTaskQueue } from '../functions/adapters/sqs-queues.ts';
import { TwilioMessenger, toProviderFailure } from '../functions/adapters/twilio-messenger.ts';
import { SECRET_NOT_SET, secretToToken } from '../functions/commons/config.ts';
import { isValidTwilioSignature, parseForm } from '../functions/commons/twilio-signature.ts';
import { parseSendTask, statusCallbackUrl } from '../functions/use-cases/send-task.ts';
import { callbackRefOf } from '../functions/use-cases/status-callback.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { startTestQueues, type TestQueues } from './support/sqs.ts';

/**
 * The send path's edges, each on its own: Twilio's signature (twilio-node's own vector), strict
 * parsing of what arrives (forms, send tasks, callback URLs), the messenger's one request per send,
 * and the SQS adapter's batches.
 */
const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
const AUTH_TOKEN = 'send-edges-token';
const CONTENT_SID = `HX${'e'.repeat(32)}`;

let queues: TestQueues;
beforeAll(async () => {
  queues = await startTestQueues();
}, 30_000);
afterAll(async () => {
  await queues?.stop();
});

describe('the send path at its edges', () => {
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
    const task = {
      tenantId: 't',
      broadcastId: 'b',
      index: 0,
      attempt: 1,
      phone: '+972501234567',
      variables: { '1': 'Dana' },
      chunk: 0,
      queuedAt: '2026-11-30T09:00:00.000Z',
    };
    expect(parseSendTask(JSON.stringify(task))).toEqual(task);
    // A task carries what to send: without the phone it cannot be sent, so it is not a task.
    expect(parseSendTask('{"tenantId":"t","broadcastId":"b","index":0,"attempt":1}')).toBeUndefined();
    expect(parseSendTask(JSON.stringify({ ...task, index: -1 }))).toBeUndefined();
    expect(parseSendTask(JSON.stringify({ ...task, attempt: 0 }))).toBeUndefined();
    expect(parseSendTask(JSON.stringify({ ...task, kind: 'sms' }))).toBeUndefined();
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
    expect(callbackRefOf(new URLSearchParams(''))).toBeUndefined();
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
    ).toMatchObject({ kind: 'timeout' });
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

  it('enqueues 25 tasks through fauxqs (SendMessageBatch takes 10), each once; a delayed task stays hidden for its delay', async () => {
    const { main } = await queues.queue('send-edges');
    const queue = new SqsTaskQueue<unknown>(queues.client, main.url);
    const tasks = Array.from({ length: 25 }, (_, index) => ({ tenantId: 't', broadcastId: 'b', index }));
    await queue.enqueue(tasks);
    const bodies = (await queues.drain(main.url)).map((m) => JSON.parse(m.Body ?? 'null'));
    expect(bodies).toHaveLength(25);
    expect(new Set(bodies.map((b) => b.index)).size).toBe(25);
    expect(bodies).toContainEqual({ tenantId: 't', broadcastId: 'b', index: 24 });

    const enqueuedAt = Date.now();
    await queue.enqueue([{ later: true }], { delaySeconds: 1 });
    expect(await queues.drain(main.url)).toEqual([]);
    const later = await waitFor(
      async () =>
        (
          await queues.client.send(
            new ReceiveMessageCommand({ QueueUrl: main.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
          )
        ).Messages?.[0],
      { timeoutMs: 5000, message: 'the delayed task never became visible' },
    );
    expect(JSON.parse(later.Body ?? 'null')).toEqual({ later: true });
    expect(Date.now() - enqueuedAt).toBeGreaterThanOrEqual(900);
  });
});
