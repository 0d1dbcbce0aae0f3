import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../functions/adapters/twilio-client.ts';
import { TwilioTemplateRegistry } from '../functions/adapters/twilio-templates.ts';
import { TemplateRegistryError } from '../functions/core/content-templates.ts';
import { CONTENT_FILE } from '../lib/local/twilio-simulator/content.ts';
import {
  SAMPLE_TEMPLATES,
  startTwilioSimulator,
  type TwilioSimulator,
} from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';

// The simulator's Content API (issue 12, item 4) through the real twilio SDK and the product's
// registry adapter: Twilio's shapes and paging, the sample templates, POST /_simulator/templates, and
// what a message's ContentSid meets at create.

const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
const AUTH_TOKEN = 'content-test-token';
const FROM = 'whatsapp:+14155238886';
const { deliveryUpdate, coopNotice, seasonalOffer, appointmentReminder, flashSale, harvestSurvey } =
  SAMPLE_TEMPLATES;

const running: TwilioSimulator[] = [];
const dirs: string[] = [];

async function start(dataDir?: string) {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'twilio-content-')));
  dirs.push(dir);
  const sim = await startTwilioSimulator({
    port: 0,
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    latencyMs: 1,
    callbackDelayMs: 10,
    dataDir: dir,
    log: () => {},
  });
  running.push(sim);
  const options = { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBaseUrl: sim.url };
  return { sim, dir, client: createTwilioClient(options), registry: new TwilioTemplateRegistry(options) };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.stop()));
});
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function addTemplate(sim: TwilioSimulator, body: unknown) {
  const res = await fetch(`${sim.url}/_simulator/templates`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the Content API, through the twilio SDK', () => {
  it('lists every sample with its approval through ContentAndApprovals, newest first, as the registry maps it', async () => {
    const { registry } = await start();
    const templates = await registry.list();
    expect(templates.map((t) => t.contentSid)).toEqual(
      Object.values(SAMPLE_TEMPLATES)
        .sort((a, b) => b.dateCreated.localeCompare(a.dateCreated))
        .map((t) => t.contentSid),
    );
    const bySid = new Map(templates.map((t) => [t.contentSid, t]));
    expect(bySid.get(deliveryUpdate.contentSid)).toEqual({
      contentSid: deliveryUpdate.contentSid,
      friendlyName: 'order_delivery_update',
      language: 'en',
      category: 'UTILITY',
      approval: 'approved',
      variables: { '1': 'Dana', '2': 'May 5' },
      body: deliveryUpdate.body,
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
      contentTypes: ['twilio/quick-reply'],
    });
    expect(bySid.get(appointmentReminder.contentSid)?.approval).toBe('pending');
    expect(bySid.get(flashSale.contentSid)).toMatchObject({
      approval: 'rejected',
      rejectionReason: flashSale.rejectionReason,
    });
    expect(bySid.get(harvestSurvey.contentSid)?.approval).toBe('paused');
  });

  it('pages as Twilio does: meta.key and absolute next_page_url on content.twilio.com, which the client sends to the simulator', async () => {
    const { client } = await start();
    const page = await client.content.v1.contentAndApprovals.page({ pageSize: 3 });
    expect(page.instances).toHaveLength(3);
    expect(page.nextPageUrl).toMatch(
      /^https:\/\/content\.twilio\.com\/v1\/ContentAndApprovals\?PageSize=3&Page=1&PageToken=PT/,
    );
    const all = await client.content.v1.contentAndApprovals.list({ pageSize: 3 });
    expect(all.map((c) => c.sid).sort()).toEqual(
      Object.values(SAMPLE_TEMPLATES)
        .map((t) => t.contentSid)
        .sort(),
    );
    const contents = await client.content.v1.contents.list({ pageSize: 2 });
    expect(contents).toHaveLength(Object.keys(SAMPLE_TEMPLATES).length);
    expect(contents[0]?.links).toEqual({
      approval_fetch: `https://content.twilio.com/v1/Content/${contents[0]?.sid}/ApprovalRequests`,
      approval_create: `https://content.twilio.com/v1/Content/${contents[0]?.sid}/ApprovalRequests/whatsapp`,
    });
  });

  it("fetches one template and its ApprovalRequests (under whatsapp); a SID the account lacks is Twilio's 404", async () => {
    const { client, registry } = await start();
    const approval = await client.content.v1.contents(flashSale.contentSid).approvalFetch().fetch();
    expect(approval.whatsapp).toMatchObject({
      type: 'whatsapp',
      name: 'flash_sale',
      category: 'MARKETING',
      status: 'rejected',
      rejection_reason: flashSale.rejectionReason,
    });
    expect(await registry.get(coopNotice.contentSid)).toMatchObject({
      friendlyName: 'coop_notice',
      approval: 'approved',
      variables: {},
      buttons: [{ id: 'read_broadcast', title: 'Read more' }],
    });
    const unknown = `HX${'0'.repeat(32)}`;
    await expect(client.content.v1.contents(unknown).fetch()).rejects.toMatchObject({
      status: 404,
      code: 20404,
    });
    expect(await registry.get(unknown)).toBeUndefined();
  });

  it('checks Basic auth like the Messages API: a wrong token is unauthorized, a stopped simulator unavailable', async () => {
    const { sim } = await start();
    const wrong = new TwilioTemplateRegistry({
      accountSid: ACCOUNT_SID,
      authToken: 'wrong',
      apiBaseUrl: sim.url,
    });
    const refused = await wrong.list().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TemplateRegistryError);
    expect(refused).toMatchObject({
      kind: 'unauthorized',
      message: expect.stringContaining('HTTP 401 (20003)'),
    });
    await sim.stop();
    const down = new TwilioTemplateRegistry({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      apiBaseUrl: sim.url,
      timeoutMs: 1000,
    });
    await expect(down.get(coopNotice.contentSid)).rejects.toMatchObject({ kind: 'unavailable' });
  });
});

