import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { type ApiTwin, startApiTwin, testPhone } from '../support/api-twin.ts';
import { expectKeptPromises } from '../support/drill.ts';

/**
 * The chaos drills' count check (test/support/drill.ts) against callbacks that come after the
 * broadcast is final, as Twilio's delivered and read do: a broadcast completes once every recipient
 * is sent, and its recipients keep moving afterwards. The counts must be compared with the ledger as
 * it ends up, not with the ledger as it was when the broadcast ended (which made the drill fail with
 * counts that matched the ledger exactly).
 */
const KEY = 'key-drill-late-0123456789';
let api: ApiTwin;

beforeAll(async () => {
  // Status steps 3 s apart: the broadcast is final (all sent) well before delivered and read arrive.
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${KEY}`,
    SIM_MPS: '1000',
    SENDER_MPS: '200',
    SIM_CALLBACK_DELAY_MS: '3000',
  });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

describe('chaos drill count check', () => {
  it('waits for the callbacks that come after the broadcast ended, then counts equal the ledger', async () => {
    const recipients = Array.from({ length: 6 }, () => testPhone());
    const created = await api.call('POST', '/v1/broadcasts', {
      key: KEY,
      body: { template: { contentSid: SAMPLE_TEMPLATES.coopNotice.contentSid }, recipients },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const id = created.body.broadcastId as string;
    const ended = await api.untilBroadcast(id, KEY, 'completed', { timeoutMs: 60_000 });
    // The case this is about: when the broadcast ended, some recipients had not been read yet.
    expect(ended.counts.read).toBeLessThan(recipients.length);
    const done = await expectKeptPromises(api, KEY, id, recipients, { timeoutMs: 60_000 });
    expect(done.status).toBe('completed');
    const after = await api.call('GET', `/v1/broadcasts/${id}`, { key: KEY });
    expect(after.body.counts.read).toBe(recipients.length);
  }, 120_000);
});
