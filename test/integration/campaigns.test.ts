import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCampaigns } from '../../functions/adapters/dynamo-campaigns.ts';
import { acceptBroadcast } from '../../functions/commons/broadcast-creation.ts';
import type { CampaignRun, Campaigns } from '../../functions/core/campaigns.ts';
import { firingsAfter, parseSchedule } from '../../functions/core/schedule-expressions.ts';
import { handler as runSchedules } from '../../functions/run-schedules.ts';
import { createCampaignRun } from '../../functions/use-cases/campaign-run.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator/content.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';
import { silentLogger } from '../support/broadcasts.ts';

/**
 * Issue 13 items 1-3 and 5 through the twin: campaigns on its EventBridge Scheduler, whose clock this
 * test moves (`tick()` fires what is due), and which delivers every firing TWICE (Scheduler is
 * at-least-once): each run below is also a duplicate-delivery test.
 */
const ACME = 'key-acme-campaigns-0123456789';
const GLOBEX = 'key-globex-campaigns-0123456789';
const CONTENT_SID = SAMPLE_TEMPLATES.deliveryUpdate.contentSid;
const TEMPLATE = { contentSid: CONTENT_SID, variables: { '1': '{{name|friend}}', '2': 'Monday' } };

let api: ApiTwin;
let clock = new Date();
let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  api = await startApiTwin(
    { LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX}`, SIM_MPS: '1000', SENDER_MPS: '500' },
    { scheduler: { now: () => clock, tickMs: 0, deliveriesPerFiring: 2 } },
  );
  doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: api.twin.dynamodbEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
}, 60_000);

afterAll(async () => {
  doc?.destroy();
  await api?.stop();
});

/** Moves the Scheduler's clock to `at` and delivers what is due. */
async function fireAt(at: Date): Promise<void> {
  clock = at;
  await api.twin.scheduler.tick();
}

async function groupOf(key: string, phones: string[]): Promise<string> {
  const group = await api.call('POST', '/v1/groups', { key, body: { name: 'Farmers' } });
  expect(group.status).toBe(201);
  const added = await api.call('POST', `/v1/groups/${group.body.groupId}/members`, { key, body: { phones } });
  expect(added.status).toBe(200);
  return group.body.groupId as string;
}

async function createCampaign(key: string, body: Json): Promise<Json> {
  clock = new Date();
  const created = await api.call('POST', '/v1/campaigns', { key, body });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

const campaign = async (key: string, id: string) =>
  (await api.call('GET', `/v1/campaigns/${id}`, { key })).body;
const broadcastsOf = async (key: string, campaignName: string) =>
  ((await api.call('GET', '/v1/broadcasts?limit=100', { key })).body.items as Json[]).filter((b) =>
    String(b.name).startsWith(`${campaignName} · `),
  );

describe('campaigns', () => {
  it('a weekly campaign in Nairobi time: created with its next runs, one broadcast per firing to the group as it is then', async () => {
    const phones = [testPhone(), testPhone()];
    const groupId = await groupOf(ACME, phones);
    const created = await createCampaign(ACME, {
      name: 'Weekly prices',
      audience: { groupIds: [groupId] },
      template: TEMPLATE,
      schedule: { expression: 'cron(0 9 ? * MON *)', timeZone: 'Africa/Nairobi' },
    });
    const expected = firingsAfter(
      parseSchedule({ expression: 'cron(0 9 ? * MON *)', timeZone: 'Africa/Nairobi' }),
      new Date(),
      5,
      // As Scheduler writes its scheduled time (no milliseconds): the runs' scheduledFor will match.
    ).map((d) => d.toISOString().replace('.000Z', 'Z'));
    expect(created).toMatchObject({
      campaignId: expect.stringMatching(/^cmp_[0-9A-Z]{26}$/),
      status: 'active',
      nextRunAt: expected[0],
      nextRuns: expected,
      audience: { groupIds: [groupId] },
      template: TEMPLATE,
      runs: [],
    });
    // 09:00 in Nairobi is 06:00 UTC, on a Monday.
    expect(new Date(created.nextRunAt).getUTCHours()).toBe(6);
    expect(new Date(created.nextRunAt).getUTCDay()).toBe(1);
    expect(api.twin.scheduler.list().find((s) => s.Name === created.campaignId)).toMatchObject({
      ScheduleExpression: 'cron(0 9 ? * MON *)',
      ScheduleExpressionTimezone: 'Africa/Nairobi',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
    });

    // A member added before the firing is sent to: the audience is read at each run.
    const late = testPhone();
    await api.call('POST', `/v1/groups/${groupId}/members`, { key: ACME, body: { phones: [late] } });
    await fireAt(new Date(Date.parse(expected[0] as string) + 5_000));
    const after = await campaign(ACME, created.campaignId);
    expect(after.runs).toEqual([
      {
        scheduledFor: expected[0],
        broadcastId: expect.any(String),
        status: expect.any(String),
      },
    ]);
    expect(after.nextRunAt).toBe(expected[0]); // the API's clock is the real one: the firing was "early"
    const made = await broadcastsOf(ACME, 'Weekly prices');
    expect(made.map((b) => b.broadcastId)).toEqual([after.runs[0].broadcastId]);
    const done = await api.untilBroadcast(after.runs[0].broadcastId, ACME);
    expect(done).toMatchObject({
      status: 'completed',
      totalRecipients: 3,
      campaign: { campaignId: created.campaignId, scheduledFor: after.runs[0].scheduledFor },
    });
    for (const phone of [...phones, late]) expect(api.messagesTo(phone)).toBe(1);
  }, 60_000);

  it('skips a firing while the previous run still sends, records an empty audience as a failed run, and stops while paused', async () => {
    const groupId = await groupOf(ACME, [testPhone()]);
    const created = await createCampaign(ACME, {
      name: 'Every minute',
      audience: { groupIds: [groupId] },
      template: TEMPLATE,
      schedule: { expression: 'cron(* * * * ? *)' },
    });
    const first = Date.parse(created.nextRunAt);
    const minute = (n: number) => new Date(first + n * 60_000 + 2_000);
    await fireAt(minute(0));
    await fireAt(minute(1)); // at once: the first run's broadcast is not final yet
    let runs = (await campaign(ACME, created.campaignId)).runs as Json[] & [Json, Json];
    expect(runs.map((r) => r.status)).toEqual(['skipped', expect.any(String)]);
    expect(runs[0].reason).toMatch(new RegExp(`previous run's broadcast ${runs[1].broadcastId} is still`));
    await api.untilBroadcast(runs[1].broadcastId, ACME);

    // Paused: the schedule is disabled; a firing in flight would find the campaign paused.
    const paused = await api.call('POST', `/v1/campaigns/${created.campaignId}/pause`, { key: ACME });
    expect(paused.body).toMatchObject({ status: 'paused', nextRuns: [] });
    expect(api.twin.scheduler.list().find((s) => s.Name === created.campaignId)?.State).toBe('DISABLED');
    await fireAt(minute(2));
    await fireAt(minute(3));
    expect((await campaign(ACME, created.campaignId)).runs).toHaveLength(2);
    // Resumed: the missed minutes are not replayed; the next one runs.
    const resumed = await api.call('POST', `/v1/campaigns/${created.campaignId}/resume`, { key: ACME });
    expect(resumed.body.status).toBe('active');
    await fireAt(minute(3.5));
    expect((await campaign(ACME, created.campaignId)).runs).toHaveLength(2);
    await fireAt(minute(4));
    runs = (await campaign(ACME, created.campaignId)).runs as Json[] & [Json, Json];
    expect(runs.map((r) => r.scheduledFor)).toEqual(
      [4, 1, 0].map((n) => new Date(first + n * 60_000).toISOString().replace('.000Z', 'Z')),
    );
    expect(runs[0].broadcastId).toEqual(expect.any(String));
    expect(await broadcastsOf(ACME, 'Every minute')).toHaveLength(2);
    await api.untilBroadcast(runs[0].broadcastId, ACME);

    // An audience that resolves to nobody: a failed run with the API's error, no exception loop.
    const empty = await createCampaign(ACME, {
      name: 'Nobody',
      audience: { tags: ['nobody-has-this-tag'] },
      template: TEMPLATE,
      schedule: { expression: 'rate(1 hour)' },
    });
    await fireAt(new Date(Date.parse(empty.nextRunAt) + 1_000));
    const failed = (await campaign(ACME, empty.campaignId)).runs as Json[];
    expect(failed).toEqual([
      {
        scheduledFor: expect.any(String),
        status: 'failed',
        error: { code: 'NO_VALID_RECIPIENTS', message: expect.any(String) },
      },
    ]);
  }, 90_000);

  it('pausing a campaign pauses its run still sending, and resuming it resumes that run: nobody sent twice', async () => {
    const phones = Array.from({ length: 20 }, () => testPhone());
    const groupId = await groupOf(ACME, phones);
    const created = await createCampaign(ACME, {
      name: 'Pausable',
      audience: { groupIds: [groupId] },
      template: TEMPLATE,
      schedule: { expression: 'rate(1 day)' },
    });
    await fireAt(new Date(Date.parse(created.nextRunAt) + 1_000));
    const [run] = (await campaign(ACME, created.campaignId)).runs as Json[];
    const paused = await api.call('POST', `/v1/campaigns/${created.campaignId}/pause`, { key: ACME });
    expect(paused.status).toBe(200);
    const broadcast = (await api.call('GET', `/v1/broadcasts/${run?.broadcastId}`, { key: ACME })).body;
    expect(broadcast).toMatchObject({ status: 'paused' });
    expect((await campaign(ACME, created.campaignId)).runs[0]).toMatchObject({ status: 'paused' });

    const resumed = await api.call('POST', `/v1/campaigns/${created.campaignId}/resume`, { key: ACME });
    expect(resumed.status).toBe(200);
    expect(await api.untilBroadcast(run?.broadcastId, ACME)).toMatchObject({ status: 'completed' });
    for (const phone of phones) expect(api.messagesTo(phone)).toBe(1);
  }, 60_000);

  it('a crash between the broadcast and its run record: the next delivery records the same broadcast', async () => {
    const groupId = await groupOf(ACME, [testPhone()]);
    const created = await createCampaign(ACME, {
      name: 'Crashy',
      audience: { groupIds: [groupId] },
      template: TEMPLATE,
      schedule: { expression: 'rate(1 day)' },
    });
    const store = new DynamoCampaigns(doc, api.twin.tableNames.main as string);
    let crashes = 1;
    const crashing: Campaigns = {
      create: (c, i) => store.create(c, i),
      findByIdempotencyKey: (t, k, n) => store.findByIdempotencyKey(t, k, n),
      get: (t, id) => store.get(t, id),
      list: (t, p) => store.list(t, p),
      setStatus: (t, id, from, to, at) => store.setStatus(t, id, from, to, at),
      delete: (t, id) => store.delete(t, id),
      getRun: (id, at) => store.getRun(id, at),
      runs: (id, n) => store.runs(id, n),
      recordRun: async (campaignId: string, run: CampaignRun) => {
        if (crashes-- > 0) throw new Error('the function died here');
        return store.recordRun(campaignId, run);
      },
    };
    const run = createCampaignRun({
      campaigns: crashing,
      broadcastStatus: async () => 'completed',
      accept: acceptBroadcast,
      logger: silentLogger,
    });
    const firing = { tenantId: 'acme', campaignId: created.campaignId, scheduledFor: '2026-12-01T06:00:00Z' };
    await expect(run(firing)).rejects.toThrow('the function died here');
    const recorded = await run(firing);
    expect(recorded).toMatchObject({ outcome: 'started', broadcastId: expect.any(String) });
    expect(await broadcastsOf(ACME, 'Crashy')).toEqual([
      expect.objectContaining({ broadcastId: recorded?.broadcastId }),
    ]);
    // And a third delivery of the same firing changes nothing.
    expect(await run(firing)).toEqual(recorded);
    await api.untilBroadcast(recorded?.broadcastId as string, ACME);
  }, 60_000);

  it("refuses what it cannot schedule, and keeps each tenant's campaigns its own", async () => {
    const groupId = await groupOf(ACME, [testPhone()]);
    const body = { name: 'Bad', audience: { groupIds: [groupId] }, template: TEMPLATE };
    const bad = await api.call('POST', '/v1/campaigns', {
      key: ACME,
      body: { ...body, schedule: { expression: 'cron(0 9 * * MON *)', timeZone: 'Africa/Nairobi' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ path: 'schedule.expression', message: expect.stringMatching(/put '\?' in one of them/) }],
    });
    const past = await api.call('POST', '/v1/campaigns', {
      key: ACME,
      body: { ...body, schedule: { expression: 'at(2020-01-01T09:00:00)' } },
    });
    expect(past.body.error.details[0].message).toMatch(/has passed/);
    const listed = await api.call('POST', '/v1/campaigns', {
      key: ACME,
      body: { ...body, recipients: ['+972501234567'], schedule: { expression: 'rate(1 day)' } },
    });
    expect(listed.body.error.details).toEqual([
      { path: 'recipients', message: expect.stringMatching(/audience/) },
    ]);
    // Another tenant's group is no group of this one.
    const theirGroup = await groupOf(GLOBEX, [testPhone()]);
    const foreign = await api.call('POST', '/v1/campaigns', {
      key: ACME,
      body: { ...body, audience: { groupIds: [theirGroup] }, schedule: { expression: 'rate(1 day)' } },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.details).toEqual([
      { path: 'audience.groupIds.0', message: 'no such group', groupId: theirGroup },
    ]);
    const before = (await api.call('GET', '/v1/campaigns?limit=500', { key: ACME })).body.items.length;
    expect(api.twin.scheduler.list().filter((s) => s.Name.startsWith('cmp_'))).toHaveLength(before);

    const mine = await createCampaign(ACME, {
      ...body,
      name: 'Mine',
      schedule: { expression: 'rate(7 days)' },
    });
    for (const [method, route] of [
      ['GET', `/v1/campaigns/${mine.campaignId}`],
      ['POST', `/v1/campaigns/${mine.campaignId}/pause`],
      ['POST', `/v1/campaigns/${mine.campaignId}/resume`],
      ['DELETE', `/v1/campaigns/${mine.campaignId}`],
    ] as const)
      expect((await api.call(method, route, { key: GLOBEX })).status).toBe(404);
    const theirs = await api.call('GET', '/v1/campaigns', { key: GLOBEX });
    expect(theirs.body.items).toEqual([]);

    // Paging, newest first.
    const newer = await createCampaign(ACME, {
      ...body,
      name: 'Newer',
      schedule: { expression: 'rate(7 days)' },
    });
    const page1 = await api.call('GET', '/v1/campaigns?limit=1', { key: ACME });
    expect(page1.body.items.map((c: Json) => c.campaignId)).toEqual([newer.campaignId]);
    const page2 = await api.call('GET', `/v1/campaigns?limit=1&cursor=${page1.body.nextCursor}`, {
      key: ACME,
    });
    expect(page2.body.items.map((c: Json) => c.campaignId)).toEqual([mine.campaignId]);
    expect(
      (await api.call('GET', `/v1/campaigns?cursor=${page1.body.nextCursor}`, { key: GLOBEX })).status,
    ).toBe(400);

    // An Idempotency-Key: a retried create is the same campaign (one schedule); another body is a 409.
    const keyed = { ...body, name: 'Keyed', schedule: { expression: 'rate(7 days)' } };
    const headers = { 'Idempotency-Key': 'create-keyed-campaign-1' };
    const once = await api.call('POST', '/v1/campaigns', { key: ACME, body: keyed, headers });
    const again = await api.call('POST', '/v1/campaigns', { key: ACME, body: keyed, headers });
    expect(once.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.campaignId).toBe(once.body.campaignId);
    expect(api.twin.scheduler.list().filter((s) => s.Name === once.body.campaignId)).toHaveLength(1);
    const other = await api.call('POST', '/v1/campaigns', {
      key: ACME,
      body: { ...keyed, name: 'Other' },
      headers,
    });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    const globexSameKey = await api.call('POST', '/v1/campaigns', {
      key: GLOBEX,
      body: { ...keyed, audience: { phones: [testPhone()] } },
      headers,
    });
    expect(globexSameKey.status).toBe(201);
    expect(globexSameKey.body.campaignId).not.toBe(once.body.campaignId);

    expect((await api.call('DELETE', `/v1/campaigns/${mine.campaignId}`, { key: ACME })).status).toBe(204);
    expect((await api.call('GET', `/v1/campaigns/${mine.campaignId}`, { key: ACME })).status).toBe(404);
    expect(api.twin.scheduler.list().find((s) => s.Name === mine.campaignId)).toBeUndefined();
  }, 60_000);
});

