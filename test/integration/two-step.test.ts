import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * The two-step flow, opt-out and contact history end to end (issue 5): the real handlers on the
 * local twin, the Twilio simulator playing the contact through its tap and inbound controls, which
 * post signed webhooks exactly as Twilio would.
 */
const KEY = 'key-acme-two-step';
const OTHER_KEY = 'key-other-two-step';
// A sample template of the Twilio simulator: no variables, and a Read more button (read_broadcast).
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;
const FOLLOW_UP = 'The full text: subsidy forms are at the co-op office until May 5.';

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${KEY},other:${OTHER_KEY}` });
}, 90_000);

afterAll(async () => {
  await api?.stop();
});

async function broadcastTo(phones: string[], extra: Json = {}): Promise<Json> {
  const { status, body } = await api.call('POST', '/v1/broadcasts', {
    key: KEY,
    body: {
      name: `two-step ${Math.random()}`,
      template: { contentSid: CONTENT_SID },
      recipients: phones,
      ...extra,
    },
  });
  expect(status, JSON.stringify(body)).toBe(202);
  return body;
}

async function recipientOf(broadcastId: string, phone: string): Promise<Json> {
  const { body } = await api.call('GET', `/v1/broadcasts/${broadcastId}/recipients?limit=500`, { key: KEY });
  const found = (body.items as Json[]).find((r) => r.phone === phone);
  if (!found) throw new Error(`no recipient ${phone} in ${broadcastId}`);
  return found;
}

/**
 * Waits until the recipient's template reached the handset and is on file in the contact's history
 * (the stream files it a moment after its first callback), and returns it (with its SID).
 */
function untilDelivered(broadcastId: string, phone: string): Promise<Json> {
  return waitFor(
    async () => {
      const r = await recipientOf(broadcastId, phone);
      if (!r.messageSid || !['delivered', 'read'].includes(r.status)) return undefined;
      const history = await api.call('GET', `/v1/contacts/${encodeURIComponent(phone)}/messages`, {
        key: KEY,
      });
      return (history.body.items as Json[]).some((m) => m.messageSid === r.messageSid) ? r : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 150, message: `the template to ${phone} was not delivered` },
  );
}

function followUpsTo(phone: string) {
  return (api.twin.simulator?.messagesTo(`whatsapp:${phone}`) ?? []).filter((m) => m.contentSid === null);
}

async function tap(sid: string, body: Json = {}) {
  const answer = await api.simulator(`/_simulator/messages/${sid}/tap`, body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.webhookStatus).toBe(200);
  return answer.body;
}

async function write(from: string, text: string) {
  const answer = await api.simulator('/_simulator/inbound', { from, body: text });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.webhookStatus).toBe(200);
  return answer.body;
}

describe('two-step broadcasts', () => {
  it('a tap sends exactly one follow-up with its text; more taps and redeliveries send nothing more', async () => {
    const phone = testPhone();
    const created = await broadcastTo([phone], {
      followUp: { body: FOLLOW_UP, confirmPayload: 'read_broadcast' },
    });
    const template = await untilDelivered(created.broadcastId, phone);
    await expect
      .poll(async () => (await api.progress(created.broadcastId, KEY)).followUp, { timeout: 10_000 })
      .toMatchObject({ awaitingConfirmation: 1, confirmed: 0 });

    const first = await tap(template.messageSid, { payload: 'read_broadcast', text: 'Read more' });
    const confirmed = await waitFor(
      async () => {
        const r = await recipientOf(created.broadcastId, phone);
        return ['delivered', 'read'].includes(r.followUp?.status) ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 150, message: 'the follow-up was not delivered' },
    );
    expect(confirmed.confirmedAt).toBeDefined();
    expect(confirmed.followUp.messageSid).toMatch(/^SM/);
    const sent = followUpsTo(phone);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.body).toBe(FOLLOW_UP);
    expect(sent[0]?.sid).toBe(confirmed.followUp.messageSid);

    // A second tap, and Twilio delivering the first tap's webhook again.
    await tap(template.messageSid, { payload: 'read_broadcast' });
    await tap(template.messageSid, { payload: 'read_broadcast', messageSid: first.messageSid });
    await api.untilQueueDrained('send');
    expect(followUpsTo(phone)).toHaveLength(1);

    await expect
      .poll(async () => (await api.progress(created.broadcastId, KEY)).followUp, { timeout: 10_000 })
      .toMatchObject({ awaitingConfirmation: 0, confirmed: 1, queued: 0, sending: 0 });
    await expect
      .poll(
        async () => {
          const { followUp } = await api.progress(created.broadcastId, KEY);
          return followUp.delivered + followUp.read;
        },
        { timeout: 10_000 },
      )
      .toBe(1);

    // The contact's history: the template, the taps (the redelivery is not a new one), the follow-up.
    const history = await api.call('GET', `/v1/contacts/${encodeURIComponent(phone)}/messages`, { key: KEY });
    expect(history.status).toBe(200);
    const oldestFirst = [...(history.body.items as Json[])].reverse();
    expect(oldestFirst.map((m) => `${m.direction}/${m.type}`)).toEqual([
      'outbound/broadcast',
      'inbound/inbound',
      'outbound/follow_up',
      'inbound/inbound',
    ]);
    expect(oldestFirst[0]).toMatchObject({
      messageSid: template.messageSid,
      broadcastId: created.broadcastId,
    });
    expect(oldestFirst[1]).toMatchObject({
      messageSid: first.messageSid,
      buttonPayload: 'read_broadcast',
      repliedToSid: template.messageSid,
      status: 'received',
    });
    expect(oldestFirst[2]).toMatchObject({ messageSid: confirmed.followUp.messageSid, body: FOLLOW_UP });
    expect(['sent', 'delivered', 'read']).toContain(oldestFirst[2]?.status);

    // Another tenant sees none of it.
    const theirs = await api.call('GET', `/v1/contacts/${encodeURIComponent(phone)}/messages`, {
      key: OTHER_KEY,
    });
    expect(theirs).toMatchObject({ status: 200, body: { items: [] } });
    const theirBroadcast = await api.call('GET', `/v1/broadcasts/${created.broadcastId}`, { key: OTHER_KEY });
    expect(theirBroadcast.status).toBe(404);
  }, 60_000);

  it('a forged tap is refused and sends nothing; taps that do not confirm send nothing either', async () => {
    const phone = testPhone();
    const stranger = testPhone();
    const created = await broadcastTo([phone, stranger], {
      followUp: { body: FOLLOW_UP, confirmPayload: 'read_broadcast' },
    });
    const template = await untilDelivered(created.broadcastId, phone);
    await untilDelivered(created.broadcastId, stranger);

    // Forged: the right form, signed with the wrong token.
    const url = `${api.twin.publicBaseUrl}/webhooks/twilio/inbound`;
    const tapBy = (from: string, sid: string) => ({
      MessageSid: `SM${sid.repeat(32)}`,
      From: `whatsapp:${from}`,
      To: 'whatsapp:+14155238886',
      Body: 'Read more',
      ButtonText: 'Read more',
      ButtonPayload: 'read_broadcast',
      OriginalRepliedMessageSid: template.messageSid,
    });
    const post = (params: Record<string, string>, token: string) =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilio.getExpectedTwilioSignature(token, url, params),
        },
        body: new URLSearchParams(params).toString(),
      });
    expect((await post(tapBy(phone, 'f'), 'not-the-token')).status).toBe(403);

    // Another button; and a tap from another number naming this recipient's message (WhatsApp itself
    // cannot send that, so it is signed here with the real token: the product checks the phone anyway).
    await tap(template.messageSid, { payload: 'not_interested', text: 'Not interested' });
    const token = api.twin.simulator?.authToken ?? '';
    expect((await post(tapBy(stranger, 'e'), token)).status).toBe(200);
    await api.untilQueueDrained('send');

    expect(followUpsTo(phone)).toHaveLength(0);
    expect(followUpsTo(stranger)).toHaveLength(0);
    const r = await recipientOf(created.broadcastId, phone);
    expect(r.confirmedAt).toBeUndefined();
    expect(r.followUp).toBeUndefined();
  }, 60_000);

  it('a tap after the 24-hour window is recorded, but no free-form text is sent', async () => {
    const phone = testPhone();
    const created = await broadcastTo([phone], { followUp: { body: FOLLOW_UP } });
    const template = await untilDelivered(created.broadcastId, phone);
    // The template went out 25 hours ago: rewrite its sentAt in the ledger (shard 0, index 0).
    const db = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: api.twin.dynamodbEndpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      }),
    );
    await db.send(
      new UpdateCommand({
        TableName: api.twin.tableNames.main,
        Key: { pk: `BROADCAST#${created.broadcastId}#S00`, sk: 'R#0000000' },
        UpdateExpression: 'SET sentAt = :then',
        ExpressionAttributeValues: { ':then': new Date(Date.now() - 25 * 3600 * 1000).toISOString() },
      }),
    );
    db.destroy();

    // Without a confirmPayload, any button confirms.
    await tap(template.messageSid, { payload: 'whatever_button' });
    await api.untilQueueDrained('send');
    const r = await recipientOf(created.broadcastId, phone);
    expect(r.confirmedAt).toBeDefined();
    expect(r.followUp).toMatchObject({ status: 'expired' });
    expect(followUpsTo(phone)).toHaveLength(0);
    await expect
      .poll(async () => (await api.progress(created.broadcastId, KEY)).followUp, { timeout: 10_000 })
      .toMatchObject({ confirmed: 1, expired: 1, queued: 0 });
  }, 60_000);
});

