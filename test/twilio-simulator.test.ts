import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import twilio from 'twilio';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../functions/adapters/twilio-client.ts';
import { FaultInjector } from '../lib/local/faults/injector.ts';
import { parseFaultPlan } from '../lib/local/faults/spec.ts';
import {
  SAMPLE_TEMPLATES,
  startTwilioSimulator,
  type TwilioSimulator,
  type TwilioSimulatorOptions,
} from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';

const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
const AUTH_TOKEN = 'simulator-test-token';
const FROM = 'whatsapp:+14155238886';
// Approved templates (ContentSid) follow the last-four-digit table at any time; free-form Body only
// inside the contact's 24-hour window (see the inbound tests at the end). A ContentSid the simulator's
// account does not have is refused (twilio-simulator-content.test.ts): this is one of its samples.
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;

interface ReceivedCallback {
  url: string;
  signature: string;
  params: Record<string, string>;
}

// A stand-in for the product's status webhook: records every callback with the exact URL it was posted to.
let receiver: Server;
let receiverBase = '';
const received: ReceivedCallback[] = [];
const failedOnce = new Set<string>();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const callback = {
        url: `${receiverBase}${req.url}`,
        signature: String(req.headers['x-twilio-signature'] ?? ''),
        params: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
      };
      // `?flaky=1`: the first attempt of every callback fails, as a webhook that is briefly down.
      const attempt = `${callback.params.MessageSid}/${callback.params.MessageStatus}`;
      if (req.url?.includes('flaky=1') && !failedOnce.has(attempt)) {
        failedOnce.add(attempt);
        res.writeHead(503).end();
        return;
      }
      received.push(callback);
      res.writeHead(200, { 'Content-Type': 'text/xml' }).end('<Response/>');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

const statusCallback = () => `${receiverBase}/webhooks/twilio/status?r=abc&a=1`;
const callbacksFor = (sid: string) => received.filter((c) => c.params.MessageSid === sid);
const statusesFor = (sid: string) => callbacksFor(sid).map((c) => c.params.MessageStatus);

let numberSeq = 0;
/** A fresh destination ending in the given four digits. */
const phone = (lastFour: string) => `whatsapp:+1555${String(100 + numberSeq++).padStart(3, '0')}${lastFour}`;

const running: TwilioSimulator[] = [];
const dirs: string[] = [];
const logLines: string[] = [];

async function start(options: Partial<TwilioSimulatorOptions> = {}) {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'twilio-sim-')));
  dirs.push(dataDir);
  const sim = await startTwilioSimulator({
    port: 0,
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    latencyMs: 2,
    callbackDelayMs: 20,
    callbackRetryDelaysMs: [20, 50],
    mps: 1000,
    log: (line) => logLines.push(line),
    ...options,
    dataDir,
  });
  running.push(sim);
  return { sim, client: clientOf(sim), dataDir };
}

/** The product's Twilio client pointed at the simulator, with its own timeout if given. */
function clientOf(sim: TwilioSimulator, timeoutMs?: number) {
  return createTwilioClient({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    apiBaseUrl: sim.url,
    ...(timeoutMs ? { timeoutMs } : {}),
  });
}

async function stopAll() {
  await Promise.all(running.splice(0).map((sim) => sim.stop()));
}

afterEach(stopAll);
afterAll(async () => {
  await stopAll();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** The RestException the SDK throws, as a plain { status, code } pair. */
async function restError(promise: Promise<unknown>): Promise<{ status: number; code: number }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as { status: number; code: number },
  );
  if (!error) throw new Error('expected the call to fail');
  return { status: error.status, code: error.code };
}

