import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Issue 13 item 7, the canary: the first recipients go out, the rest wait unsent until the canary's
 * outcomes are in; then the rest go out, or the broadcast pauses itself with the failure rate and the
 * top error code, and a resume sends the rest. Through the twin, the sweeper (which decides) every 2 s.
 * The simulator fails numbers ending 0002 (sent, then failed with 63024).
 */

const ACME = 'key-acme-canary-0123456789';
const GLOBEX = 'key-globex-canary-0123456789';
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
    SIM_MPS: '1000',
    SWEEP_SCHEDULE_SECONDS: '2',
  });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

/** When the simulator accepted the (first) message to each phone, by phone. */
function firstSends(phones: readonly string[]): Map<string, number> {
  const times = new Map<string, number>();
  for (const phone of phones) {
    const first = api.twin.simulator?.messagesTo(`whatsapp:${phone}`)[0];
    if (first) times.set(phone, Date.parse(String(first.dateCreated)));
  }
  return times;
}

async function create(body: Json, key = ACME): Promise<string> {
  const created = await api.call('POST', '/v1/broadcasts', { key, body });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  return created.body.broadcastId as string;
}

describe('a canary', () => {
  it('pauses the broadcast when too many of the first recipients fail, sends the rest only after a resume', async () => {
    const canaryPhones = [testPhone('0002'), testPhone('0002'), testPhone('0002'), testPhone(), testPhone()];
    const rest = Array.from({ length: 15 }, () => testPhone());
    const id = await create({
      template: { contentSid: CONTENT_SID },
      recipients: [...canaryPhones, ...rest],
      canary: { recipients: 5, maxFailureRate: 0.2 },
    });
    const paused = await api.untilBroadcast(id, ACME, 'paused', { timeoutMs: 60_000 });
    expect(paused.pauseReason).toBe(
      'canary: 3 of 5 failed (60%, above the 20% allowed); most common error 63024',
    );
    expect(paused.canary).toMatchObject({ size: 5, outcomes: 5, failureRate: 0.6, decision: 'paused' });
    await api.untilQueueDrained();
    expect([...firstSends(rest).keys()]).toEqual([]);
    for (const phone of canaryPhones) expect(api.messagesTo(phone)).toBe(1);
    // The other tenant sees nothing of it.
    expect((await api.call('GET', `/v1/broadcasts/${id}`, { key: GLOBEX })).status).toBe(404);

    const resumed = await api.call('POST', `/v1/broadcasts/${id}/resume`, { key: ACME });
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body.releasedChunks).toBe(1); // one chunk of 20: its 15 unsent go out through the fan-out
    const done = await api.untilBroadcast(id, ACME, 'partial', { timeoutMs: 60_000 });
    expect(done.counts.failed).toBe(3);
    for (const phone of [...canaryPhones, ...rest]) expect(api.messagesTo(phone), phone).toBe(1);
    expect(done.canary.decision).toBe('paused');
  }, 120_000);

  it('sends the rest once the canary passes, never before its decision', async () => {
    const phones = Array.from({ length: 12 }, () => testPhone());
    const body = {
      template: { contentSid: CONTENT_SID },
      recipients: phones,
      canary: { percent: 25, maxFailureRate: 0.1 },
    };
    const preview = await api.call('POST', '/v1/broadcasts/preview', { key: ACME, body });
    expect(preview.status).toBe(200);
    expect(preview.body.canary).toEqual({ size: 3, rest: 9 });

    const id = await create(body);
    const done = await api.untilBroadcast(id, ACME, 'completed', { timeoutMs: 60_000 });
    expect(done.canary).toMatchObject({ size: 3, outcomes: 3, failureRate: 0, decision: 'proceeded' });
    const decidedAt = Date.parse(done.canary.decidedAt);
    const sends = firstSends(phones);
    for (const phone of phones.slice(0, 3)) expect(sends.get(phone)).toBeLessThanOrEqual(decidedAt);
    for (const phone of phones.slice(3)) expect(sends.get(phone), phone).toBeGreaterThanOrEqual(decidedAt);
    for (const phone of phones) expect(api.messagesTo(phone)).toBe(1);
  }, 120_000);
});
