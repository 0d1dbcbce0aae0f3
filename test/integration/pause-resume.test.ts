import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Issue 13 item 6: pausing a broadcast stops new sends within a second, nothing is sent while it is
 * paused, and a resume sends the rest without sending anyone twice. Through the twin, with the sender
 * paced slowly enough (SENDER_MPS) that a pause lands mid-broadcast.
 */

const ACME = 'key-acme-pause-0123456789';
const GLOBEX = 'key-globex-pause-0123456789';
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;
const SENDER_MPS = 4;

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
    SIM_MPS: '1000',
    SENDER_MPS: String(SENDER_MPS),
  });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

/** When the simulator accepted each message to these phones (ms since the epoch), oldest first. */
function sendTimes(phones: readonly string[]): number[] {
  return phones
    .flatMap((p) => api.twin.simulator?.messagesTo(`whatsapp:${p}`) ?? [])
    .map((m) => Date.parse(String(m.dateCreated)))
    .sort((a, b) => a - b);
}

async function created(phones: readonly string[], key = ACME): Promise<string> {
  const { status, body } = await api.call('POST', '/v1/broadcasts', {
    key,
    body: { template: { contentSid: CONTENT_SID }, recipients: phones },
  });
  expect(status, JSON.stringify(body)).toBe(202);
  return body.broadcastId as string;
}

describe('pause and resume', () => {
  it('stops new sends within a second, sends nothing while paused, and sends the rest once after the resume', async () => {
    const phones = Array.from({ length: 40 }, () => testPhone());
    const id = await created(phones);
    await waitFor(() => (sendTimes(phones).length >= 10 ? true : undefined), {
      timeoutMs: 30_000,
      message: 'the broadcast did not start sending',
    });

    const paused = await api.call('POST', `/v1/broadcasts/${id}/pause`, { key: ACME });
    const pausedAt = Date.now();
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body).toMatchObject({
      broadcastId: id,
      status: 'paused',
      pauseReason: 'paused by an admin',
    });
    // Every task still on the queue comes up and is dropped: then nothing more can be sent.
    await api.untilQueueDrained();
    const during = sendTimes(phones);
    expect(during.filter((at) => at > pausedAt + 1_000)).toEqual([]);
    expect(during.length).toBeLessThan(phones.length);
    const view = await api.call('GET', `/v1/broadcasts/${id}`, { key: ACME });
    expect(view.body).toMatchObject({ status: 'paused', pauseReason: 'paused by an admin' });
    expect(view.body.pausedAt).toEqual(paused.body.pausedAt);

    // Pausing again changes nothing and says so.
    const again = await api.call('POST', `/v1/broadcasts/${id}/pause`, { key: ACME });
    expect(again.status).toBe(200);
    expect(again.body.pausedAt).toBe(paused.body.pausedAt);

    // Once the paused broadcast's counts stand still, its progress says the same time poll after poll;
    // a resume is a change, and the progress says so at once (not the time before the pause).
    const progressAt = async () =>
      (await api.call('GET', `/v1/broadcasts/${id}/progress`, { key: ACME })).body.updatedAt as string;
    await waitFor(
      async () => {
        const before = await progressAt();
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        return (await progressAt()) === before ? true : undefined;
      },
      { timeoutMs: 30_000, message: 'the paused broadcast’s progress kept changing' },
    );
    const beforeResume = new Date().toISOString();
    const resumed = await api.call('POST', `/v1/broadcasts/${id}/resume`, { key: ACME });
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(['accepted', 'queued', 'running']).toContain(resumed.body.status);
    expect(resumed.body.releasedChunks).toBe(1);
    expect(Date.parse(await progressAt())).toBeGreaterThanOrEqual(Date.parse(beforeResume));

    const done = await api.untilBroadcast(id, ACME, 'completed', { timeoutMs: 60_000 });
    expect(done.pauseReason).toBeUndefined();
    expect(done.counts.sent + done.counts.delivered + done.counts.read).toBe(phones.length);
    for (const phone of phones) expect(api.messagesTo(phone), phone).toBe(1);
    // Resuming a final broadcast is refused; so is pausing it.
    const late = await api.call('POST', `/v1/broadcasts/${id}/pause`, { key: ACME });
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'INVALID_STATE' });
    expect((await api.call('POST', `/v1/broadcasts/${id}/resume`, { key: ACME })).status).toBe(409);
  }, 120_000);

  it('cancels a paused broadcast: its waiting recipients end cancelled and are never sent', async () => {
    const phones = Array.from({ length: 30 }, () => testPhone());
    const id = await created(phones);
    await waitFor(() => (sendTimes(phones).length >= 2 ? true : undefined), {
      timeoutMs: 30_000,
      message: 'the broadcast did not start sending',
    });
    expect((await api.call('POST', `/v1/broadcasts/${id}/pause`, { key: ACME })).status).toBe(200);
    const cancelled = await api.call('POST', `/v1/broadcasts/${id}/cancel`, { key: ACME });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    await api.untilQueueDrained();
    const sent = sendTimes(phones).length;
    expect(cancelled.body.cancelledCount).toBe(phones.length - sent);
    expect((await api.call('POST', `/v1/broadcasts/${id}/resume`, { key: ACME })).status).toBe(409);
    expect(sendTimes(phones).length).toBe(sent);
  }, 90_000);

  it('another tenant can neither pause nor resume a broadcast, nor learn that it exists', async () => {
    const phones = Array.from({ length: 12 }, () => testPhone());
    const id = await created(phones);
    for (const action of ['pause', 'resume']) {
      const other = await api.call('POST', `/v1/broadcasts/${id}/${action}`, { key: GLOBEX });
      expect(other.status).toBe(404);
      // The words an unknown id gets: nothing says it exists for someone else.
      expect(other.body.error).toMatchObject({
        code: 'NOT_FOUND',
        message: `No broadcast ${id} for this API key.`,
      });
    }
    const done = await api.untilBroadcast(id, ACME, 'completed', { timeoutMs: 60_000 });
    expect(done.pausedAt).toBeUndefined();
  }, 90_000);
});