describe('a campaign test send', () => {
  it("sends the campaign's message now to the test phones only, marked test, and never as a run", async () => {
    const members = [testPhone(), testPhone()];
    const groupId = await groupOf(ACME, members);
    const created = await createCampaign(ACME, {
      name: 'Weekly prices (test)',
      audience: { groupIds: [groupId] },
      template: TEMPLATE,
      schedule: { expression: 'cron(0 9 ? * MON *)', timeZone: 'Africa/Nairobi' },
    });
    const seed = testPhone();
    const sent = await api.call('POST', `/v1/campaigns/${created.campaignId}/test-send`, {
      key: ACME,
      body: { testPhones: [seed] },
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    expect(sent.body).toMatchObject({ test: true, campaignId: created.campaignId, totalRecipients: 1 });
    // A non-contact test phone gets the first member's values, and says so.
    expect(sent.body.testPhones).toEqual([{ phone: seed, valuesFrom: 'sample' }]);
    await api.untilBroadcast(sent.body.broadcastId, ACME, 'completed', { timeoutMs: 30_000 });
    expect(api.messagesTo(seed)).toBe(1);
    for (const member of members) expect(api.messagesTo(member), member).toBe(0);
    expect((await campaign(ACME, created.campaignId)).runs).toEqual([]);

    // The message is the campaign's: nothing else is taken; another tenant's campaign is not found.
    const extra = await api.call('POST', `/v1/campaigns/${created.campaignId}/test-send`, {
      key: ACME,
      body: { testPhones: [seed], template: TEMPLATE },
    });
    expect(extra.status).toBe(400);
    expect(extra.body.error.details[0].path).toBe('template');
    const none = await api.call('POST', `/v1/campaigns/${created.campaignId}/test-send`, {
      key: ACME,
      body: {},
    });
    expect(none.status).toBe(400);
    expect(none.body.error.details[0].path).toMatch(/^testPhones/);
    const foreign = await api.call('POST', `/v1/campaigns/${created.campaignId}/test-send`, {
      key: GLOBEX,
      body: { testPhones: [testPhone()] },
    });
    expect(foreign.status).toBe(404);
  }, 60_000);
});

describe('scheduledAt broadcasts on a one-time schedule', () => {
  it('waits in scheduled, starts at its time through its at() schedule (then gone), and a cancel deletes the schedule', async () => {
    clock = new Date();
    const phone = testPhone();
    const scheduledAt = new Date(Date.now() + 3_600_000);
    const created = await api.call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { template: TEMPLATE, recipients: [phone], scheduledAt: scheduledAt.toISOString() },
    });
    expect(created.body).toMatchObject({ status: 'scheduled' });
    const id = created.body.broadcastId as string;
    expect(api.twin.scheduler.list().find((s) => s.Name === id)).toMatchObject({
      ScheduleExpression: `at(${scheduledAt.toISOString().slice(0, 19)})`,
      ScheduleExpressionTimezone: 'UTC',
      ActionAfterCompletion: 'DELETE',
    });
    await fireAt(new Date(scheduledAt.getTime() - 30_000));
    expect((await api.call('GET', `/v1/broadcasts/${id}`, { key: ACME })).body.status).toBe('scheduled');
    await fireAt(new Date(scheduledAt.getTime() + 1_000));
    expect(await api.untilBroadcast(id, ACME)).toMatchObject({ status: 'completed' });
    expect(api.messagesTo(phone)).toBe(1);
    expect(api.twin.scheduler.list().find((s) => s.Name === id)).toBeUndefined();

    clock = new Date();
    const later = await api.call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { template: TEMPLATE, recipients: [testPhone()], scheduledAt: scheduledAt.toISOString() },
    });
    const laterId = later.body.broadcastId as string;
    expect(api.twin.scheduler.list().find((s) => s.Name === laterId)).toBeDefined();
    expect((await api.call('POST', `/v1/broadcasts/${laterId}/cancel`, { key: ACME })).body.status).toBe(
      'cancelled',
    );
    expect(api.twin.scheduler.list().find((s) => s.Name === laterId)).toBeUndefined();
    // A firing that comes anyway (in flight), or again for one that ran: nothing starts.
    for (const broadcastId of [laterId, id])
      expect(
        await runSchedules({ kind: 'broadcast.start', tenantId: 'acme', broadcastId }, {} as never),
      ).toBe('not-scheduled');
    expect((await api.call('GET', `/v1/broadcasts/${laterId}`, { key: ACME })).body.status).toBe('cancelled');
  }, 60_000);
});
