import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../functions/adapters/twilio-client.ts';
import { TwilioMessageDeletion } from '../functions/adapters/twilio-message-deletion.ts';
import {
  SAMPLE_TEMPLATES,
  startTwilioSimulator,
  type TwilioSimulator,
} from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';

/**
 * Deleting message records at Twilio (an erasure's last step): the adapter against the simulator,
 * and the simulator's DELETE as Twilio answers it, through the real twilio SDK too.
 */
const ACCOUNT_SID = `AC${'1'.repeat(32)}`;
const AUTH_TOKEN = 'deletion-test-token';
const FROM = 'whatsapp:+14155238886';

let dataDir: string;
let simulator: TwilioSimulator;
/** The product's inbound webhook, played by a server that takes every message. */
let webhook: Server;
let inboundUrl = '';

const start = () =>
  startTwilioSimulator({
    port: 0,
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    dataDir,
    latencyMs: 0,
    callbackDelayMs: 10,
    inboundUrl,
    log: () => {},
  });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'deletion-'));
  webhook = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/xml' }).end('<Response/>'));
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  inboundUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/webhooks/twilio/inbound`;
  simulator = await start();
});

afterAll(async () => {
  await simulator?.stop();
  await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
  await rm(dataDir, { recursive: true, force: true });
});

const client = () =>
  createTwilioClient({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBaseUrl: simulator.url });
const deletion = () =>
  new TwilioMessageDeletion({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBaseUrl: simulator.url });

async function send(to: string): Promise<string> {
  const message = await client().messages.create({
    to: `whatsapp:${to}`,
    from: FROM,
    contentSid: SAMPLE_TEMPLATES.coopNotice.contentSid,
  });
  return message.sid;
}

const statusOf = (sid: string) => simulator.messages().find((m) => m.sid === sid)?.status;

describe('deleting a message at Twilio', () => {
  it('deletes a final message (204), then answers not found; a message still sent is refused with 20009 and kept', async () => {
    const read = await send('+972501115001');
    const sent = await send('+972501110009');
    await waitFor(async () => (statusOf(read) === 'read' && statusOf(sent) === 'sent' ? true : undefined), {
      timeoutMs: 10_000,
      message: 'the messages did not reach read and sent',
    });

    expect(await deletion().delete(read)).toBe('deleted');
    expect(statusOf(read)).toBeUndefined();
    expect(await deletion().delete(read)).toBe('not_found');
    expect(await deletion().delete(sent)).toBe('not_final');
    expect(statusOf(sent)).toBe('sent');

    // The same answers through the twilio SDK: remove() true, and a RestException with code 20009.
    const other = await send('+972501115002');
    await waitFor(async () => (statusOf(other) === 'read' ? true : undefined), { timeoutMs: 10_000 });
    expect(await client().messages(other).remove()).toBe(true);
    await expect(client().messages(sent).remove()).rejects.toMatchObject({ code: 20009 });
  });

  it("deletes a contact's inbound message, and another account cannot delete this account's messages", async () => {
    // The person writes first (an inbound message needs no window).
    const wrote = await fetch(`${simulator.url}/_simulator/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: '+972501117003', body: 'my address is 12 Herzl St' }),
    });
    expect(wrote.status).toBe(200);
    const sid = simulator.inbound().at(-1)?.messageSid ?? '';
    expect(sid).toMatch(/^SM/);

    const stranger = new TwilioMessageDeletion({
      accountSid: `AC${'2'.repeat(32)}`,
      authToken: 'wrong',
      apiBaseUrl: simulator.url,
    });
    await expect(stranger.delete(sid)).rejects.toThrow(/HTTP 401 \(20003\)/);
    expect(await deletion().delete(sid)).toBe('deleted');
    expect(simulator.inbound().some((m) => m.messageSid === sid)).toBe(false);
  });

  it('a deleted message leaves the log file at once, and stays deleted across a restart', async () => {
    const sid = await send('+972501118004');
    await waitFor(async () => (statusOf(sid) === 'read' ? true : undefined), { timeoutMs: 10_000 });
    expect(await readFile(join(dataDir, 'twilio-simulator.jsonl'), 'utf8')).toContain('972501118004');
    expect(await deletion().delete(sid)).toBe('deleted');
    const log = await readFile(join(dataDir, 'twilio-simulator.jsonl'), 'utf8');
    expect(log).not.toContain('972501118004');
    expect(log).not.toContain(sid);
    // Still writing after the rewrite.
    const next = await send('+972501118005');
    await waitFor(async () => (statusOf(next) === 'read' ? true : undefined), { timeoutMs: 10_000 });
    expect(await readFile(join(dataDir, 'twilio-simulator.jsonl'), 'utf8')).toContain(next);
    await simulator.stop();
    simulator = await start();
    expect(statusOf(sid)).toBeUndefined();
    expect(await deletion().delete(sid)).toBe('not_found');
  });
});
