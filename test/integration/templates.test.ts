import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Issue 12, items 4 and 5 (part): templates read from Twilio's Content API (the twin's simulator
 * serves it), checked at create, and marketing templates never sent to US numbers; the real handlers
 * through the twin's HTTP gateway.
 *
 * Templates are the Twilio account's, so there is no tenant isolation to test beyond this: every
 * tenant reads the same list, and a list cursor is still refused to another tenant.
 */

const ACME = 'key-acme-templates-list-0123456789';
const GLOBEX = 'key-globex-templates-list-0123456789';
/** Only refused requests: its broadcast list must stay empty. */
const REFUSED = 'key-refused-templates-0123456789';
const {
  deliveryUpdate,
  subsidyReminder,
  coopNotice,
  seasonalOffer,
  appointmentReminder,
  flashSale,
  harvestSurvey,
} = SAMPLE_TEMPLATES;
const SAMPLE_COUNT = Object.keys(SAMPLE_TEMPLATES).length;

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX},refused:${REFUSED}`,
    SIM_MPS: '1000',
  });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

const call: ApiTwin['call'] = (...args) => api.call(...args);
const sentTo = (phone: string) => api.twin.simulator?.messagesTo(`whatsapp:${phone}`) ?? [];

describe('GET /v1/templates', () => {
  it("lists the account's templates with their WhatsApp approval, category, variables and body, newest first", async () => {
    const { status, body } = await call('GET', '/v1/templates', { key: ACME });
    expect(status).toBe(200);
    expect(body.nextCursor).toBeUndefined();
    const items = body.items as Json[];
    expect(items.map((t) => t.contentSid)).toEqual(
      Object.values(SAMPLE_TEMPLATES)
        .sort((a, b) => b.dateCreated.localeCompare(a.dateCreated))
        .map((t) => t.contentSid),
    );
    const bySid = new Map(items.map((t) => [t.contentSid, t]));
    expect(bySid.get(deliveryUpdate.contentSid)).toEqual({
      contentSid: deliveryUpdate.contentSid,
      friendlyName: 'order_delivery_update',
      language: 'en',
      category: 'UTILITY',
      approval: 'approved',
      variables: { '1': 'Dana', '2': 'May 5' },
      body: 'Hi {{1}}, your order is on its way and will arrive on {{2}}. Thank you for shopping with the co-op.',
      contentTypes: ['twilio/text'],
      createdAt: '2026-03-02T09:15:00.000Z',
      updatedAt: '2026-03-02T09:15:00.000Z',
    });
    expect(bySid.get(seasonalOffer.contentSid)).toMatchObject({
      category: 'MARKETING',
      approval: 'approved',
      buttons: [
        { id: 'read_broadcast', title: 'Read more' },
        { id: 'stop_promotions', title: 'Stop promotions' },
      ],
    });
    expect(
      Object.fromEntries(
        items.map((t) => [t.friendlyName, `${t.approval}${t.rejectionReason ? ' (reason)' : ''}`]),
      ),
    ).toEqual({
      order_delivery_update: 'approved',
      subsidy_reminder: 'approved',
      coop_notice: 'approved',
      seasonal_offer: 'approved',
      appointment_reminder: 'pending',
      flash_sale: 'rejected (reason)',
      harvest_survey: 'paused',
    });
    // Account-wide: another tenant reads the same list.
    expect((await call('GET', '/v1/templates', { key: GLOBEX })).body.items).toEqual(items);
  });

  it('filters by approval and category, pages with a cursor bound to the tenant, and refuses bad parameters', async () => {
    const approved = await call('GET', '/v1/templates?approval=approved', { key: ACME });
    expect((approved.body.items as Json[]).every((t) => t.approval === 'approved')).toBe(true);
    expect(approved.body.items).toHaveLength(4);
    const marketing = await call('GET', '/v1/templates?category=MARKETING&approval=approved', { key: ACME });
    expect((marketing.body.items as Json[]).map((t) => t.contentSid)).toEqual([seasonalOffer.contentSid]);

    const seen: string[] = [];
    let cursor: string | undefined;
    let first: string | undefined;
    do {
      const page = await call('GET', `/v1/templates?limit=3${cursor ? `&cursor=${cursor}` : ''}`, {
        key: ACME,
      });
      expect(page.status).toBe(200);
      expect((page.body.items as Json[]).length).toBeLessThanOrEqual(3);
      seen.push(...(page.body.items as Json[]).map((t) => String(t.contentSid)));
      cursor = page.body.nextCursor;
      first ??= cursor;
    } while (cursor);
    expect(seen).toHaveLength(new Set(seen).size);
    expect(seen.length).toBeGreaterThanOrEqual(SAMPLE_COUNT);

    const foreign = await call('GET', `/v1/templates?cursor=${first}`, { key: GLOBEX });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.details).toEqual([expect.objectContaining({ path: 'cursor' })]);
    const wrong = await call('GET', '/v1/templates?approval=yes&categry=MARKETING', { key: ACME });
    expect(wrong.status).toBe(400);
    expect((wrong.body.error.details as Json[]).map((d) => d.path).sort()).toEqual(['approval', 'categry']);
    expect((await call('GET', '/v1/templates')).status).toBe(401);
  });

  it('GET /v1/templates/{contentSid}: the template, 404 NOT_FOUND for one the account lacks, 400 for a malformed SID', async () => {
    const one = await call('GET', `/v1/templates/${flashSale.contentSid}`, { key: ACME });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      contentSid: flashSale.contentSid,
      category: 'MARKETING',
      approval: 'rejected',
      rejectionReason: flashSale.rejectionReason,
      variables: { '1': 'Dana' },
    });
    const missing = await call('GET', `/v1/templates/HX${'ab'.repeat(16)}`, { key: ACME });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    const malformed = await call('GET', '/v1/templates/HX123', { key: ACME });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ path: 'contentSid', message: expect.stringContaining('HX followed by 32 hex') }],
    });
  });
});

describe('POST /v1/broadcasts checks its template', () => {
  const refused = async (template: Json) => {
    const res = await call('POST', '/v1/broadcasts', {
      key: REFUSED,
      body: { template, recipients: [testPhone()] },
    });
    expect(res.status).toBe(400);
    return res.body.error as Json;
  };

  it('answers TEMPLATE_NOT_FOUND, TEMPLATE_NOT_APPROVED and TEMPLATE_VARIABLES_MISMATCH, and stores nothing', async () => {
    const unknown = `HX${'cd'.repeat(16)}`;
    expect(await refused({ contentSid: unknown })).toMatchObject({
      code: 'TEMPLATE_NOT_FOUND',
      details: [{ path: 'template.contentSid', contentSid: unknown }],
    });
    const pending = await refused({
      contentSid: appointmentReminder.contentSid,
      variables: { '1': 'a', '2': 'b' },
    });
    expect(pending).toMatchObject({
      code: 'TEMPLATE_NOT_APPROVED',
      message: expect.stringContaining('its status is pending'),
      details: [{ path: 'template.contentSid', approval: 'pending' }],
    });
    const rejected = await refused({ contentSid: flashSale.contentSid, variables: { '1': 'a' } });
    expect(rejected.code).toBe('TEMPLATE_NOT_APPROVED');
    expect(rejected.message).toContain(
      `its status is rejected (${flashSale.rejectionReason.replace(/\.$/, '')}). Only approved`,
    );
    expect(rejected.details[0]).toMatchObject({
      approval: 'rejected',
      rejectionReason: flashSale.rejectionReason,
    });
    expect((await refused({ contentSid: harvestSurvey.contentSid })).details[0].approval).toBe('paused');

    const mismatch = await refused({
      contentSid: deliveryUpdate.contentSid,
      variables: { '1': '{{name|there}}', '3': 'extra' },
    });
    expect(mismatch).toMatchObject({
      code: 'TEMPLATE_VARIABLES_MISMATCH',
      details: [
        {
          path: 'template.variables.2',
          variable: '2',
          message: 'no value for variable "2" (sample: "May 5")',
        },
        { path: 'template.variables.3', variable: '3', message: 'the template has no variable "3"' },
      ],
    });
    expect((await refused({ contentSid: coopNotice.contentSid, variables: { '1': 'x' } })).code).toBe(
      'TEMPLATE_VARIABLES_MISMATCH',
    );
    expect((await refused({ contentSid: subsidyReminder.contentSid })).details).toEqual([
      { path: 'template.variables.1', variable: '1', message: 'no value for variable "1" (sample: "Dana")' },
    ]);

    // The template is the request's first problem: no recipient is worth reporting before it.
    const both = await call('POST', '/v1/broadcasts', {
      key: REFUSED,
      body: { template: { contentSid: unknown }, recipients: ['123'] },
    });
    expect(both.body.error.code).toBe('TEMPLATE_NOT_FOUND');

    const listed = await call('GET', '/v1/broadcasts', { key: REFUSED });
    expect(listed.body.items).toEqual([]);
  });

  it('takes a template added to the account a moment ago (POST /_simulator/templates), and sends it', async () => {
    const added = await api.simulator('/_simulator/templates', {
      friendlyName: 'pickup_ready',
      body: 'Hi {{1}}, your order is ready for pickup at {{2}}.',
      variables: { '1': 'Dana', '2': 'the co-op office' },
      category: 'UTILITY',
      approval: 'approved',
    });
    expect(added.status).toBe(201);
    const contentSid = String(added.body.contentSid);
    expect(contentSid).toMatch(/^HX[0-9a-f]{32}$/);
    expect((await call('GET', `/v1/templates/${contentSid}`, { key: ACME })).body.friendlyName).toBe(
      'pickup_ready',
    );

    const phone = testPhone();
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: {
        template: { contentSid, variables: { '1': '{{name|there}}', '2': 'the co-op office' } },
        recipients: [{ phone, variables: { name: 'Dana' } }],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    await api.untilBroadcast(created.body.broadcastId, ACME, 'completed');
    expect(sentTo(phone).map((m) => [m.contentSid, JSON.parse(m.contentVariables ?? '{}')])).toEqual([
      [contentSid, { '1': 'Dana', '2': 'the co-op office' }],
    ]);
  }, 60_000);
});

describe('a marketing template to US numbers', () => {
  it('skips the US recipient with its reason and never sends it; Canada and Israel are sent', async () => {
    const us = '+12125550142';
    const canada = '+16135550142';
    const israel = testPhone();
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: {
        name: 'Seasonal offer',
        template: { contentSid: seasonalOffer.contentSid, variables: { '1': 'neighbour' } },
        recipients: [us, canada, israel],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(created.body).toMatchObject({ totalRecipients: 3, queuedCount: 2, skippedCount: 1 });
    expect(created.body.items).toEqual([
      { phone: us, status: 'skipped', skipReason: 'marketing_not_delivered_us' },
      { phone: canada, status: 'queued' },
      { phone: israel, status: 'queued' },
    ]);
    const id = created.body.broadcastId;
    const done = await api.untilBroadcast(id, ACME, 'completed');
    // `completed` once both are sent; delivered and read may still be on their way.
    expect(done.counts.skipped).toBe(1);
    expect(done.counts.sent + done.counts.delivered + done.counts.read).toBe(2);

    const recipients = (await call('GET', `/v1/broadcasts/${id}/recipients`, { key: ACME })).body
      .items as Json[];
    expect(recipients.find((r) => r.phone === us)).toMatchObject({
      status: 'skipped',
      skipReason: 'marketing_not_delivered_us',
      errorMessage: expect.stringContaining('US phone numbers'),
    });
    expect(recipients.find((r) => r.phone === us)?.messageSid).toBeUndefined();
    expect(sentTo(us)).toEqual([]);
    expect(sentTo(canada)).toHaveLength(1);
    expect(sentTo(israel)).toHaveLength(1);

    // A utility template to the same US number is sent.
    const utility = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: {
        template: { contentSid: subsidyReminder.contentSid, variables: { '1': 'neighbour' } },
        recipients: [us],
      },
    });
    expect(utility.body).toMatchObject({ queuedCount: 1, skippedCount: 0 });
    await api.untilBroadcast(utility.body.broadcastId, ACME, 'completed');
    expect(sentTo(us)).toHaveLength(1);
  }, 60_000);
});

// Last: it stops the simulator.
describe('when Twilio does not answer', () => {
  it('the template check and the template routes answer 503 PROVIDER_UNAVAILABLE with Retry-After, and nothing is stored', async () => {
    await api.twin.simulator?.stop();
    const unseen = `HX${'ef'.repeat(16)}`;
    const res = await fetch(`${api.twin.apiUrl}/v1/broadcasts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${REFUSED}`, 'content-type': 'application/json' },
      body: JSON.stringify({ template: { contentSid: unseen }, recipients: [testPhone()] }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as Json).error).toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
      message: expect.stringContaining('nothing was stored'),
      details: [{ path: 'template.contentSid', dependency: 'twilio-content-api' }],
    });
    const one = await call('GET', `/v1/templates/${unseen}`, { key: ACME });
    expect(one.status).toBe(503);
    expect(one.body.error.code).toBe('PROVIDER_UNAVAILABLE');
    expect((await call('GET', '/v1/broadcasts', { key: REFUSED })).body.items).toEqual([]);
  }, 30_000);
});
