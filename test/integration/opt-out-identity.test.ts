import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoApiKeys } from '../../functions/adapters/dynamo-api-keys.ts';
import { hashApiKey } from '../../functions/core/api-keys.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Issue 10 end to end on the twin: inbound messages matched on the person's WhatsApp identity
 * (Mexico's +52 1, Brazil's 12-digit accounts), and an opt-out that is never lost (sender-wide, from
 * any number form, whether or not a tenant ever messaged it). The simulator plays the contact and
 * posts Twilio's signed form (`From=whatsapp:+521…`, `WaId=521…`).
 */
const ACME = 'key-acme-identity';
const OTHER = 'key-other-identity';
// A sample template of the Twilio simulator (no variables); ANOTHER_TEMPLATE makes a request that is not a repeat.
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;
const ANOTHER_TEMPLATE = {
  template: { contentSid: SAMPLE_TEMPLATES.subsidyReminder.contentSid, variables: { '1': 'Dana' } },
};
const FOLLOW_UP = 'The full text: the co-op office is open until May 5.';
const CONFIRMATION = "You're unsubscribed & will get no more messages. Write START to undo.";
const CONFIRMATION_TWIML =
  '<?xml version="1.0" encoding="UTF-8"?><Response><Message>You&apos;re unsubscribed &amp; will get no more messages. Write START to undo.</Message></Response>';

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${ACME},other:${OTHER}`,
    OPT_OUT_CONFIRMATION_TEXT: CONFIRMATION,
  });
}, 90_000);

afterAll(async () => {
  await api?.stop();
});

let sequence = 1000 + Math.floor(Math.random() * 8000);
/** Four digits the simulator treats as an ordinary number (never 000x). */
const lastFour = () => String(1000 + (sequence++ % 9000));
/** A Mexico City mobile as we send to it (+52 55 …) and as WhatsApp reports it (+52 1 55 …). */
function mexican() {
  const national = `55${String(sequence++ % 10_000).padStart(4, '0')}${lastFour()}`;
  return { sent: `+52${national}`, reported: `+521${national}`, written: `+52 1 ${national}` };
}
/** A Curitiba mobile with its ninth digit (+55 41 9 8…) and as an account older than it (+55 41 8…). */
function brazilian() {
  const eight = `8${String(sequence++ % 1000).padStart(3, '0')}${lastFour()}`;
  return { sent: `+55419${eight}`, reported: `+5541${eight}` };
}

async function broadcast(key: string, recipients: string[], extra: Json = {}): Promise<Json> {
  const { status, body } = await api.call('POST', '/v1/broadcasts', {
    key,
    body: {
      name: `identity ${Math.random()}`,
      template: { contentSid: CONTENT_SID },
      recipients,
      ...extra,
    },
  });
  expect(status, JSON.stringify(body)).toBe(202);
  return body;
}

async function recipientOf(key: string, broadcastId: string, phone: string): Promise<Json> {
  const { body } = await api.call('GET', `/v1/broadcasts/${broadcastId}/recipients?limit=500`, { key });
  const found = (body.items as Json[]).find((r) => r.phone === phone);
  if (!found) throw new Error(`no recipient ${phone} in ${broadcastId}`);
  return found;
}

/**
 * Waits until the template reached the handset and is on file in the contact's history (the stream
 * files it a moment after its first callback): a person's reply is filed with the tenant it answers.
 */
function untilDelivered(key: string, broadcastId: string, phone: string): Promise<Json> {
  return waitFor(
    async () => {
      const r = await recipientOf(key, broadcastId, phone);
      if (!r.messageSid || !['delivered', 'read'].includes(r.status)) return undefined;
      const history = await api.call('GET', `/v1/contacts/${encodeURIComponent(phone)}/messages`, { key });
      return (history.body.items as Json[]).some((m) => m.messageSid === r.messageSid) ? r : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 150, message: `the template to ${phone} was not delivered` },
  );
}

/** The contact writes; returns the inbound webhook's answer. */
async function write(from: string, body: string): Promise<Json> {
  const answer = await api.simulator('/_simulator/inbound', { from, body });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.webhookStatus).toBe(200);
  return answer.body;
}

async function suppressionOf(key: string, phone: string): Promise<Json | undefined> {
  const { body } = await api.call('GET', '/v1/suppressions?limit=500', { key });
  return (body.items as Json[]).find((s) => s.phone === phone);
}

describe('Mexico: STOP from the +52 1 form', () => {
  it('suppresses the number we sent to; the next broadcast skips it and sends it nothing', async () => {
    const mx = mexican();
    const first = await broadcast(ACME, [mx.sent]);
    await untilDelivered(ACME, first.broadcastId, mx.sent);

    // Twilio's inbound From is whatsapp:+52155…, WaId 52155…; the opt-out is confirmed by TwiML.
    const answer = await write(mx.reported, 'STOP');
    expect(answer.webhookBody).toBe(CONFIRMATION_TWIML);
    const inbound = (api.twin.simulator?.inbound() ?? []).find((i) => i.messageSid === answer.messageSid);
    expect(inbound?.params).toMatchObject({ From: `whatsapp:${mx.reported}`, WaId: mx.reported.slice(1) });

    expect(await suppressionOf(ACME, mx.sent)).toMatchObject({
      phone: mx.sent,
      reason: 'opt_out_keyword',
      detail: 'stop',
      scope: 'sender',
    });
    // The STOP is in the contact's history under the number we sent to.
    const history = await api.call('GET', `/v1/contacts/${encodeURIComponent(mx.sent)}/messages`, {
      key: ACME,
    });
    expect((history.body.items as Json[]).map((m) => `${m.direction}/${m.body ?? ''}`)).toEqual([
      'inbound/STOP',
      'outbound/',
    ]);

    // Written the old way (+52 1 …) in the next list: the same person, skipped.
    const second = await broadcast(ACME, [mx.written], ANOTHER_TEMPLATE);
    expect(second).toMatchObject({ totalRecipients: 1, queuedCount: 0, skippedCount: 1 });
    expect(second.items).toEqual([{ phone: mx.sent, status: 'skipped', skipReason: 'suppressed' }]);
    const done = await api.untilBroadcast(second.broadcastId, ACME);
    expect(done.counts).toMatchObject({ skipped: 1 });
    expect(api.messagesTo(mx.sent)).toBe(1);
    expect(api.messagesTo(mx.reported)).toBe(0);
  }, 60_000);
});

describe('Brazil: a tap from the 12-digit form', () => {
  it('confirms the recipient we sent to with the ninth digit and sends the follow-up once; its STOP suppresses', async () => {
    const br = brazilian();
    const created = await broadcast(ACME, [br.sent], {
      followUp: { body: FOLLOW_UP, confirmPayload: 'read_broadcast' },
    });
    const template = await untilDelivered(ACME, created.broadcastId, br.sent);

    const tap = await api.simulator(`/_simulator/messages/${template.messageSid}/tap`, {
      payload: 'read_broadcast',
      from: br.reported,
    });
    expect(tap.status, JSON.stringify(tap.body)).toBe(200);
    expect(tap.body.webhookBody).toBe('<Response/>'); // a tap is no opt-out: no confirmation text
    const confirmed = await waitFor(
      async () => {
        const r = await recipientOf(ACME, created.broadcastId, br.sent);
        return ['delivered', 'read'].includes(r.followUp?.status) ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 150, message: 'the follow-up was not delivered' },
    );
    expect(confirmed.confirmedAt).toBeDefined();
    const followUps = (api.twin.simulator?.messagesTo(`whatsapp:${br.sent}`) ?? []).filter(
      (m) => m.contentSid === null,
    );
    expect(followUps.map((m) => m.body)).toEqual([FOLLOW_UP]);

    // The same tap redelivered sends nothing more.
    await api.simulator(`/_simulator/messages/${template.messageSid}/tap`, {
      payload: 'read_broadcast',
      from: br.reported,
      messageSid: tap.body.messageSid,
    });
    await api.untilQueueDrained('send');
    expect(api.messagesTo(br.sent)).toBe(2);

    await write(br.reported, 'Sair');
    expect(await suppressionOf(ACME, br.sent)).toMatchObject({ reason: 'opt_out_keyword', scope: 'sender' });
    const again = await broadcast(ACME, [br.reported], ANOTHER_TEMPLATE);
    expect(again.items).toEqual([{ phone: br.sent, status: 'skipped', skipReason: 'suppressed' }]);
    await api.untilBroadcast(again.broadcastId, ACME);
    expect(api.messagesTo(br.sent)).toBe(2);
    expect(api.messagesTo(br.reported)).toBe(0);
  }, 60_000);
});

describe('an opt-out from a number nobody ever messaged', () => {
  it('suppresses it for every tenant; an admin cannot lift it; START does', async () => {
    const phone = testPhone();
    const answer = await write(phone, ' Stop! ');
    expect(answer.webhookBody).toBe(CONFIRMATION_TWIML);
    for (const key of [ACME, OTHER])
      expect(await suppressionOf(key, phone)).toMatchObject({
        phone,
        reason: 'opt_out_keyword',
        detail: 'stop',
        scope: 'sender',
      });

    // Another tenant's broadcast skips it, and nothing reaches Twilio.
    const other = testPhone();
    const theirs = await broadcast(OTHER, [phone, other]);
    expect(theirs).toMatchObject({ totalRecipients: 2, queuedCount: 1, skippedCount: 1 });
    const done = await api.untilBroadcast(theirs.broadcastId, OTHER);
    expect(done.counts).toMatchObject({ skipped: 1 });
    expect(api.messagesTo(phone)).toBe(0);

    // Only the person lifts it: the admin's DELETE is refused and changes nothing.
    const refused = await api.call('DELETE', `/v1/suppressions/${encodeURIComponent(phone)}`, { key: OTHER });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('INVALID_STATE');
    expect(refused.body.error.message).toContain('START');
    expect(refused.body.error.details).toEqual([
      { path: 'scope', message: 'a sender-wide opt-out', scope: 'sender' },
    ]);
    expect(await suppressionOf(OTHER, phone)).toMatchObject({ scope: 'sender' });

    const started = await write(phone, 'START');
    expect(started.webhookBody).toBe('<Response/>');
    for (const key of [ACME, OTHER]) expect(await suppressionOf(key, phone)).toBeUndefined();
    const after = await broadcast(OTHER, [phone], ANOTHER_TEMPLATE);
    expect(after).toMatchObject({ queuedCount: 1, skippedCount: 0 });
    await untilDelivered(OTHER, after.broadcastId, phone);
    expect(api.messagesTo(phone)).toBe(1);
  }, 60_000);

  it('holds for a tenant created after the opt-out, and for an opt-out word of another language', async () => {
    const phone = testPhone();
    await write(phone, 'बंद करो');
    const later = await newTenant('later');
    const created = await broadcast(later, [phone]);
    expect(created.items).toEqual([{ phone, status: 'skipped', skipReason: 'suppressed' }]);
    expect(await suppressionOf(later, phone)).toMatchObject({ detail: 'बंद करो', scope: 'sender' });
  }, 60_000);
});

describe('an opt-out Twilio reports at the send (21610: the person unsubscribed from the sender)', () => {
  it("puts the number on the tenant's list, from the send consumer itself; the next broadcast skips it", async () => {
    // The person unsubscribed at Twilio: the simulator answers every create to the number with 400, code 21610.
    const phone = testPhone();
    const unsubscribed = await api.simulator('/_simulator/unsubscribe', { to: phone });
    expect(unsubscribed).toMatchObject({
      status: 200,
      body: { to: `whatsapp:${phone}`, unsubscribed: true },
    });
    const first = await broadcast(ACME, [phone]);
    const failed = await waitFor(
      async () => {
        const r = await recipientOf(ACME, first.broadcastId, phone);
        return r.status === 'failed' ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 150, message: 'the recipient Twilio refused with 21610 did not fail' },
    );
    expect(failed).toMatchObject({ errorCode: 21610, attempts: 1 });
    expect(failed.nextRetryAt).toBeUndefined();
    expect(await suppressionOf(ACME, phone)).toMatchObject({
      phone,
      reason: 'provider_error',
      detail: '21610',
    });
    // The tenant's own list, not the sender-wide one: another tenant may still send to the number.
    expect(await suppressionOf(OTHER, phone)).toBeUndefined();

    const second = await broadcast(ACME, [phone], ANOTHER_TEMPLATE);
    expect(second.items).toEqual([{ phone, status: 'skipped', skipReason: 'suppressed' }]);
    expect(api.twin.simulator?.messages().filter((m) => m.to === `whatsapp:${phone}`)).toEqual([]);
  }, 60_000);
});

/** A tenant created now (its API key put in the table, as the operator CLI does); returns its key. */
async function newTenant(tenantId: string): Promise<string> {
  const key = `key-${tenantId}-${Math.random().toString(36).slice(2)}`;
  const client = new DynamoDBClient({
    endpoint: api.twin.dynamodbEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const keys = new DynamoApiKeys(DynamoDBDocumentClient.from(client), api.twin.tableNames.main ?? '');
    await keys.seed(tenantId, hashApiKey(key), new Date());
  } finally {
    client.destroy();
  }
  return key;
}