describe('twilio simulator through the real twilio SDK', () => {
  it('creates, fetches and lists messages in Twilio shapes', async () => {
    const { sim, client } = await start();
    const to = phone('1234');
    const created = await client.messages.create({
      to,
      from: FROM,
      contentSid: CONTENT_SID,
      contentVariables: JSON.stringify({ 1: 'Dana' }),
    });
    expect(created.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(created).toMatchObject({
      accountSid: ACCOUNT_SID,
      to,
      from: FROM,
      status: 'queued',
      direction: 'outbound-api',
      errorCode: null,
      errorMessage: null,
      apiVersion: '2010-04-01',
      numSegments: '1',
    });
    expect(created.dateCreated).toBeInstanceOf(Date);
    expect(Number.isNaN(created.dateCreated.getTime())).toBe(false);

    const fetched = await client.messages(created.sid).fetch();
    expect(fetched.sid).toBe(created.sid);
    expect(fetched.to).toBe(to);

    const second = await client.messages.create({ to, from: FROM, body: 'hello' });
    const third = await client.messages.create({ to, from: FROM, body: 'again' });
    await client.messages.create({ to: phone('1235'), from: FROM, body: 'someone else' });

    // Newest first, filtered by To, across pages (the SDK follows next_page_uri).
    const all = await client.messages.list({ to, pageSize: 2 });
    expect(all.map((m) => m.sid)).toEqual([third.sid, second.sid, created.sid]);

    const recent = await client.messages.list({
      to,
      from: FROM,
      dateSentAfter: new Date(Date.now() - 60_000),
    });
    expect(recent).toHaveLength(3);
    // What the twin's tests poll: one destination's messages, oldest first, as copies.
    const mine = sim.messagesTo(to);
    expect(mine.map((m) => m.sid)).toEqual([created.sid, second.sid, third.sid]);
    mine[0]?.history.push({ status: 'failed', at: 'never' });
    expect(sim.messagesTo(to)[0]?.history.map((h) => h.status)).not.toContain('failed');
    expect(sim.messagesTo(phone('9999'))).toEqual([]);
    const future = await client.messages.list({ to, dateSentAfter: new Date(Date.now() + 60_000) });
    expect(future).toHaveLength(0);

    expect(await restError(client.messages(`SM${'f'.repeat(32)}`).fetch())).toEqual({
      status: 404,
      code: 20404,
    });
  });

  it('posts signed callbacks sent → delivered → read to the exact StatusCallback URL', async () => {
    const { sim, client } = await start();
    const to = phone('4321');
    const { sid } = await client.messages.create({
      to,
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: statusCallback(),
    });
    await waitFor(() => statusesFor(sid).length >= 3, { message: 'three callbacks' });
    expect(statusesFor(sid)).toEqual(['sent', 'delivered', 'read']);
    for (const callback of callbacksFor(sid)) {
      expect(callback.url).toBe(statusCallback());
      expect(twilio.validateRequest(AUTH_TOKEN, callback.signature, callback.url, callback.params)).toBe(
        true,
      );
      expect(callback.params).toMatchObject({
        MessageSid: sid,
        SmsSid: sid,
        SmsStatus: callback.params.MessageStatus,
        AccountSid: ACCOUNT_SID,
        From: FROM,
        To: to,
        ApiVersion: '2010-04-01',
        ChannelPrefix: 'whatsapp',
        ChannelToAddress: to.slice('whatsapp:'.length),
      });
      expect(callback.params.ErrorCode).toBeUndefined();
    }
    const first = callbacksFor(sid)[0] as ReceivedCallback;
    const tampered = { ...first.params, MessageStatus: 'failed' };
    expect(twilio.validateRequest(AUTH_TOKEN, first.signature, first.url, tampered)).toBe(false);
    expect(twilio.validateRequest('other-token', first.signature, first.url, first.params)).toBe(false);

    const stored = sim.messages().find((m) => m.sid === sid);
    expect(stored?.status).toBe('read');
    expect(stored?.history.map((h) => h.status)).toEqual(['queued', 'sent', 'delivered', 'read']);
    expect((await client.messages(sid).fetch()).status).toBe('read');
  });

  it('0001 ends undelivered with 30003 and 0002 ends failed with 63024', async () => {
    const { client } = await start();
    const undelivered = await client.messages.create({
      to: phone('0001'),
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: statusCallback(),
    });
    const failed = await client.messages.create({
      to: phone('0002'),
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: statusCallback(),
    });
    await waitFor(() => statusesFor(undelivered.sid).length >= 2 && statusesFor(failed.sid).length >= 2);

    expect(statusesFor(undelivered.sid)).toEqual(['sent', 'undelivered']);
    expect(callbacksFor(undelivered.sid)[1]?.params.ErrorCode).toBe('30003');
    expect(statusesFor(failed.sid)).toEqual(['sent', 'failed']);
    expect(callbacksFor(failed.sid)[1]?.params.ErrorCode).toBe('63024');
    for (const c of [...callbacksFor(undelivered.sid), ...callbacksFor(failed.sid)]) {
      expect(twilio.validateRequest(AUTH_TOKEN, c.signature, c.url, c.params)).toBe(true);
    }
    expect(await client.messages(undelivered.sid).fetch()).toMatchObject({
      status: 'undelivered',
      errorCode: 30003,
    });
    expect(await client.messages(failed.sid).fetch()).toMatchObject({ status: 'failed', errorCode: 63024 });
  });

  it('0003 answers 400/21211 and creates nothing', async () => {
    const { sim, client } = await start();
    const to = phone('0003');
    expect(await restError(client.messages.create({ to, from: FROM, contentSid: CONTENT_SID }))).toEqual({
      status: 400,
      code: 21211,
    });
    expect(await client.messages.list({ to })).toHaveLength(0);
    expect(sim.messages()).toHaveLength(0);
    expect(sim.messageCount()).toBe(0);
  });

  it('a number that unsubscribed (POST /_simulator/unsubscribe) answers 400/21610 to every create, creates nothing, and stays so across a restart, until the person writes START', async () => {
    const first = await start();
    const to = phone('4321');
    const control = (body: string) =>
      fetch(`${first.sim.url}/_simulator/unsubscribe`, { method: 'POST', body }).then(async (r) => ({
        status: r.status,
        body: await r.json(),
      }));
    expect((await control('{"to":"0501234567"}')).status).toBe(400);
    expect((await control('not json')).status).toBe(400);
    // Another method: 405, naming the one the route takes.
    const get = await fetch(`${first.sim.url}/_simulator/unsubscribe`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    const list = await fetch(`${first.sim.url}/_simulator/inbound`, { method: 'DELETE' });
    expect([list.status, list.headers.get('allow')]).toEqual([405, 'GET, HEAD, POST']);
    // Reading routes too: a DELETE of the messages clears nothing, and says so.
    const clear = await fetch(`${first.sim.url}/_simulator/messages`, { method: 'DELETE' });
    expect([clear.status, clear.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    expect((await fetch(`${first.sim.url}/_simulator/health`, { method: 'HEAD' })).status).toBe(200);
    for (const body of ['null', '[]'])
      expect(await control(body)).toEqual({
        status: 400,
        body: { error: 'The body must be a JSON object: { "to": "+…" }.' },
      });
    expect(await control(JSON.stringify({ to: to.slice('whatsapp:'.length) }))).toEqual({
      status: 200,
      body: { to, unsubscribed: true },
    });
    for (let i = 0; i < 2; i++)
      expect(
        await restError(first.client.messages.create({ to, from: FROM, contentSid: CONTENT_SID })),
      ).toEqual({
        status: 400,
        code: 21610,
      });
    expect(first.sim.messagesTo(to)).toHaveLength(0);
    // The person, not the digits: unsubscribed as +52 1 55…, refused as +52 55… too (one WhatsApp identity).
    first.sim.unsubscribe('+5215512344321');
    expect(
      await restError(
        first.client.messages.create({ to: 'whatsapp:+525512344321', from: FROM, contentSid: CONTENT_SID }),
      ),
    ).toEqual({ status: 400, code: 21610 });
    // Another number is not affected.
    expect(
      (await first.client.messages.create({ to: phone('4322'), from: FROM, contentSid: CONTENT_SID })).status,
    ).toBe('queued');
    await first.sim.stop();

    const second = await start({ dataDir: first.dataDir });
    expect(
      await restError(second.client.messages.create({ to, from: FROM, contentSid: CONTENT_SID })),
    ).toEqual({
      status: 400,
      code: 21610,
    });
    // Counted where npm start's banner and the health route say it: both people, kept from the first run.
    expect(second.sim.unsubscribedCount()).toBe(2);
    const health = await fetch(`${second.sim.url}/_simulator/health`).then((r) => r.json());
    expect(health).toMatchObject({ ok: true, unsubscribed: 2 });

    // The person writes START (Twilio's opt-in keyword, one word): sends to them are accepted again.
    // A sentence with it in is no keyword.
    const writes = (body: string) =>
      fetch(`${second.sim.url}/_simulator/inbound`, {
        method: 'POST',
        body: JSON.stringify({ from: to.slice('whatsapp:'.length), body }),
      });
    await writes('please start again');
    expect(second.sim.unsubscribedCount()).toBe(2);
    await writes(' Start ');
    expect(second.sim.unsubscribedCount()).toBe(1);
    expect((await second.client.messages.create({ to, from: FROM, contentSid: CONTENT_SID })).status).toBe(
      'queued',
    );
    await second.sim.stop();
    const third = await start({ dataDir: first.dataDir });
    expect(third.sim.unsubscribedCount()).toBe(1);
    expect((await third.client.messages.create({ to, from: FROM, contentSid: CONTENT_SID })).status).toBe(
      'queued',
    );
  });

  it('0004 answers 500/20500 although the message was created and walks its lifecycle', async () => {
    const { client } = await start();
    const to = phone('0004');
    expect(
      await restError(
        client.messages.create({ to, from: FROM, contentSid: CONTENT_SID, statusCallback: statusCallback() }),
      ),
    ).toEqual({ status: 500, code: 20500 });
    const found = await client.messages.list({ to, dateSentAfter: new Date(Date.now() - 60_000) });
    expect(found).toHaveLength(1);
    const sid = found[0]?.sid as string;
    await waitFor(() => statusesFor(sid).length >= 3);
    expect(statusesFor(sid)).toEqual(['sent', 'delivered', 'read']);
  });

  it('a create whose client gave up before the answer (its timeout) still walks its lifecycle', async () => {
    // Answers after 300 ms; this client waits 50 ms, as the product's does under a stalled event loop.
    const { sim } = await start({ latencyMs: 300 });
    const impatient = clientOf(sim, 50);
    const to = phone('4321');
    await expect(
      impatient.messages.create({
        to,
        from: FROM,
        contentSid: CONTENT_SID,
        statusCallback: statusCallback(),
      }),
    ).rejects.toThrow(/timeout/i);
    const created = await waitFor(() => sim.messagesTo(to)[0], { message: 'the message was not created' });
    await waitFor(() => statusesFor(created.sid).length >= 3, {
      message: 'the message created for a client that gave up never posted its callbacks',
    });
    expect(statusesFor(created.sid)).toEqual(['sent', 'delivered', 'read']);
    expect(sim.messagesTo(to)[0]?.status).toBe('read');
  });

  it('0005 answers 429/20429 on the first try only', async () => {
    const { client } = await start();
    const to = phone('0005');
    expect(await restError(client.messages.create({ to, from: FROM, contentSid: CONTENT_SID }))).toEqual({
      status: 429,
      code: 20429,
    });
    expect(await client.messages.list({ to })).toHaveLength(0);
    const retried = await client.messages.create({ to, from: FROM, contentSid: CONTENT_SID });
    expect(retried.status).toBe('queued');
    expect(await client.messages.list({ to })).toHaveLength(1);
  });

  it("answers Twilio's 400/21656 to ContentVariables WhatsApp refuses, and creates nothing", async () => {
    const { sim, client } = await start();
    const send = (variables: Record<string, unknown>) =>
      client.messages.create({
        to: phone('2121'),
        from: FROM,
        contentSid: CONTENT_SID,
        contentVariables: JSON.stringify(variables),
      });
    for (const refused of ['first line\nsecond line', 'a\tb', 'wide     gap', '', null])
      expect(await restError(send({ 1: 'Dana', 2: refused }))).toEqual({ status: 400, code: 21656 });
    expect(sim.messages()).toHaveLength(0);
    expect(logLines.some((line) => line.includes('ContentVariables "2" contains a tab'))).toBe(true);

    expect((await send({ 1: 'Dana', 2: 'wide    gap' })).status).toBe('queued');
    expect(sim.messages()).toHaveLength(1);
    expect(sim.messageCount()).toBe(1);
  });

  it('accepts a parameter over 1,024 characters, then fails it with 63021 as WhatsApp does', async () => {
    const { client } = await start();
    const long = await client.messages.create({
      to: phone('2122'),
      from: FROM,
      contentSid: CONTENT_SID,
      contentVariables: JSON.stringify({ 1: 'x'.repeat(1025) }),
      statusCallback: statusCallback(),
    });
    expect(long.status).toBe('queued');
    await waitFor(() => statusesFor(long.sid).length >= 1, { message: 'the failed callback' });
    expect(statusesFor(long.sid)).toEqual(['failed']);
    expect(callbacksFor(long.sid)[0]?.params.ErrorCode).toBe('63021');
    expect(await client.messages(long.sid).fetch()).toMatchObject({ status: 'failed', errorCode: 63021 });

    const atLimit = await client.messages.create({
      to: phone('2123'),
      from: FROM,
      contentSid: CONTENT_SID,
      contentVariables: JSON.stringify({ 1: 'x'.repeat(1024) }),
      statusCallback: statusCallback(),
    });
    await waitFor(() => statusesFor(atLimit.sid).includes('read'), { message: 'the 1,024 one read' });
  });

  it('0009 is sent and never delivered', async () => {
    const { sim, client } = await start();
    const stuck = await client.messages.create({
      to: phone('0009'),
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: statusCallback(),
    });
    const normal = await client.messages.create({
      to: phone('7777'),
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: statusCallback(),
    });
    // By the time a message created after it has been read, the 0009 one has long finished its lifecycle.
    await waitFor(() => statusesFor(normal.sid).includes('read'));
    expect(statusesFor(stuck.sid)).toEqual(['sent']);
    const stored = sim.messages().find((m) => m.sid === stuck.sid);
    expect(stored).toMatchObject({ status: 'sent', pendingSteps: [] });
  });

  it('a Messaging Service send starts accepted and reports queued first', async () => {
    const { client } = await start();
    const message = await client.messages.create({
      to: phone('2468'),
      messagingServiceSid: `MG${'1'.repeat(32)}`,
      contentSid: CONTENT_SID,
      statusCallback: statusCallback(),
    });
    expect(message.status).toBe('accepted');
    expect(message.messagingServiceSid).toBe(`MG${'1'.repeat(32)}`);
    await waitFor(() => statusesFor(message.sid).length >= 4);
    expect(statusesFor(message.sid)).toEqual(['queued', 'sent', 'delivered', 'read']);
    expect(callbacksFor(message.sid)[0]?.params.MessagingServiceSid).toBe(`MG${'1'.repeat(32)}`);
  });

  it('rejects wrong credentials with 401/20003 and missing parameters with 400', async () => {
    const { sim } = await start();
    const wrong = createTwilioClient({ accountSid: ACCOUNT_SID, authToken: 'wrong', apiBaseUrl: sim.url });
    expect(
      await restError(wrong.messages.create({ to: phone('1111'), from: FROM, contentSid: CONTENT_SID })),
    ).toEqual({
      status: 401,
      code: 20003,
    });
    expect(await restError(wrong.messages.list({ limit: 1 }))).toEqual({ status: 401, code: 20003 });
    const anonymous = await fetch(`${sim.url}/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
    expect(anonymous.status).toBe(401);

    const post = async (form: Record<string, string>) => {
      const res = await fetch(`${sim.url}/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`, {
        method: 'POST',
        headers: { Authorization: `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}` },
        body: new URLSearchParams(form),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const noTo = await post({ From: FROM, Body: 'x' });
    expect(noTo.status).toBe(400);
    expect(noTo.body).toMatchObject({
      code: 21604,
      status: 400,
      more_info: 'https://www.twilio.com/docs/errors/21604',
    });
    expect((await post({ To: phone('1111'), Body: 'x' })).body.code).toBe(21603);
    expect((await post({ To: phone('1111'), From: FROM })).body.code).toBe(21602);
    expect(
      (await post({ To: phone('1111'), From: FROM, ContentSid: CONTENT_SID, ContentVariables: '{' })).body
        .code,
    ).toBe(21656);
    expect(sim.messages()).toHaveLength(0);
  });

  it('answers 429/20429 over mps for one sender, within the rolling second', async () => {
    const { sim, client } = await start({ mps: 5 });
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        client.messages.create({ to: phone(String(5000 + i)), from: FROM, contentSid: CONTENT_SID }),
      ),
    );
    const accepted = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.flatMap((r) =>
      r.status === 'rejected' ? [r.reason as { status: number; code: number }] : [],
    );
    expect(accepted).toHaveLength(5);
    expect(rejected).toHaveLength(7);
    for (const error of rejected)
      expect({ status: error.status, code: error.code }).toEqual({ status: 429, code: 20429 });
    expect(sim.messages()).toHaveLength(5);
    // The limit is per sender.
    const other = await client.messages.create({
      to: phone('6000'),
      from: 'whatsapp:+14155550000',
      contentSid: CONTENT_SID,
    });
    expect(other.status).toBe('queued');
  });

  it('keeps its message log, unfinished lifecycles and 0005 memory across a restart', async () => {
    // Slow steps, so the lifecycle is unfinished when the simulator stops.
    const first = await start({ callbackDelayMs: 60_000 });
    const to = phone('3333');
    const { sid } = await first.client.messages.create({
      to,
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: statusCallback(),
    });
    const retryLater = phone('0005');
    expect(
      (await restError(first.client.messages.create({ to: retryLater, from: FROM, contentSid: CONTENT_SID })))
        .status,
    ).toBe(429);
    await first.sim.stop();
    expect(statusesFor(sid)).toEqual([]);

    const second = await start({ dataDir: first.dataDir });
    expect(second.sim.messages().map((m) => m.sid)).toEqual([sid]);
    expect((await second.client.messages(sid).fetch()).to).toBe(to);
    await waitFor(() => statusesFor(sid).length >= 3, { message: 'resumed callbacks' });
    expect(statusesFor(sid)).toEqual(['sent', 'delivered', 'read']);
    expect(
      (await second.client.messages.create({ to: retryLater, from: FROM, contentSid: CONTENT_SID })).status,
    ).toBe('queued');
    await second.sim.stop();

    const third = await start({ dataDir: first.dataDir });
    const restored = third.sim.messages();
    expect(restored).toHaveLength(2);
    expect(restored.find((m) => m.sid === sid)).toMatchObject({ status: 'read', pendingSteps: [] });
    expect(statusesFor(sid)).toHaveLength(3);
  });

  it('retries a failed callback POST, then gives up and logs it', async () => {
    const { client } = await start();
    const flaky = await client.messages.create({
      to: phone('1357'),
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: `${receiverBase}/webhooks/twilio/status?flaky=1`,
    });
    await waitFor(() => statusesFor(flaky.sid).length >= 3, { message: 'retried callbacks' });
    expect(statusesFor(flaky.sid)).toEqual(['sent', 'delivered', 'read']);
    expect(failedOnce.has(`${flaky.sid}/sent`)).toBe(true);

    // Nothing listens on port 9 (discard): connection refused on every attempt.
    const lost = await client.messages.create({
      to: phone('0009'),
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: 'http://127.0.0.1:9/status',
    });
    await waitFor(() => logLines.some((line) => line.includes(`gave up on sent callback for ${lost.sid}`)), {
      message: 'gave-up log line',
    });
  });

  it('serves a debug surface without auth, and never logs full phone numbers', async () => {
    const { sim, client } = await start();
    const to = phone('0003');
    await restError(client.messages.create({ to, from: FROM, contentSid: CONTENT_SID }));
    const created = await client.messages.create({ to: phone('8888'), from: FROM, contentSid: CONTENT_SID });
    const health = await fetch(`${sim.url}/_simulator/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, messages: 1 });
    const list = (await (await fetch(`${sim.url}/_simulator/messages`)).json()) as { sid: string }[];
    expect(list.map((m) => m.sid)).toEqual([created.sid]);

    const digits = to.replace(/\D/g, '');
    expect(logLines.some((line) => line.includes(`*${digits.slice(-4)}`))).toBe(true);
    expect(logLines.filter((line) => line.includes(digits))).toEqual([]);
  });
});

/** A FaultInjector for a TWIN_FAULTS spec, as the twin builds it. */
const faultsFor = (spec: string) => new FaultInjector(parseFaultPlan(spec, '11'));

/** A create as any HTTP client makes it, with no timeout: how long the answer took, and what it was. */
async function rawCreate(sim: TwilioSimulator, to: string) {
  const started = Date.now();
  const res = await fetch(`${sim.url}/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      To: to,
      From: FROM,
      ContentSid: CONTENT_SID,
      StatusCallback: statusCallback(),
    }),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    ms: Date.now() - started,
  };
}

describe('TWIN_FAULTS in the simulator (twilio.*)', () => {
  it('twilio.timeout creates the message, starts its callbacks, and answers only after the hold', async () => {
    const faults = faultsFor('twilio.timeout=1');
    const { sim } = await start({ faults, timeoutHoldMs: 1500 });
    const to = phone('2468');
    const answer = await rawCreate(sim, to);
    expect(answer.status).toBe(201);
    expect(answer.ms).toBeGreaterThanOrEqual(1500);
    const sid = answer.body.sid as string;
    // The message lived on while its answer was held: its callbacks had started before the answer came.
    expect(statusesFor(sid)).toContain('sent');
    await waitFor(() => statusesFor(sid).length >= 3, { message: 'callbacks of the held message' });
    expect(statusesFor(sid)).toEqual(['sent', 'delivered', 'read']);

    // A client with a shorter timeout than the hold gives up: an ambiguous outcome, the message exists.
    const impatient = clientOf(sim, 300);
    const other = phone('1357');
    const error = await impatient.messages.create({ to: other, from: FROM, contentSid: CONTENT_SID }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; status?: number },
    );
    expect(error?.status).toBeUndefined();
    expect(error?.code).toBe('ECONNABORTED');
    expect(sim.messages().filter((m) => m.to === other)).toHaveLength(1);
    expect(faults.injected()).toEqual({ 'twilio.timeout': 2 });
  });

  it('twilio.429 and twilio.503 refuse the create and create nothing; twilio.500 answers 500 although created', async () => {
    for (const [spec, status, code] of [
      ['twilio.429=1', 429, 20429],
      ['twilio.503=1', 503, 20503],
    ] as const) {
      const { sim, client } = await start({ faults: faultsFor(spec) });
      const to = phone('1111');
      expect(await restError(client.messages.create({ to, from: FROM, contentSid: CONTENT_SID }))).toEqual({
        status,
        code,
      });
      expect(sim.messages()).toHaveLength(0);
    }
    const faults = faultsFor('twilio.500=1');
    const { sim } = await start({ faults });
    const to = phone('2222');
    const answer = await rawCreate(sim, to);
    expect(answer).toMatchObject({
      status: 500,
      body: { code: 20500, status: 500, more_info: 'https://www.twilio.com/docs/errors/20500' },
    });
    const sid = sim.messages().find((m) => m.to === to)?.sid ?? 'none';
    expect(sid).toMatch(/^SM/);
    await waitFor(() => statusesFor(sid).length >= 3, { message: 'callbacks after the 500' });
    expect(faults.injected()).toEqual({ 'twilio.500': 1 });
  });

  it('twilio.callbackDrop never posts a status callback; the status changes all the same', async () => {
    const faults = faultsFor('twilio.callbackDrop=1');
    const { sim, client } = await start({ faults });
    const { sid } = await client.messages.create({
      to: phone('3333'),
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: statusCallback(),
    });
    await waitFor(
      async () =>
        ((await (await fetch(`${sim.url}/_simulator/health`)).json()) as { pendingSteps: number })
          .pendingSteps === 0,
      {
        message: 'lifecycle not finished',
      },
    );
    expect((await client.messages(sid).fetch()).status).toBe('read');
    expect(callbacksFor(sid)).toEqual([]);
    expect(faults.injected()).toEqual({ 'twilio.callbackDrop': 3 });
  });

  it('twilio.callbackDuplicate posts each status callback twice, identical and signed', async () => {
    const { client } = await start({ faults: faultsFor('twilio.callbackDuplicate=1') });
    const { sid } = await client.messages.create({
      to: phone('4444'),
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: statusCallback(),
    });
    await waitFor(() => statusesFor(sid).length >= 6, { message: 'six callbacks' });
    expect(statusesFor(sid)).toEqual(['sent', 'sent', 'delivered', 'delivered', 'read', 'read']);
    const [first, second] = callbacksFor(sid);
    expect(second).toEqual(first);
    for (const c of callbacksFor(sid))
      expect(twilio.validateRequest(AUTH_TOKEN, c.signature, c.url, c.params)).toBe(true);
  });

  it('stop() answers a held create at once instead of waiting out the hold', async () => {
    const { sim } = await start({ faults: faultsFor('twilio.timeout=1'), timeoutHoldMs: 60_000 });
    const pending = rawCreate(sim, phone('5555'));
    await waitFor(() => sim.messages().length === 1, { message: 'message not created' });
    const started = Date.now();
    await stopAll();
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await pending).status).toBe(201);
  });
});

const inboundUrl = () => `${receiverBase}/webhooks/twilio/inbound?tenant=t1`;
const inboundPosts = (messageSid: unknown) =>
  received.filter((c) => c.url === inboundUrl() && c.params.MessageSid === messageSid);
/** The contact's number as a developer would type it (no `whatsapp:` prefix). */
const bare = (to: string) => to.slice('whatsapp:'.length);

/** A control route call: plain JSON, no auth. */
async function control(sim: TwilioSimulator, path: string, body?: unknown) {
  const res = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A free-form message with its status callbacks; resolves once its lifecycle has reached a final status. */
async function sendFreeForm(
  client: ReturnType<typeof createTwilioClient>,
  to: string,
  extra: { from?: string; messagingServiceSid?: string } = { from: FROM },
) {
  const message = await client.messages.create({
    to,
    body: 'Here is the full text',
    statusCallback: statusCallback(),
    ...extra,
  });
  expect(message.status).toBe(extra.messagingServiceSid ? 'accepted' : 'queued');
  await waitFor(() => statusesFor(message.sid).some((s) => s === 'read' || s === 'failed'), {
    message: `final callback for ${message.sid}`,
  });
  return { sid: message.sid, statuses: statusesFor(message.sid), last: callbacksFor(message.sid).at(-1) };
}

describe('inbound messages and the 24-hour window', () => {
  it('a tap posts a signed quick-reply form to the exact inboundUrl', async () => {
    const { sim, client } = await start({ inboundUrl: inboundUrl() });
    const to = phone('4242');
    const sent = await client.messages.create({ to, from: FROM, contentSid: CONTENT_SID });

    const tap = await control(sim, `/_simulator/messages/${sent.sid}/tap`);
    expect(tap).toEqual({
      status: 200,
      body: {
        messageSid: expect.stringMatching(/^SM[0-9a-f]{32}$/),
        webhookStatus: 200,
        webhookBody: '<Response/>',
      },
    });
    // The control answers after the POST completed: the webhook already has it.
    const posts = inboundPosts(tap.body.messageSid);
    expect(posts).toHaveLength(1);
    const post = posts[0] as ReceivedCallback;
    expect(post.url).toBe(inboundUrl());
    expect(twilio.validateRequest(AUTH_TOKEN, post.signature, post.url, post.params)).toBe(true);
    expect(
      twilio.validateRequest(AUTH_TOKEN, post.signature, post.url, { ...post.params, ButtonPayload: 'x' }),
    ).toBe(false);
    const messageSid = tap.body.messageSid as string;
    expect(post.params).toMatchObject({
      MessageSid: messageSid,
      SmsMessageSid: messageSid,
      SmsSid: messageSid,
      AccountSid: ACCOUNT_SID,
      From: to,
      To: FROM,
      Body: 'Read more',
      ButtonText: 'Read more',
      ButtonPayload: 'read_broadcast',
      OriginalRepliedMessageSid: sent.sid,
      MessageType: 'button',
      WaId: to.replace(/\D/g, ''),
      ProfileName: 'Simulated contact',
      NumMedia: '0',
      NumSegments: '1',
      ApiVersion: '2010-04-01',
    });
    expect(post.params.MessagingServiceSid).toBeUndefined();

    // Own payload and text; a Messaging Service message carries its MessagingServiceSid, from the default sender.
    const viaService = await client.messages.create({
      to,
      messagingServiceSid: `MG${'2'.repeat(32)}`,
      contentSid: CONTENT_SID,
    });
    const custom = await control(sim, `/_simulator/messages/${viaService.sid}/tap`, {
      payload: 'stop_broadcasts',
      text: 'Stop',
    });
    expect(custom.status).toBe(200);
    expect(inboundPosts(custom.body.messageSid)[0]?.params).toMatchObject({
      From: to,
      To: FROM,
      Body: 'Stop',
      ButtonText: 'Stop',
      ButtonPayload: 'stop_broadcasts',
      OriginalRepliedMessageSid: viaService.sid,
      MessagingServiceSid: `MG${'2'.repeat(32)}`,
    });

    const listed = (await (await fetch(`${sim.url}/_simulator/inbound`)).json()) as { messageSid: string }[];
    expect(listed.map((i) => i.messageSid)).toEqual([messageSid, custom.body.messageSid]);
    expect(sim.inbound()).toMatchObject([
      {
        messageSid,
        from: to,
        to: FROM,
        type: 'button',
        buttonPayload: 'read_broadcast',
        repliedTo: sent.sid,
      },
      { messageSid: custom.body.messageSid, buttonPayload: 'stop_broadcasts', repliedTo: viaService.sid },
    ]);
    const digits = to.replace(/\D/g, '');
    expect(logLines.some((line) => line.includes(`inbound button ${messageSid}`))).toBe(true);
    expect(logLines.filter((line) => line.includes(digits))).toEqual([]);
  });

  it('a repeated messageSid redelivers the same webhook', async () => {
    const { sim, client } = await start({ inboundUrl: inboundUrl() });
    const sent = await client.messages.create({ to: phone('4343'), from: FROM, contentSid: CONTENT_SID });
    const messageSid = `SM${'ab'.repeat(16)}`;
    const first = await control(sim, `/_simulator/messages/${sent.sid}/tap`, { messageSid });
    const again = await control(sim, `/_simulator/messages/${sent.sid}/tap`, { messageSid });
    expect(first.body).toMatchObject({ messageSid, webhookStatus: 200 });
    expect(again.body).toMatchObject({ messageSid, webhookStatus: 200, redelivered: true });
    const posts = inboundPosts(messageSid);
    expect(posts).toHaveLength(2);
    expect(posts[1]?.params).toEqual(posts[0]?.params);
    expect(posts[1]?.signature).toBe(posts[0]?.signature);
    expect(sim.inbound()).toHaveLength(1);
  });

  it('taps and writes from another form of the same WhatsApp user (+52 1 for +52), as Twilio reports it', async () => {
    const { sim, client } = await start({ inboundUrl: inboundUrl() });
    const sent = await client.messages.create({
      to: 'whatsapp:+525512344545',
      from: FROM,
      contentSid: CONTENT_SID,
    });
    const tap = await control(sim, `/_simulator/messages/${sent.sid}/tap`, { from: '+5215512344545' });
    expect(tap.status).toBe(200);
    expect(inboundPosts(tap.body.messageSid)[0]?.params).toMatchObject({
      From: 'whatsapp:+5215512344545',
      WaId: '5215512344545',
      OriginalRepliedMessageSid: sent.sid,
    });
    const reply = await control(sim, '/_simulator/inbound', {
      from: '+5215512344545',
      body: 'STOP',
      repliedTo: sent.sid,
    });
    expect(reply.status).toBe(200);
    // The tap opened the 24-hour window for the number we send to (WhatsApp keeps it per user).
    expect((await sendFreeForm(client, 'whatsapp:+525512344545')).statuses).toEqual([
      'sent',
      'delivered',
      'read',
    ]);

    // Another person is refused.
    const stranger = await control(sim, `/_simulator/messages/${sent.sid}/tap`, { from: '+5215512344546' });
    expect(stranger.status).toBe(400);
    expect(stranger.body.error).toEqual(expect.stringContaining('"from"'));
    const otherReply = await control(sim, '/_simulator/inbound', {
      from: '+525512344546',
      body: 'hi',
      repliedTo: sent.sid,
    });
    expect(otherReply.status).toBe(400);
  });

  it('answers 404 for an unknown sid, 400 for bad input, 409 without inboundUrl, 502 when unreachable', async () => {
    const { sim } = await start({ inboundUrl: inboundUrl() });
    const unknown = await control(sim, `/_simulator/messages/SM${'f'.repeat(32)}/tap`, {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual(expect.stringContaining(`SM${'f'.repeat(32)}`));

    const noFrom = await control(sim, '/_simulator/inbound', { body: 'STOP' });
    expect(noFrom.status).toBe(400);
    expect(noFrom.body.error).toEqual(expect.stringContaining('"from" is required'));
    const badFrom = await control(sim, '/_simulator/inbound', { from: 'dana', body: 'STOP' });
    expect(badFrom.status).toBe(400);
    expect(badFrom.body.error).toEqual(expect.stringContaining('phone number'));
    expect((await control(sim, '/_simulator/inbound', { from: '+972501234567' })).status).toBe(400);
    const notJson = await fetch(`${sim.url}/_simulator/inbound`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    expect(sim.inbound()).toHaveLength(0);

    const bare409 = await start();
    const sent = await bare409.client.messages.create({
      to: phone('4444'),
      from: FROM,
      contentSid: CONTENT_SID,
    });
    for (const answer of [
      await control(bare409.sim, `/_simulator/messages/${sent.sid}/tap`),
      await control(bare409.sim, '/_simulator/inbound', { from: '+972501234567', body: 'hi' }),
    ]) {
      expect(answer.status).toBe(409);
      expect(answer.body.error).toEqual(expect.stringContaining('inboundUrl'));
    }

    // Nothing listens on port 9: one attempt, no retry, 502 with the reason.
    const down = await start({ inboundUrl: 'http://127.0.0.1:9/webhooks/twilio/inbound' });
    const unreachable = await control(down.sim, '/_simulator/inbound', { from: '+972501234567', body: 'hi' });
    expect(unreachable.status).toBe(502);
    expect(unreachable.body.error).toEqual(expect.stringContaining('unreachable'));
  });

  it('a free-form inbound text posts MessageType text', async () => {
    const { sim } = await start({ inboundUrl: inboundUrl() });
    const answer = await control(sim, '/_simulator/inbound', { from: '+972501234567', body: 'STOP' });
    expect(answer.status).toBe(200);
    const post = inboundPosts(answer.body.messageSid)[0] as ReceivedCallback;
    expect(twilio.validateRequest(AUTH_TOKEN, post.signature, post.url, post.params)).toBe(true);
    expect(post.params).toMatchObject({
      From: 'whatsapp:+972501234567',
      To: FROM,
      Body: 'STOP',
      MessageType: 'text',
      WaId: '972501234567',
    });
    expect(post.params.ButtonPayload).toBeUndefined();
    expect(post.params.OriginalRepliedMessageSid).toBeUndefined();
  });

  it('free-form Body fails with 63016 unless the contact wrote within 24 hours', async () => {
    let clock = Date.parse('2026-05-05T09:00:00Z');
    const { sim, client } = await start({ inboundUrl: inboundUrl(), now: () => new Date(clock) });
    const to = phone('5151');

    const cold = await sendFreeForm(client, to);
    expect(cold.statuses).toEqual(['failed']);
    expect(cold.last?.params).toMatchObject({ MessageStatus: 'failed', ErrorCode: '63016' });
    expect(
      twilio.validateRequest(
        AUTH_TOKEN,
        cold.last?.signature ?? '',
        cold.last?.url ?? '',
        cold.last?.params ?? {},
      ),
    ).toBe(true);
    expect(await client.messages(cold.sid).fetch()).toMatchObject({ status: 'failed', errorCode: 63016 });
    // Templates are not held to the window.
    const template = await client.messages.create({
      to,
      from: FROM,
      contentSid: CONTENT_SID,
      statusCallback: statusCallback(),
    });
    await waitFor(() => statusesFor(template.sid).includes('read'));

    expect((await control(sim, '/_simulator/inbound', { from: bare(to), body: 'hi' })).status).toBe(200);
    expect((await sendFreeForm(client, to)).statuses).toEqual(['sent', 'delivered', 'read']);
    // Through a Messaging Service the sender is the default one, to which the contact wrote.
    expect((await sendFreeForm(client, to, { messagingServiceSid: `MG${'3'.repeat(32)}` })).statuses).toEqual(
      ['queued', 'sent', 'delivered', 'read'],
    );
    // The window is per sender.
    expect((await sendFreeForm(client, to, { from: 'whatsapp:+14155550000' })).statuses).toEqual(['failed']);

    clock += 24 * 3600_000 - 1000;
    expect((await sendFreeForm(client, to)).statuses).toEqual(['sent', 'delivered', 'read']);
    clock += 2000; // 24 h + 1 s after the contact wrote
    const closed = await sendFreeForm(client, to);
    expect(closed.statuses).toEqual(['failed']);
    expect(closed.last?.params.ErrorCode).toBe('63016');

    // A tap opens it again.
    const sent = await client.messages.create({ to, from: FROM, contentSid: CONTENT_SID });
    expect((await control(sim, `/_simulator/messages/${sent.sid}/tap`)).status).toBe(200);
    expect((await sendFreeForm(client, to)).statuses).toEqual(['sent', 'delivered', 'read']);
    expect(logLines.some((line) => line.includes('outside the 24-hour window'))).toBe(true);
  });

  it('keeps inbound messages, and so the window, across a restart', async () => {
    const first = await start({ inboundUrl: inboundUrl() });
    const to = phone('6161');
    const wrote = await control(first.sim, '/_simulator/inbound', { from: to, body: 'hello' });
    expect(wrote.status).toBe(200);
    await first.sim.stop();

    const second = await start({ inboundUrl: inboundUrl(), dataDir: first.dataDir });
    const listed = (await (await fetch(`${second.sim.url}/_simulator/inbound`)).json()) as Record<
      string,
      unknown
    >[];
    expect(listed).toMatchObject([
      { messageSid: wrote.body.messageSid, from: to, to: FROM, body: 'hello', type: 'text' },
    ]);
    expect(second.sim.inbound()).toEqual(listed);
    expect((await sendFreeForm(second.client, to)).statuses).toEqual(['sent', 'delivered', 'read']);
    // Redelivery still works after the restart (same form).
    const again = await control(second.sim, '/_simulator/inbound', {
      from: to,
      body: 'hello',
      messageSid: wrote.body.messageSid,
    });
    expect(again.body).toMatchObject({ messageSid: wrote.body.messageSid, redelivered: true });
    expect(inboundPosts(wrote.body.messageSid).map((p) => p.params)).toEqual([
      listed[0]?.params,
      listed[0]?.params,
    ]);
  });
});
