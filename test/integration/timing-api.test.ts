import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Quiet hours, frequency caps and the messaging limit end to end, through the twin's API with the
 * real handlers and the real clock: quiet hours are chosen to end a minute or two from now in one
 * recipient's zone, and the retry job (every 2 s here) releases that recipient when they end.
 */
const ACME = 'key-acme-timing-0123456789';
const GLOBEX = 'key-globex-timing-0123456789';
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
    SIM_MPS: '1000',
    RETRY_SCHEDULE_SECONDS: '2',
  });
}, 60_000);
afterAll(async () => {
  await api?.stop();
});

const call = (key: string, method: string, route: string, body?: unknown) =>
  api.call(method, route, { key, ...(body !== undefined ? { body } : {}) });
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

async function contact(phone: string, timeZone: string) {
  const put = await call(ACME, 'PUT', `/v1/contacts/${encodeURIComponent(phone)}`, { timeZone });
  expect(put.status).toBe(200);
}

describe('quiet hours through the API', { timeout: 240_000 }, () => {
  it('one recipient sent now, one waiting until the end of their quiet hours, then sent; the figures say so', async () => {
    const inUtc = testPhone();
    const inTokyo = testPhone();
    await contact(inUtc, 'UTC');
    await contact(inTokyo, 'Asia/Tokyo');
    // Quiet in UTC from an hour ago until the minute after next: Tokyo (UTC+9) is outside them.
    const now = Date.now();
    const endMs = Math.ceil((now + 45_000) / 60_000) * 60_000;
    const quietHours = { start: hhmm(now - 3_600_000), end: hhmm(endMs) };
    // With a cap of its own (5 a week), its messages count toward the caps of the tenant's later sends.
    const body = {
      template: { contentSid: CONTENT_SID },
      recipients: [inUtc, inTokyo],
      quietHours,
      frequencyCap: { max: 5, days: 7 },
    };

    const preview = await call(ACME, 'POST', '/v1/broadcasts/preview', body);
    expect(preview.status).toBe(200);
    expect(preview.body.waiting).toEqual({
      count: 1,
      byReason: { quiet_hours: 1, messaging_limit: 0 },
      until: new Date(endMs).toISOString(),
    });
    expect(Date.parse(preview.body.estimatedFinishAt)).toBeGreaterThanOrEqual(endMs);

    const created = await call(ACME, 'POST', '/v1/broadcasts', body);
    expect(created.status).toBe(202);
    expect(created.body.waiting).toEqual({ count: 1, until: new Date(endMs).toISOString() });
    const id = created.body.broadcastId as string;

    await waitFor(async () => api.messagesTo(inTokyo) === 1, {
      timeoutMs: 30_000,
      message: 'Tokyo is sent at once',
    });
    expect(api.messagesTo(inUtc)).toBe(0);
    await expect
      .poll(async () => (await api.progress(id, ACME)).waiting, { timeout: 15_000 })
      .toEqual({
        count: 1,
        byReason: { quiet_hours: 1, messaging_limit: 0 },
        until: new Date(endMs).toISOString(),
      });
    const waiting = (await call(ACME, 'GET', `/v1/broadcasts/${id}/recipients`)).body.items.find(
      (r: Json) => r.phone === inUtc,
    );
    expect(waiting).toMatchObject({
      status: 'queued',
      waitReason: 'quiet_hours',
      nextRetryAt: new Date(endMs).toISOString(),
    });
    // Not stalled, not final, while it waits.
    expect((await call(ACME, 'GET', `/v1/broadcasts/${id}`)).body.status).not.toMatch(
      /completed|partial|failed/,
    );

    const done = await api.untilBroadcast(id, ACME, undefined, {
      timeoutMs: 200_000,
      message: 'released and sent',
    });
    expect(done.status).toBe('completed');
    expect(Date.now()).toBeGreaterThanOrEqual(endMs);
    expect(api.messagesTo(inUtc)).toBe(1);
    expect(api.messagesTo(inTokyo)).toBe(1);
    expect((await api.progress(id, ACME)).waiting).toMatchObject({ count: 0 });

    // Frequency cap: both already had one message; a cap of 1 a week skips both, for this tenant only.
    const capped = {
      template: { contentSid: CONTENT_SID },
      recipients: [inUtc, inTokyo],
      frequencyCap: { max: 1, days: 7 },
    };
    const capPreview = await call(ACME, 'POST', '/v1/broadcasts/preview', capped);
    expect(capPreview.body.skippedByReason).toMatchObject({ frequency_cap: 2 });
    const second = await call(ACME, 'POST', '/v1/broadcasts', capped);
    expect(second.status).toBe(202);
    expect(second.body).toMatchObject({ skippedCount: 2, queuedCount: 0 });
    expect(second.body.items).toEqual([
      { phone: inUtc, status: 'skipped', skipReason: 'frequency_cap' },
      { phone: inTokyo, status: 'skipped', skipReason: 'frequency_cap' },
    ]);
    const elsewhere = await call(GLOBEX, 'POST', '/v1/broadcasts/preview', capped);
    expect(elsewhere.body.skippedByReason).toMatchObject({ frequency_cap: 0 });
  });
});

