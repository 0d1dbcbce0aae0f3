import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

// Issue 10, item 4: template values WhatsApp refuses are caught at create, per recipient, and
// {{key|fallback}} lets a plain-string recipient take a per-recipient template; through the twin,
// whose Twilio simulator applies the same rules at send.

const ACME = 'key-acme-templates-0123456789';
const QUIET = 'key-quiet-templates-0123456789';
// Two variables, as the requests below give.
const CONTENT_SID = SAMPLE_TEMPLATES.deliveryUpdate.contentSid;

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${ACME},quiet:${QUIET}`, SIM_MPS: '1000' });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

/** What the simulator received for a number: the parsed ContentVariables of each message. */
const receivedBy = (phone: string): Json[] =>
  (api.twin.simulator?.messagesTo(`whatsapp:${phone}`) ?? []).map(
    (m) => JSON.parse(m.contentVariables ?? '{}') as Json,
  );

describe('template variables WhatsApp refuses, and fallbacks, through the twin', () => {
  it('lists recipients whose values WhatsApp refuses as invalid_variable, sends the others, and falls back to Farmer', async () => {
    const [newline, tab, wide, named, plain] = [
      testPhone(),
      testPhone(),
      testPhone(),
      testPhone(),
      testPhone(),
    ];
    const created = await api.call('POST', '/v1/broadcasts', {
      key: ACME,
      body: {
        name: 'Parameters',
        template: {
          contentSid: CONTENT_SID,
          variables: { '1': '{{name|Farmer}}', '2': 'Note: {{note|none}}' },
        },
        recipients: [
          { phone: newline, variables: { name: 'Dana', note: 'first line\nsecond line' } },
          { phone: tab, variables: { name: 'Omer', note: 'a\tb' } },
          { phone: wide, variables: { name: 'Noa', note: 'wide     gap' } },
          { phone: named, variables: { name: 'Dana', note: 'wide    gap' } },
          plain,
        ],
      },
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ totalRecipients: 2, queuedCount: 2, invalidRecipientsCount: 3 });
    expect(created.body.invalidRecipients).toEqual([
      { input: newline, reason: 'invalid_variable', index: 0, variable: '2', message: 'contains a newline' },
      { input: tab, reason: 'invalid_variable', index: 1, variable: '2', message: 'contains a tab' },
      {
        input: wide,
        reason: 'invalid_variable',
        index: 2,
        variable: '2',
        message: 'has more than 4 consecutive spaces',
      },
    ]);
    expect(created.body.items.map((i: Json) => i.phone)).toEqual([named, plain]);

    const broadcast = await api.untilBroadcast(created.body.broadcastId, ACME, 'completed');
    expect(broadcast.totalRecipients).toBe(2);
    // What "Twilio" received: the plain-string recipient got the fallbacks, and nobody invalid got anything.
    expect(receivedBy(plain)).toEqual([{ '1': 'Farmer', '2': 'Note: none' }]);
    expect(receivedBy(named)).toEqual([{ '1': 'Dana', '2': 'Note: wide    gap' }]);
    for (const phone of [newline, tab, wide]) expect(receivedBy(phone)).toEqual([]);
  }, 90_000);

  it('answers 400 VALIDATION_FAILED for a literal template value with a newline, and stores nothing', async () => {
    const phone = testPhone();
    const refused = await api.call('POST', '/v1/broadcasts', {
      key: QUIET,
      body: {
        template: {
          contentSid: CONTENT_SID,
          variables: { '1': '{{name|Farmer}}', '2': 'first line\nsecond line' },
        },
        recipients: [phone],
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    expect(refused.body.error.details).toEqual([
      { path: 'template.variables.2', message: 'contains a newline' },
    ]);

    const listed = await api.call('GET', '/v1/broadcasts', { key: QUIET });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([]);
    expect(receivedBy(phone)).toEqual([]);
  });
});
