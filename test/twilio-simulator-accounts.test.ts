import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTwilioSender } from '../functions/adapters/twilio-account-check.ts';
import { createTwilioClient } from '../functions/adapters/twilio-client.ts';
import {
  SAMPLE_TEMPLATES,
  startTwilioSimulator,
  type TwilioSimulator,
} from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';

/** The simulator's subaccounts: made as Twilio makes them, each authenticating and signing with its own token. */

const MAIN = { sid: `AC${'0'.repeat(32)}`, token: 'main-account-token' };
const basic = (sid: string, token: string) => `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;

let simulator: TwilioSimulator;
let dataDir: string;
let receiver: Server;
let receiverUrl = '';
const callbacks: { url: string; signature: string; params: Record<string, string> }[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sim-accounts-'));
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      callbacks.push({
        url: `${receiverUrl}${req.url}`,
        signature: String(req.headers['x-twilio-signature'] ?? ''),
        params: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
      });
      res.writeHead(200).end('<Response/>');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  simulator = await startTwilioSimulator({
    port: 0,
    accountSid: MAIN.sid,
    authToken: MAIN.token,
    latencyMs: 1,
    callbackDelayMs: 20,
    dataDir,
    log: () => {},
  });
}, 30_000);

afterAll(async () => {
  await simulator?.stop();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  await rm(dataDir, { recursive: true, force: true });
});

async function createSubaccount(auth: string): Promise<Response> {
  return fetch(`${simulator.url}/2010-04-01/Accounts.json`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'FriendlyName=Tenant',
  });
}

describe('simulator subaccounts', () => {
  it("makes a subaccount with the main account's credentials only; each account reaches its own resources", async () => {
    const made = await createSubaccount(basic(MAIN.sid, MAIN.token));
    expect(made.status).toBe(201);
    const sub = (await made.json()) as { sid: string; auth_token: string; owner_account_sid: string };
    expect(sub.sid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(sub.owner_account_sid).toBe(MAIN.sid);
    // A subaccount cannot make accounts; a wrong token is 401.
    expect((await createSubaccount(basic(sub.sid, sub.auth_token))).status).toBe(405);
    expect((await createSubaccount(basic(MAIN.sid, 'wrong'))).status).toBe(401);

    // The settings route's check: the right token passes, another account's token does not.
    const base = { accountSid: sub.sid, apiBaseUrl: simulator.url };
    expect(await checkTwilioSender({ ...base, authToken: sub.auth_token })).toEqual({ ok: true });
    expect(await checkTwilioSender({ ...base, authToken: MAIN.token })).toMatchObject({
      ok: false,
      problem: 'credentials',
    });
    expect(
      await checkTwilioSender({
        ...base,
        authToken: sub.auth_token,
        messagingServiceSid: `MG${'1'.repeat(32)}`,
      }),
    ).toEqual({ ok: true });

    // A message sent on the subaccount is the subaccount's: its callbacks are signed with the subaccount's token.
    const client = createTwilioClient({
      accountSid: sub.sid,
      authToken: sub.auth_token,
      apiBaseUrl: simulator.url,
    });
    const message = await client.messages.create({
      to: 'whatsapp:+972501234567',
      from: 'whatsapp:+15550009999',
      contentSid: SAMPLE_TEMPLATES.coopNotice.contentSid,
      statusCallback: `${receiverUrl}/status`,
    });
    expect(message.accountSid).toBe(sub.sid);
    const callback = await waitFor(async () => callbacks.find((c) => c.params.MessageSid === message.sid), {
      timeoutMs: 10_000,
    });
    expect(callback.params.AccountSid).toBe(sub.sid);
    expect(twilio.validateRequest(sub.auth_token, callback.signature, callback.url, callback.params)).toBe(
      true,
    );
    expect(twilio.validateRequest(MAIN.token, callback.signature, callback.url, callback.params)).toBe(false);

    // The subaccount's credentials do not reach the main account's messages; the main account's reach the subaccount's.
    const mainClient = createTwilioClient({
      accountSid: MAIN.sid,
      authToken: MAIN.token,
      apiBaseUrl: simulator.url,
    });
    await expect(client.api.v2010.accounts(MAIN.sid).messages.list({ limit: 1 })).rejects.toMatchObject({
      status: 404,
    });
    const seen = await mainClient.api.v2010.accounts(sub.sid).messages(message.sid).fetch();
    expect(seen.sid).toBe(message.sid);
    // And a subaccount sees only its own messages in a list.
    expect((await client.messages.list({ limit: 20 })).map((m) => m.sid)).toEqual([message.sid]);
  }, 30_000);
});