describe('opt-out', () => {
  it('STOP suppresses the number: the next broadcast skips it and sends it nothing; START re-enables', async () => {
    const phone = testPhone();
    const first = await broadcastTo([phone]);
    await untilDelivered(first.broadcastId, phone);
    // The person's reply is filed with the tenant that messaged them: that message is in their history.
    await expect
      .poll(
        async () =>
          (await api.call('GET', `/v1/contacts/${encodeURIComponent(phone)}/messages`, { key: KEY })).body
            .items.length,
        { timeout: 10_000 },
      )
      .toBe(1);

    const stop = await write(phone, ' Stop! ');
    expect(stop.webhookBody).toBe('<Response/>'); // no confirmation text unless OPT_OUT_CONFIRMATION_TEXT is set
    const list = await api.call('GET', '/v1/suppressions', { key: KEY });
    expect(list.body.items).toContainEqual(
      expect.objectContaining({ phone, reason: 'opt_out_keyword', detail: 'stop', scope: 'sender' }),
    );
    // The person opted out of the sender both tenants send from: the other tenant's list shows it too.
    const theirs = await api.call('GET', '/v1/suppressions?limit=500', { key: OTHER_KEY });
    expect(theirs.body.items).toContainEqual(expect.objectContaining({ phone, scope: 'sender' }));

    const other = testPhone();
    const second = await broadcastTo([phone, other]);
    expect(second).toMatchObject({ totalRecipients: 2, queuedCount: 1, skippedCount: 1 });
    expect(second.items).toContainEqual({ phone, status: 'skipped', skipReason: 'suppressed' });
    const done = await api.untilBroadcast(second.broadcastId, KEY);
    expect(done.status).toBe('completed');
    expect(done.counts).toMatchObject({ skipped: 1 });
    expect((await recipientOf(second.broadcastId, phone)).status).toBe('skipped');
    expect(api.messagesTo(phone)).toBe(1);

    await write(phone, 'START');
    for (const key of [KEY, OTHER_KEY]) {
      const after = await api.call('GET', '/v1/suppressions?limit=500', { key });
      expect((after.body.items as Json[]).map((s) => s.phone)).not.toContain(phone);
    }
    // Another template: the same request again would be the first broadcast (idempotent) again.
    const third = await broadcastTo([phone], {
      template: { contentSid: SAMPLE_TEMPLATES.subsidyReminder.contentSid, variables: { '1': 'Dana' } },
    });
    expect(third).toMatchObject({ idempotent: false, queuedCount: 1, skippedCount: 0 });
    await untilDelivered(third.broadcastId, phone);
    expect(api.messagesTo(phone)).toBe(2);

    const history = await api.call('GET', `/v1/contacts/${encodeURIComponent(phone)}/messages`, { key: KEY });
    expect(
      (history.body.items as Json[]).filter((m) => m.direction === 'inbound').map((m) => m.body),
    ).toEqual(['START', ' Stop! ']);
  }, 60_000);

  it('opt-out words in other languages and an opt-out button suppress too', async () => {
    const hebrew = testPhone();
    const button = testPhone();
    const created = await broadcastTo([hebrew, button]);
    const template = await untilDelivered(created.broadcastId, button);
    await untilDelivered(created.broadcastId, hebrew);

    await write(hebrew, 'הסר');
    await tap(template.messageSid, { payload: 'opt_out', text: 'Stop promotions' });
    const list = await api.call('GET', '/v1/suppressions?limit=500', { key: KEY });
    expect(list.body.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ phone: hebrew, reason: 'opt_out_keyword' }),
        expect.objectContaining({ phone: button, reason: 'opt_out_button' }),
      ]),
    );
  }, 60_000);

  it('a message from a number no tenant has messaged is answered and stored nowhere (an opt-out is kept: opt-out-identity.test.ts)', async () => {
    const stranger = testPhone();
    const answer = await write(stranger, 'Hello, who is this?');
    expect(answer.webhookBody).toBe('<Response/>');
    for (const key of [KEY, OTHER_KEY]) {
      const list = await api.call('GET', '/v1/suppressions?limit=500', { key });
      expect((list.body.items as Json[]).map((s) => s.phone)).not.toContain(stranger);
      const history = await api.call('GET', `/v1/contacts/${encodeURIComponent(stranger)}/messages`, { key });
      expect(history.body.items).toEqual([]);
    }
  }, 60_000);
});
