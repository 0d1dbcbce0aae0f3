import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { type ApiTwin, startApiTwin, testPhone } from '../support/api-twin.ts';
import { expectKeptPromises } from '../support/drill.ts';

/**
 * A chaos drill with every Twilio fault the simulator can play (TWIN_FAULTS): creates that time out
 * after the message was made, 500s after the message was made, 429s and 503s before it was, and
 * status callbacks lost or sent twice. Nobody may be messaged twice (an ambiguous create is found at
 * Twilio before any resend), nobody lost, and every broadcast must end with counts that add up.
 */
const KEY = 'key-chaos-twilio-0123456789';
const FAULTS = [
  'twilio.timeout=0.08',
  'twilio.500=0.08',
  'twilio.429=0.08',
  'twilio.503=0.05',
  'twilio.callbackDrop=0.15',
  'twilio.callbackDuplicate=0.15',
];

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${KEY}`,
    SIM_MPS: '1000',
    SENDER_MPS: '200',
    TWIN_FAULTS: FAULTS.join(','),
    TWIN_FAULTS_SEED: '7',
    // A create answered after 2 s, past the product's 1 s timeout: ambiguous, as over a slow network.
    TWILIO_TIMEOUT_MS: '1000',
    SIM_TIMEOUT_HOLD_MS: '2000',
    SWEEP_SCHEDULE_SECONDS: '2',
    SWEEP_STALE_SECONDS: '6',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

describe('chaos drill: Twilio faults (TWIN_FAULTS)', () => {
  it('messages everyone exactly once and ends every broadcast, whatever Twilio answers', async () => {
    const recipients = Array.from({ length: 80 }, () => testPhone());
    const created = await api.call('POST', '/v1/broadcasts', {
      key: KEY,
      body: { template: { contentSid: SAMPLE_TEMPLATES.coopNotice.contentSid }, recipients },
    });
    expect(created.status).toBe(202);
    const done = await expectKeptPromises(api, KEY, created.body.broadcastId, recipients, {
      timeoutMs: 180_000,
    });
    expect(done.status).toBe('completed');
    for (const phone of recipients) expect(api.messagesTo(phone), phone).toBe(1);
    const injected = api.twin.faults?.injected() ?? {};
    for (const fault of FAULTS) expect(injected[fault.split('=')[0] as string], fault).toBeGreaterThan(0);
  }, 240_000);
});