describe('POST /_simulator/templates', () => {
  it('adds a template at once (201 with its SID), lists it, and keeps it across a restart', async () => {
    const first = await start();
    const added = await addTemplate(first.sim, {
      friendlyName: 'harvest_day',
      body: 'Hi {{1}}, harvest day is {{2}}.',
      variables: { '1': 'Dana', '2': 'Sunday' },
      category: 'UTILITY',
      approval: 'approved',
      buttons: [{ id: 'confirm_day', title: 'I will come' }],
    });
    expect(added).toEqual({
      status: 201,
      body: {
        contentSid: expect.stringMatching(/^HX[0-9a-f]{32}$/),
        friendlyName: 'harvest_day',
        language: 'en',
        category: 'UTILITY',
        approval: 'approved',
        body: 'Hi {{1}}, harvest day is {{2}}.',
        variables: { '1': 'Dana', '2': 'Sunday' },
        buttons: [{ id: 'confirm_day', title: 'I will come' }],
        dateCreated: expect.any(String),
      },
    });
    const sid = String(added.body.contentSid);
    expect((await first.registry.list())[0]?.contentSid).toBe(sid);
    expect(await first.registry.get(sid)).toMatchObject({
      approval: 'approved',
      buttons: [{ id: 'confirm_day' }],
    });
    expect((await stat(join(first.dir, CONTENT_FILE))).mode & 0o777).toBe(0o600);
    await first.sim.stop();

    const again = await start(first.dir);
    expect(await again.registry.get(sid)).toMatchObject({ friendlyName: 'harvest_day' });
    expect(again.sim.templates().map((t) => t.contentSid)).toContain(sid);
    expect((await readFile(join(first.dir, CONTENT_FILE), 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('refuses what Twilio would not hold, naming each problem, and adds nothing', async () => {
    const { sim } = await start();
    const refused = await addTemplate(sim, {
      friendlyName: '',
      body: 'x',
      variables: { 'has space': 'x' },
      category: 'PROMO',
      approval: 'approved',
      extra: true,
    });
    expect(refused.status).toBe(400);
    for (const problem of ['friendlyName', 'variables.has space', 'category', 'extra'])
      expect(String(refused.body.error)).toContain(problem);
    expect(sim.templates()).toHaveLength(Object.keys(SAMPLE_TEMPLATES).length);
  });
});

describe("a message's ContentSid", () => {
  const statusOf = (sim: TwilioSimulator, sid: string) => sim.messages().find((m) => m.sid === sid);
  const until = (sim: TwilioSimulator, sid: string, status: string) =>
    waitFor(() => (statusOf(sim, sid)?.status === status ? statusOf(sim, sid) : undefined), {
      timeoutMs: 5000,
      message: `${sid} did not reach ${status}`,
    });

  it('the account does not have is refused at create: 400, 21655, nothing created', async () => {
    const { sim, client } = await start();
    const error = await client.messages
      .create({ to: 'whatsapp:+972501230077', from: FROM, contentSid: `HX${'ab'.repeat(16)}` })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400, code: 21655 });
    expect(sim.messages()).toEqual([]);
  });

  it('of a template WhatsApp has not approved is accepted, then fails with 63016 outside the 24-hour window', async () => {
    const { sim, client } = await start();
    for (const template of [appointmentReminder, flashSale, harvestSurvey]) {
      const message = await client.messages.create({
        to: 'whatsapp:+972501230078',
        from: FROM,
        contentSid: template.contentSid,
      });
      expect(await until(sim, message.sid, 'failed')).toMatchObject({ errorCode: 63016 });
    }
  });

  it('of a marketing template fails with 63049 to a US number, and is delivered elsewhere (Canada too)', async () => {
    const { sim, client } = await start();
    const send = (to: string, template: { contentSid: string }) =>
      client.messages.create({ to: `whatsapp:${to}`, from: FROM, contentSid: template.contentSid });
    const us = await send('+12125551234', seasonalOffer);
    expect(await until(sim, us.sid, 'failed')).toMatchObject({
      errorCode: 63049,
      errorMessage: 'Meta chose not to deliver this WhatsApp marketing message',
    });
    await until(sim, (await send('+16135551234', seasonalOffer)).sid, 'read');
    await until(sim, (await send('+972501230079', seasonalOffer)).sid, 'read');
    await until(sim, (await send('+12125551235', deliveryUpdate)).sid, 'read');
  });
});
