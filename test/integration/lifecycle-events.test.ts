import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEvent } from '../../lib/local/eventbridge-local.ts';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Issue 15 item 4: lifecycle events on the local bus (DATA_DIR/events.jsonl), from the table's
 * stream, for a broadcast's life and the other transitions, delivered at least once although the
 * bus refuses PutEvents calls and entries as AWS does (TWIN_FAULTS events.*): every event arrives,
 * a duplicate has its original's eventId, and each carries its tenant.
 *
 * Simulator numbers: `…0009` stays `sent` (no later callback), `…0003` is refused at create (failed
 * at once), so a broadcast's counts are final when it completes and can be compared with the API's.
 */

const ACME = 'key-acme-events-0123456789';
const GLOBEX = 'key-globex-events-0123456789';
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;

let api: ApiTwin;
let clock = new Date();

beforeAll(async () => {
  api = await startApiTwin(
    {
      LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
      SIM_MPS: '1000',
      SENDER_MPS: '20',
      TWIN_FAULTS: 'events.PutEvents.PartialFailure=0.25,events.ServiceUnavailable=0.15',
      TWIN_FAULTS_SEED: '15',
    },
    { scheduler: { now: () => clock, tickMs: 0 } },
  );
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

const bus = () => {
  const found = api.twin.eventBuses.lifecycle;
  if (!found) throw new Error('no lifecycle bus');
  return found;
};

/** Waits for the events matching `test`; answers them once each (duplicates share an eventId). */
async function untilEvents(
  test: (e: LocalEvent) => boolean,
  count: number,
  message: string,
): Promise<LocalEvent[]> {
  return waitFor(
    async () => {
      const unique = new Map(
        bus()
          .events()
          .filter(test)
          .map((e) => [e.detail.eventId as string, e]),
      );
      return unique.size >= count ? [...unique.values()] : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200, message },
  );
}

const about = (id: string) => (e: LocalEvent) => e.detail.broadcastId === id;

async function created(key: string, recipients: string[], extra: Json = {}): Promise<string> {
  const { status, body } = await api.call('POST', '/v1/broadcasts', {
    key,
    body: { name: `events ${Math.random()}`, template: { contentSid: CONTENT_SID }, recipients, ...extra },
  });
  expect(status, JSON.stringify(body)).toBe(202);
  return body.broadcastId as string;
}

describe('lifecycle events on the local bus', () => {
  it("one broadcast's life: created, then completed with the final counts GET /v1/broadcasts/{id} shows", async () => {
    const id = await created(ACME, [testPhone('0009'), testPhone('0009'), testPhone('0003')]);
    const final = await api.untilBroadcast(id, ACME);
    expect(final.status).toBe('partial');
    const [createdEvent] = await untilEvents(
      (e) => about(id)(e) && e['detail-type'] === 'broadcast.created',
      1,
      'no broadcast.created',
    );
    expect(createdEvent).toMatchObject({
      source: 'whatsapp-broadcast',
      detail: { tenantId: 'acme', broadcastId: id, totalRecipients: 3, test: false },
    });
    const [completed] = await untilEvents(
      (e) => about(id)(e) && e['detail-type'] === 'broadcast.completed',
      1,
      'no broadcast.completed',
    );
    const view = (await api.call('GET', `/v1/broadcasts/${id}`, { key: ACME })).body;
    expect(completed?.detail).toMatchObject({
      tenantId: 'acme',
      status: 'partial',
      counts: view.counts,
      totalRecipients: 3,
      completedAt: view.completedAt,
    });
    expect(view.counts).toMatchObject({ sent: 2, failed: 1 });
  }, 60_000);

  it('a broadcast nobody could be sent is broadcast.failed; a paused one broadcast.paused, then broadcast.cancelled', async () => {
    const failedId = await created(ACME, [testPhone('0003'), testPhone('0003')]);
    await untilEvents((e) => about(failedId)(e) && e['detail-type'] === 'broadcast.failed', 1, 'no failed');

    const slow = await created(
      ACME,
      Array.from({ length: 60 }, () => testPhone('0009')),
    );
    const paused = await api.call('POST', `/v1/broadcasts/${slow}/pause`, { key: ACME });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    const [event] = await untilEvents(
      (e) => about(slow)(e) && e['detail-type'] === 'broadcast.paused',
      1,
      'no broadcast.paused',
    );
    expect(event?.detail).toMatchObject({
      tenantId: 'acme',
      pausedAt: paused.body.pausedAt,
      pauseReason: 'paused by an admin',
    });
    const cancel = await api.call('POST', `/v1/broadcasts/${slow}/cancel`, { key: ACME });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    const [cancelled] = await untilEvents(
      (e) => about(slow)(e) && e['detail-type'] === 'broadcast.cancelled',
      1,
      'no broadcast.cancelled',
    );
    const view = (await api.call('GET', `/v1/broadcasts/${slow}`, { key: ACME })).body;
    expect(view.cancelledAt).toEqual(expect.any(String));
    expect(cancelled?.detail).toMatchObject({
      tenantId: 'acme',
      cancelledAt: view.cancelledAt,
      cancelledFrom: 'paused',
      totalRecipients: 60,
    });
  }, 60_000);

  it("a campaign's run is campaign.run.started, naming the broadcast it created", async () => {
    const phone = testPhone('0009');
    const group = await api.call('POST', '/v1/groups', { key: ACME, body: { name: 'Events' } });
    await api.call('POST', `/v1/groups/${group.body.groupId}/members`, {
      key: ACME,
      body: { phones: [phone] },
    });
    clock = new Date();
    const campaign = await api.call('POST', '/v1/campaigns', {
      key: ACME,
      body: {
        name: 'Daily events',
        audience: { groupIds: [group.body.groupId] },
        template: { contentSid: CONTENT_SID },
        schedule: { expression: 'rate(1 day)' },
      },
    });
    expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
    clock = new Date(campaign.body.nextRunAt);
    await api.twin.scheduler.tick();
    const [run] = await untilEvents(
      (e) => e['detail-type'] === 'campaign.run.started' && e.detail.campaignId === campaign.body.campaignId,
      1,
      'no campaign.run.started',
    );
    expect(run?.detail).toMatchObject({
      tenantId: 'acme',
      scheduledFor: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const runBroadcast = await api.call('GET', `/v1/broadcasts/${run?.detail.broadcastId}`, { key: ACME });
    expect(runBroadcast.status).toBe(200);
    await api.call('DELETE', `/v1/campaigns/${campaign.body.campaignId}`, { key: ACME });
  }, 60_000);

  it('STOP is contact.opted_out and START contact.opted_in, for the tenant that messaged the person, phone masked', async () => {
    const phone = testPhone('0009');
    const id = await created(ACME, [phone]);
    await api.untilBroadcast(id, ACME);
    await waitFor(
      async () => {
        const history = await api.call('GET', `/v1/contacts/${encodeURIComponent(phone)}/messages`, {
          key: ACME,
        });
        return (history.body.items as Json[]).length > 0 ? true : undefined;
      },
      { timeoutMs: 30_000, message: 'the message did not reach the contact history' },
    );
    const masked = `+${'*'.repeat(phone.length - 5)}${phone.slice(-4)}`;
    const stop = await api.simulator('/_simulator/inbound', { from: phone, body: 'STOP' });
    expect(stop.body.webhookStatus).toBe(200);
    const [out] = await untilEvents(
      (e) => e['detail-type'] === 'contact.opted_out' && e.detail.phone === masked,
      1,
      'no contact.opted_out',
    );
    expect(out?.detail).toMatchObject({ tenantId: 'acme', reason: 'opt_out_keyword', keyword: 'stop' });
    const start = await api.simulator('/_simulator/inbound', { from: phone, body: 'START' });
    expect(start.body.webhookStatus).toBe(200);
    const [back] = await untilEvents(
      (e) => e['detail-type'] === 'contact.opted_in' && e.detail.phone === masked,
      1,
      'no contact.opted_in',
    );
    expect(back?.detail).toMatchObject({ tenantId: 'acme', optedOutAt: out?.detail.occurredAt });
    // Never a full number on the bus.
    expect(readFileSync(bus().file, 'utf8')).not.toContain(phone.slice(1));
  }, 60_000);

  it('a send Twilio refuses because the person unsubscribed (21610) is contact.opted_out for the tenant that sent; the admin’s DELETE, contact.opted_in after it', async () => {
    const phone = testPhone('0021');
    const masked = `+${'*'.repeat(phone.length - 5)}${phone.slice(-4)}`;
    const unsubscribed = await api.simulator('/_simulator/unsubscribe', { to: phone });
    expect(unsubscribed.status).toBe(200);
    const id = await created(GLOBEX, [phone]);
    await api.untilBroadcast(id, GLOBEX);
    const [out] = await untilEvents(
      (e) => e['detail-type'] === 'contact.opted_out' && e.detail.phone === masked,
      1,
      'no contact.opted_out for the unsubscribed number',
    );
    expect(out?.detail).toMatchObject({ tenantId: 'globex', reason: 'provider_error', errorCode: 21610 });
    expect(out?.detail).not.toHaveProperty('keyword');
    expect(
      bus()
        .events()
        .filter((e) => e.detail.phone === masked && e.detail.tenantId === 'acme'),
    ).toEqual([]);
    // The admin lifts it (at once, within the opt-out's own second or minute): its end, never before it.
    const lifted = await api.call('DELETE', `/v1/suppressions/${encodeURIComponent(phone)}`, { key: GLOBEX });
    expect(lifted.status).toBe(200);
    const [back] = await untilEvents(
      (e) => e['detail-type'] === 'contact.opted_in' && e.detail.phone === masked,
      1,
      'no contact.opted_in for the lifted entry',
    );
    expect(back?.detail).toMatchObject({
      tenantId: 'globex',
      optedOutReason: 'provider_error',
      optedOutAt: out?.detail.occurredAt,
    });
    expect(Date.parse(String(back?.detail.occurredAt))).toBeGreaterThanOrEqual(
      Date.parse(String(out?.detail.occurredAt)),
    );
  }, 60_000);

  it('an import that finished is import.completed with its counts', async () => {
    const res = await fetch(`${api.twin.apiUrl}/v1/contacts/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ACME}`, 'content-type': 'text/csv' },
      body: `phone,name\n${testPhone()},Ada\n${testPhone()},Grace\nnot-a-phone,Bad\n`,
    });
    const { importId } = (await res.json()) as Json;
    expect(res.status).toBe(202);
    const [done] = await untilEvents(
      (e) => e['detail-type'] === 'import.completed' && e.detail.importId === importId,
      1,
      'no import.completed',
    );
    const view = (await api.call('GET', `/v1/contacts/imports/${importId}`, { key: ACME })).body;
    expect(done?.detail).toMatchObject({
      tenantId: 'acme',
      status: 'completed',
      createdCount: view.createdCount,
      invalidCount: 1,
    });
  }, 60_000);

  it('each event carries its own tenant; refused PutEvents were put again, none lost, duplicates alike', async () => {
    const theirs = await created(GLOBEX, [testPhone('0009')]);
    const [event] = await untilEvents(about(theirs), 1, "no event of globex's broadcast");
    expect(event?.detail.tenantId).toBe('globex');
    const all = bus().events();
    for (const e of all) {
      expect(['acme', 'globex']).toContain(e.detail.tenantId);
      expect(e.detail.eventId).toMatch(/^evt_[0-9a-f]{32}$/);
    }
    // A duplicate (a batch delivered again after a partial failure) is the same event.
    const byId = new Map<string, string>();
    for (const e of all) {
      const same = JSON.stringify([e['detail-type'], e.detail]);
      if (byId.has(e.detail.eventId as string) && !('counts' in e.detail))
        expect(same).toBe(byId.get(e.detail.eventId as string));
      byId.set(e.detail.eventId as string, same);
    }
    const injected = api.twin.faults?.injected() ?? {};
    expect(injected['events.PutEvents.PartialFailure']).toBeGreaterThan(0);
    expect(injected['events.ServiceUnavailable']).toBeGreaterThan(0);
  }, 60_000);
});
