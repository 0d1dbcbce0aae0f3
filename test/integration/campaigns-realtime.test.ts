import { afterAll, beforeAll, expect, it } from 'vitest';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator/content.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Issue 13's real-time check: a `cron(* * * * ? *)` campaign on the twin's Scheduler with the real
 * clock runs at the next minute boundary, then, paused, does not run at the one after (about 100 s).
 * That the expression recurs, DST included, is test/core/schedule-expressions.test.ts's and the
 * Scheduler's own tests' (an injectable clock); this file holds the real clock to it, once.
 */
const KEY = 'key-acme-realtime-0123456789';
let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${KEY}`, SIM_MPS: '1000', SENDER_MPS: '500' });
}, 60_000);
afterAll(async () => {
  await api?.stop();
});

const runsOf = async (id: string) =>
  ((await api.call('GET', `/v1/campaigns/${id}`, { key: KEY })).body.runs ?? []) as Json[];

it('an every-minute campaign runs at the next minute boundary and stops when paused', async () => {
  const phone = testPhone();
  // Not within a few seconds of a boundary: a create that spans one may rightly answer either minute.
  await waitFor(async () => (new Date().getSeconds() < 50 ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 200,
    message: 'the clock did not leave the end of the minute',
  });
  const created = await api.call('POST', '/v1/campaigns', {
    key: KEY,
    body: {
      name: 'Every minute, for real',
      audience: { phones: [phone] },
      template: {
        contentSid: SAMPLE_TEMPLATES.deliveryUpdate.contentSid,
        variables: { '1': 'Dana', '2': 'now' },
      },
      schedule: { expression: 'cron(* * * * ? *)' },
    },
  });
  expect(created.status).toBe(201);
  const id = created.body.campaignId as string;
  const [first] = created.body.nextRuns as [string];

  const oneRun = await waitFor(
    async () => {
      const runs = await runsOf(id);
      return runs.length >= 1 ? runs : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 1_000, message: 'the campaign did not run at the next minute' },
  );
  expect(oneRun.map((r) => r.scheduledFor)).toEqual([first]);
  expect(typeof oneRun[0]?.broadcastId).toBe('string');
  await waitFor(async () => ((await api.messagesTo(phone)) === 1 ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 250,
    message: 'the run did not send its message',
  });

  const paused = await api.call('POST', `/v1/campaigns/${id}/pause`, { key: KEY });
  expect(paused.body.status).toBe('paused');
  // Past the next minute boundary (the twin's Scheduler fires within a second of it): nothing more.
  const next = Date.parse(first) + 60_000;
  await waitFor(async () => (Date.now() > next + 4_000 ? true : undefined), {
    timeoutMs: 70_000,
    intervalMs: 500,
    message: 'the clock did not pass the next firing',
  });
  expect(await runsOf(id)).toHaveLength(1);
  expect(api.messagesTo(phone)).toBe(1);
}, 200_000);
