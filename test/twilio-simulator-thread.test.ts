import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../functions/adapters/twilio-client.ts';
import { type FaultPlan, parseFaultPlan } from '../lib/local/faults/spec.ts';
import { SAMPLE_TEMPLATES } from '../lib/local/twilio-simulator.ts';
import { type SimulatorThread, startTwilioSimulatorThread } from '../lib/local/twilio-simulator-thread.ts';
import { fileTempDir } from './support/temp-dir.ts';

/**
 * The Twilio simulator on its own thread (lib/local/twilio-simulator-thread.ts), as the local twin
 * runs it: it takes creates while the twin's event loop is busy, and its reads stay synchronous.
 */

const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
const AUTH_TOKEN = 'simulator-thread-token';
const FROM = 'whatsapp:+14155238886';
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;

const running: SimulatorThread[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((simulator) => simulator.stop()));
});

async function start(logLines: string[] = [], faultPlan?: FaultPlan) {
  const simulator = await startTwilioSimulatorThread({
    ...(faultPlan ? { faultPlan } : {}),
    port: 0,
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    latencyMs: 0,
    callbackDelayMs: 20,
    mps: 1000,
    dataDir: fileTempDir('twilio-sim-thread-'),
    log: (line) => logLines.push(line),
  });
  running.push(simulator);
  const client = createTwilioClient({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    apiBaseUrl: simulator.url,
  });
  return { simulator, client };
}

/** A create written whole on a connected socket: it is in the simulator's hands before the next line runs. */
function rawCreate(port: number, to: string): string {
  const body = new URLSearchParams({ To: to, From: FROM, ContentSid: CONTENT_SID }).toString();
  return [
    `POST /2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    `Authorization: Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`,
    'Content-Type: application/x-www-form-urlencoded',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

function answerOf(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
    });
    socket.once('end', () => resolve(text));
    socket.once('error', reject);
  });
}

describe('the Twilio simulator on its own thread', () => {
  it('accepts and stamps a create when it arrives, while the event loop that sent it is busy', async () => {
    const { simulator } = await start();
    const socket = connect(simulator.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const answer = answerOf(socket);
    const sentAt = Date.now();
    socket.write(rawCreate(simulator.port, 'whatsapp:+15550101001'));
    // The twin's loop held by other work (a stream batch, a GC) for 500 ms: Twilio does not wait for it.
    while (Date.now() - sentAt < 500) {
      // busy
    }
    expect(await answer).toMatch(/^HTTP\/1\.1 201/);
    const [message] = simulator.messagesTo('whatsapp:+15550101001');
    expect(message).toBeDefined();
    expect(Date.parse(message?.dateCreated ?? '') - sentAt).toBeLessThan(250);
  });

  it("answers the simulator's reads at once, with what the thread holds", async () => {
    const logLines: string[] = [];
    const { simulator, client } = await start(logLines);
    expect(simulator.messageCount()).toBe(0);
    const sent = await client.messages.create({
      to: 'whatsapp:+15550101002',
      from: FROM,
      contentSid: CONTENT_SID,
    });
    // No wait: the create's answer came after the thread stored it.
    expect(simulator.messageCount()).toBe(1);
    expect(simulator.messages().map((m) => m.sid)).toEqual([sent.sid]);
    expect(simulator.messagesTo('whatsapp:+15550101002')).toHaveLength(1);
    expect(simulator.messagesTo('whatsapp:+15550109999')).toEqual([]);
    expect(simulator.inbound()).toEqual([]);
    expect(simulator.templates().map((t) => t.contentSid)).toContain(CONTENT_SID);

    simulator.unsubscribe('+15550101003');
    expect(simulator.unsubscribedCount()).toBe(1);
    await expect(
      client.messages.create({ to: 'whatsapp:+15550101003', from: FROM, contentSid: CONTENT_SID }),
    ).rejects.toMatchObject({ status: 400, code: 21610 });
    // Its log lines reach the host's log, phone numbers masked as ever.
    expect(logLines.some((line) => line.includes('unsubscribed') && !line.includes('+15550101003'))).toBe(
      true,
    );
  });

  it('stops: its port is closed, and a read after says that it stopped', async () => {
    const { simulator } = await start();
    await simulator.stop();
    running.splice(running.indexOf(simulator), 1);
    expect(() => simulator.messageCount()).toThrow(/stopped/);
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(simulator.port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('plays twilio.* faults in the thread, and its counts stay readable after it stops', async () => {
    const { simulator, client } = await start([], parseFaultPlan('twilio.503=1', '7'));
    await expect(
      client.messages.create({ to: 'whatsapp:+15550101004', from: FROM, contentSid: CONTENT_SID }),
    ).rejects.toMatchObject({ status: 503 });
    expect(simulator.messageCount()).toBe(0);
    expect(simulator.injectedFaults()).toEqual({ 'twilio.503': 1 });
    await simulator.stop();
    running.splice(running.indexOf(simulator), 1);
    expect(simulator.injectedFaults()).toEqual({ 'twilio.503': 1 });
  });
});