describe("Meta's messaging limit through the API", { timeout: 120_000 }, () => {
  it('a limit of 1: the first person now, the second waits for the next window; shown in preview and progress', async () => {
    expect((await call(GLOBEX, 'PUT', '/v1/settings', { messagingLimit: 1 })).status).toBe(200);
    const first = testPhone();
    const second = testPhone();
    const body = { template: { contentSid: CONTENT_SID }, recipients: [first, second] };
    const preview = await call(GLOBEX, 'POST', '/v1/broadcasts/preview', body);
    expect(preview.body.waiting).toMatchObject({
      count: 1,
      byReason: { quiet_hours: 0, messaging_limit: 1 },
    });
    const until = Date.parse(preview.body.waiting.until);
    // The next window: about a day from now (26 hourly buckets, module messaging-limit.ts).
    expect(until - Date.now()).toBeGreaterThan(24 * 3_600_000);
    expect(until - Date.now()).toBeLessThanOrEqual(26 * 3_600_000);

    const created = await call(GLOBEX, 'POST', '/v1/broadcasts', body);
    expect(created.status).toBe(202);
    const id = created.body.broadcastId as string;
    await waitFor(async () => api.messagesTo(first) === 1, {
      timeoutMs: 30_000,
      message: 'the first goes now',
    });
    await expect
      .poll(async () => (await api.progress(id, GLOBEX)).waiting?.byReason, { timeout: 15_000 })
      .toEqual({ quiet_hours: 0, messaging_limit: 1 });
    expect(api.messagesTo(second)).toBe(0);
    // The book is the tenant's: ACME (unlimited) is not paced by GLOBEX's sends.
    const other = await call(ACME, 'POST', '/v1/broadcasts/preview', { ...body, recipients: [testPhone()] });
    expect(other.body.waiting).toMatchObject({ count: 0 });
    // A broadcast scheduled days ahead books its own days and forgets none of today's bookings.
    const scheduled = await call(GLOBEX, 'POST', '/v1/broadcasts', {
      ...body,
      recipients: [testPhone()],
      scheduledAt: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    });
    expect(scheduled.status).toBe(202);
    const today = await call(GLOBEX, 'POST', '/v1/broadcasts/preview', {
      ...body,
      recipients: [testPhone()],
    });
    expect(today.body.waiting).toMatchObject({ count: 1, byReason: { messaging_limit: 1 } });
    for (const done of [id, scheduled.body.broadcastId])
      expect((await call(GLOBEX, 'POST', `/v1/broadcasts/${done}/cancel`)).status).toBe(200);
  });
});
