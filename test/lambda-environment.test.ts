import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LambdaEnvironment, startLambdaEnvironment } from '../bench/lambda-environment.ts';
import { callbackParams } from '../lib/local/twilio-simulator/lifecycle.ts';
import { SAMPLE_TEMPLATES } from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from './support/api-twin.ts';

/**
 * The bench's Lambda environment (bench/lambda-environment.ts): the status webhook in a process of
 * its own, behind its own Function URL, with the twin's handler environment. The cost scenario takes
 * the webhook's billed duration from it, so it must be the real handler doing the real work: a signed
 * callback moves the twin's recipient, a forged one is refused, and every invocation is timed.
 */
const KEY = 'key-acme-lambda-env-0123456789';
let api: ApiTwin;
let environment: LambdaEnvironment | undefined;

beforeAll(async () => {
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${KEY}`, SIM_MPS: '1000', SENDER_MPS: '50' });
}, 60_000);

afterAll(async () => {
  await environment?.stop();
  await api?.stop();
});

describe('the status webhook in a Lambda environment of its own', () => {
  it('moves the twin’s recipients on signed callbacks, refuses a forged one, and times each invocation', async () => {
    // …0009 stays `sent` at the simulator: the callbacks below are the only ones after it.
    const phones = [testPhone('0009'), testPhone('0009')];
    const created = await api.call('POST', '/v1/broadcasts', {
      key: KEY,
      body: {
        name: 'lambda environment',
        template: { contentSid: SAMPLE_TEMPLATES.coopNotice.contentSid },
        recipients: phones,
      },
    });
    expect(created.status).toBe(202);
    const id = created.body.broadcastId as string;
    const statuses = async () => {
      const { body } = await api.call('GET', `/v1/broadcasts/${id}/recipients`, { key: KEY });
      return (body.items as Json[]).map((r) => r.status as string);
    };
    const all = async (status: string) => {
      const now = await statuses();
      return now.length === phones.length && now.every((s) => s === status) ? true : undefined;
    };
    await waitFor(() => all('sent'), {
      timeoutMs: 30_000,
      message: 'the recipients were not sent',
    });

    environment = await startLambdaEnvironment('twilioStatusWebhook');
    const simulator = api.twin.simulator;
    if (!simulator) throw new Error('no simulator');
    const post = async (url: string, params: Record<string, string>, signature: string) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params),
      });
      await res.arrayBuffer();
      return res.status;
    };
    const answers: number[] = [];
    const messages = phones.map((p) => simulator.messagesTo(`whatsapp:${p}`)[0]);
    for (const message of messages) {
      if (!message?.statusCallback) throw new Error('a message without its StatusCallback');
      const callback = new URL(message.statusCallback);
      const url = `${environment.url}${callback.pathname}${callback.search}`;
      const params = callbackParams({ ...message, status: 'delivered' });
      answers.push(
        await post(url, params, twilio.getExpectedTwilioSignature(simulator.authToken, url, params)),
      );
    }
    expect(answers).toEqual([200, 200]);
    await waitFor(() => all('delivered'), {
      timeoutMs: 10_000,
      message: 'the callbacks did not reach the twin’s ledger',
    });

    // Signed for another URL (the twin's own): the handler refuses it, as on AWS.
    const first = messages[0];
    if (!first?.statusCallback) throw new Error('no message');
    const callback = new URL(first.statusCallback);
    const params = callbackParams({ ...first, status: 'read' });
    const forged = twilio.getExpectedTwilioSignature(simulator.authToken, first.statusCallback, params);
    expect(await post(`${environment.url}${callback.pathname}${callback.search}`, params, forged)).toBe(403);

    const times = await environment.report();
    expect(times).toHaveLength(3);
    for (const t of times) {
      expect(t.ms).toBeGreaterThan(0);
      expect(t.cpuMs).toBeGreaterThan(0);
    }
    await environment.stop();
    await expect(fetch(`${environment.url}/webhooks/twilio/status`, { method: 'POST' })).rejects.toThrow();
    environment = undefined;
  }, 60_000);
});
