import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSum } from '../../lib/local/metrics-file.ts';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Issue 13 item 7, the test send: a broadcast's message to a few test phones only, each with its own
 * contact values or the audience's first member's as a sample, marked test and left out of the
 * tenant's metrics. Through the twin; INITECH sends nothing else, so its metrics are the test's alone.
 */

const ACME = 'key-acme-testsend-0123456789';
const INITECH = 'key-initech-testsend-0123456789';
/** UTILITY, variables 1 and 2. */
const CONTENT_SID = SAMPLE_TEMPLATES.deliveryUpdate.contentSid;
const template = { contentSid: CONTENT_SID, variables: { '1': '{{name|Friend}}', '2': '{{plot|soon}}' } };

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${ACME},initech:${INITECH}`, SIM_MPS: '1000' });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

/** The ContentVariables the simulator received for a phone (its last message). */
function variablesSentTo(phone: string): Json | undefined {
  const sent = (api.twin.simulator?.messagesTo(`whatsapp:${phone}`) ?? []).at(-1);
  return sent?.contentVariables ? JSON.parse(sent.contentVariables) : undefined;
}

async function groupOf(
  key: string,
  members: { phone: string; name: string; plot: string }[],
): Promise<string> {
  const group = await api.call('POST', '/v1/groups', { key, body: { name: 'Growers' } });
  expect(group.status, JSON.stringify(group.body)).toBe(201);
  for (const m of members) {
    const put = await api.call('PUT', `/v1/contacts/${encodeURIComponent(m.phone)}`, {
      key,
      body: { name: m.name, attributes: { plot: m.plot } },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
  }
  const added = await api.call('POST', `/v1/groups/${group.body.groupId}/members`, {
    key,
    body: { phones: members.map((m) => m.phone) },
  });
  expect(added.status, JSON.stringify(added.body)).toBe(200);
  return group.body.groupId as string;
}

describe('a test send', () => {
  it("sends to the test phones only, a contact's own values or the first member's as a sample, marked test and not counted", async () => {
    const [first, second] = [testPhone(), testPhone()];
    const groupId = await groupOf(INITECH, [
      { phone: first, name: 'Dana', plot: 'North 4' },
      { phone: second, name: 'Yossi', plot: 'South 1' },
    ]);
    const [tester, colleague] = [testPhone(), testPhone()];
    await api.call('PUT', `/v1/contacts/${encodeURIComponent(colleague)}`, {
      key: INITECH,
      body: { name: 'Avi', attributes: { plot: 'Office' } },
    });
    const firstBody = {
      name: 'Harvest day',
      template,
      audience: { groupIds: [groupId] },
      canary: { recipients: 1, maxFailureRate: 0 },
      testPhones: [tester, colleague.replace('+97250', '050-'), tester],
      defaultCountry: 'IL',
    };
    const sent = await api.call('POST', '/v1/broadcasts/test-send', { key: INITECH, body: firstBody });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    // Who the broadcast has is the phones as given, normalized and deduplicated (the repeat dropped).
    const members = (await api.call('GET', `/v1/groups/${groupId}/members`, { key: INITECH })).body.items;
    const sample = members[0].phone as string;
    expect(sent.body).toMatchObject({
      test: true,
      totalRecipients: 2,
      testPhones: [
        { phone: tester, valuesFrom: 'sample' },
        { phone: colleague, valuesFrom: 'contact' },
      ],
      sample: { phone: sample },
    });
    const id = sent.body.broadcastId as string;
    const done = await api.untilBroadcast(id, INITECH, 'completed');
    expect(done).toMatchObject({ test: true, name: 'Test: Harvest day', totalRecipients: 2 });
    expect(done.canary).toBeUndefined();
    const sampleMember = members[0] as Json;
    expect(variablesSentTo(tester)).toEqual({ '1': sampleMember.name, '2': sampleMember.attributes.plot });
    expect(variablesSentTo(colleague)).toEqual({ '1': 'Avi', '2': 'Office' });
    expect(api.messagesTo(tester)).toBe(1);
    expect(api.messagesTo(first) + api.messagesTo(second)).toBe(0);

    // Listed as a test, hidden with ?test=false, alone with ?test=true.
    const all = await api.call('GET', '/v1/broadcasts', { key: INITECH });
    expect(all.body.items.find((b: Json) => b.broadcastId === id)).toMatchObject({ test: true });
    const real = await api.call('GET', '/v1/broadcasts?test=false', { key: INITECH });
    expect(real.body.items.map((b: Json) => b.broadcastId)).not.toContain(id);
    const tests = await api.call('GET', '/v1/broadcasts?test=true', { key: INITECH });
    expect(tests.body.items.map((b: Json) => b.broadcastId)).toEqual([id]);

    // Not the tenant's traffic: its counts are done (read has arrived), yet the metrics show none of it.
    await waitFor(async () => ((await api.progress(id, INITECH)).counts.read === 2 ? true : undefined), {
      timeoutMs: 30_000,
      message: 'the test messages were not read',
    });
    const metrics = await api.call('GET', '/v1/metrics', { key: INITECH });
    expect(metrics.body).toMatchObject({ sentLast5m: 0, failedLast5m: 0, activeBroadcasts: 0 });
    // Nor the service's CloudWatch metrics (DATA_DIR/metrics.jsonl on the twin): nothing else was sent yet.
    expect(metricSum(api.dataDir, 'MessagesSent')).toBe(0);
    expect(metricSum(api.dataDir, 'StatusCallbacks', { Status: 'read' })).toBe(0);

    // The same test again within the window is the same test: a double click sends nothing more...
    const again = await api.call('POST', '/v1/broadcasts/test-send', { key: INITECH, body: firstBody });
    expect(again.body).toMatchObject({ broadcastId: id, idempotent: true, test: true });
    // ...and a real broadcast of exactly what the test sent is never taken for it.
    const realOne = await api.call('POST', '/v1/broadcasts', {
      key: INITECH,
      body: {
        template,
        defaultCountry: 'IL',
        recipients: [
          { phone: tester, variables: { name: sampleMember.name, plot: sampleMember.attributes.plot } },
          colleague,
        ],
      },
    });
    expect(realOne.status, JSON.stringify(realOne.body)).toBe(202);
    expect(realOne.body).toMatchObject({ idempotent: false });
    expect(realOne.body.broadcastId).not.toBe(id);
    expect(realOne.body.test).toBeUndefined();
    await api.untilBroadcast(realOne.body.broadcastId, INITECH, 'completed');
    // The real one is counted: its two messages (the file is written at each invocation's end).
    await waitFor(async () => (metricSum(api.dataDir, 'MessagesSent') === 2 ? true : undefined), {
      timeoutMs: 10_000,
      message: 'the real broadcast was not in the metrics',
    });
  }, 120_000);

  it('refuses missing, too many or invalid test phones, and another tenant’s group, writing nothing', async () => {
    const body = { template, recipients: [testPhone()] };
    const cases: [Json, string][] = [
      [body, 'testPhones'],
      [{ ...body, testPhones: [] }, 'testPhones'],
      [{ ...body, testPhones: Array.from({ length: 11 }, () => testPhone()) }, 'testPhones'],
      [{ ...body, testPhones: [testPhone(), '12'] }, 'testPhones.1'],
      [{ ...body, testPhones: [testPhone()], recipients: undefined }, 'recipients'],
    ];
    for (const [request, path] of cases) {
      const answer = await api.call('POST', '/v1/broadcasts/test-send', { key: ACME, body: request });
      expect(answer.status, JSON.stringify(answer.body)).toBe(400);
      expect(answer.body.error.code).toBe('VALIDATION_FAILED');
      expect(answer.body.error.details.map((d: Json) => d.path)).toContain(path);
    }
    const theirs = await groupOf(INITECH, [{ phone: testPhone(), name: 'Noa', plot: '7' }]);
    const foreign = await api.call('POST', '/v1/broadcasts/test-send', {
      key: ACME,
      body: { template, audience: { groupIds: [theirs] }, testPhones: [testPhone()] },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.details[0]).toMatchObject({
      path: 'audience.groupIds.0',
      message: 'no such group',
    });
    const acme = await api.call('GET', '/v1/broadcasts', { key: ACME });
    expect(acme.body.items).toEqual([]);
  }, 60_000);
});
