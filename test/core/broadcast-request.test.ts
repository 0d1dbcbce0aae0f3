import { describe, expect, it } from 'vitest';
import {
  BroadcastListQuery,
  checkRouteQuery,
  MAX_SCHEDULE_AHEAD_DAYS,
  NoQuery,
  PageQuery,
  parseCreateBroadcast,
  parseIdempotencyKey,
  parseListQuery,
  RecipientListQuery,
} from '../../functions/core/broadcast-request.ts';
import {
  BroadcastView,
  CreateBroadcastResponse,
  ErrorBody,
  ProgressView,
  RecipientView,
} from '../../functions/core/broadcast-responses.ts';
import { emptyCounts } from '../../functions/core/counts.ts';
import { ApiError } from '../../functions/core/errors.ts';

const SID = 'HX0123456789abcdef0123456789abcdef';
const NOW = new Date('2026-06-01T12:00:00Z');
const opts = { maxRecipients: 100_000, now: () => NOW };

/** API.md's example request. */
const example = {
  name: 'Fertilizer subsidy',
  template: { contentSid: SID, variables: { '1': '{{name}}', '2': 'May 5' } },
  recipients: ['+972501234567', { phone: '050-123-4568', variables: { name: 'Dana' } }],
  defaultCountry: 'IL',
  followUp: {
    body: 'Full text, sent after the recipient taps the confirmation button',
    confirmPayload: 'read_broadcast',
  },
  scheduledAt: '2026-12-01T09:00:00Z',
};

function validationDetails(body: unknown, options = opts): { path: string; message: string }[] {
  try {
    parseCreateBroadcast(body, options);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('VALIDATION_FAILED');
    return (err as ApiError).details as { path: string; message: string }[];
  }
  throw new Error('expected VALIDATION_FAILED');
}

const paths = (body: unknown) => validationDetails(body).map((d) => d.path);

describe('parseCreateBroadcast', () => {
  it("accepts API.md's example and normalizes scheduledAt to UTC", () => {
    const input = parseCreateBroadcast(example, opts);
    expect(input.template.contentSid).toBe(SID);
    expect(input.recipients).toHaveLength(2);
    expect(input.scheduledAt).toBe('2026-12-01T09:00:00.000Z');
    expect(
      parseCreateBroadcast({ ...example, scheduledAt: '2026-12-01T11:00:00+02:00' }, opts).scheduledAt,
    ).toBe('2026-12-01T09:00:00.000Z');
  });

  it('accepts the minimal request', () => {
    expect(
      parseCreateBroadcast({ template: { contentSid: SID }, recipients: ['+972501234567'] }, opts),
    ).toEqual({
      template: { contentSid: SID },
      recipients: ['+972501234567'],
    });
  });

  it('upper-cases the default country', () => {
    expect(parseCreateBroadcast({ ...example, defaultCountry: 'il' }, opts).defaultCountry).toBe('IL');
  });

  it('a bad contentSid is named in the details', () => {
    const details = validationDetails({ ...example, template: { contentSid: 'HX123' } });
    expect(details).toEqual([{ path: 'template.contentSid', message: expect.stringContaining('HX') }]);
    expect(paths({ ...example, template: { contentSid: `MX${'0'.repeat(32)}` } })).toEqual([
      'template.contentSid',
    ]);
    expect(paths({ ...example, template: { contentSid: `HX${'g'.repeat(32)}` } })).toEqual([
      'template.contentSid',
    ]);
  });

  it('a missing template is named', () => {
    const { template: _t, ...rest } = example;
    expect(validationDetails(rest)).toEqual([{ path: 'template', message: 'Required' }]);
  });

  it('rejects typos in field names at every level', () => {
    expect(paths({ ...example, recipeints: [] })).toEqual(['recipeints']);
    expect(paths({ ...example, template: { contentSID: SID } })).toEqual([
      'template.contentSid',
      'template.contentSID',
    ]);
    expect(paths({ ...example, followUp: { body: 'x', confirm: 'y' } })).toEqual(['followUp.confirm']);
  });

  it('needs at least one recipient', () => {
    expect(paths({ ...example, recipients: [] })).toEqual(['recipients']);
    expect(paths({ ...example, recipients: '+972501234567' })).toEqual(['recipients']);
  });

  it('names the bad recipient item and the problem inside it', () => {
    expect(paths({ ...example, recipients: ['+972501234567', 42] })).toEqual(['recipients.1']);
    expect(paths({ ...example, recipients: [{ phone: '+972501234567', variables: { name: 7 } }] })).toEqual([
      'recipients.0.variables.name',
    ]);
    expect(paths({ ...example, recipients: [{ phon: '+972501234567' }] })).toEqual([
      'recipients.0.phone',
      'recipients.0.phon',
    ]);
  });

  it('checks template variable values are strings', () => {
    expect(paths({ ...example, template: { contentSid: SID, variables: { '1': 5 } } })).toEqual([
      'template.variables.1',
    ]);
  });

  it('refuses template values WhatsApp would refuse for every recipient, at template.variables.<key>', () => {
    const details = validationDetails({
      ...example,
      template: { contentSid: SID, variables: { '1': '{{name|Farmer}}', '2': 'first line\nsecond line' } },
    });
    expect(details).toEqual([{ path: 'template.variables.2', message: 'contains a newline' }]);
    expect(
      validationDetails({ ...example, template: { contentSid: SID, variables: { '1': '{{name|}}' } } }),
    ).toEqual([{ path: 'template.variables.1', message: 'the fallback of {{name}} is empty' }]);
    // Over 1,024 characters: one problem, not two.
    expect(
      paths({ ...example, template: { contentSid: SID, variables: { '1': 'x'.repeat(1025) } } }),
    ).toEqual(['template.variables.1']);
  });

  it("checks template variable keys as Twilio's Content API names them", () => {
    expect(paths({ ...example, template: { contentSid: SID, variables: { 'first name': 'x' } } })).toEqual([
      'template.variables.first name',
    ]);
    expect(
      paths({ ...example, template: { contentSid: SID, variables: { ['k'.repeat(17)]: 'x' } } }),
    ).toEqual([`template.variables.${'k'.repeat(17)}`]);
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [String(i + 1), 'x']));
    expect(paths({ ...example, template: { contentSid: SID, variables: many } })).toEqual([
      'template.variables',
    ]);
    const hundred = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [String(i + 1), 'x']));
    expect(
      parseCreateBroadcast({ ...example, template: { contentSid: SID, variables: hundred } }, opts),
    ).toBeDefined();
  });

  it('checks the default country', () => {
    expect(paths({ ...example, defaultCountry: 'XX' })).toEqual(['defaultCountry']);
    expect(paths({ ...example, defaultCountry: 'ISR' })).toEqual(['defaultCountry']);
  });

  it('checks the follow-up limits', () => {
    expect(paths({ ...example, followUp: { body: '' } })).toEqual(['followUp.body']);
    expect(paths({ ...example, followUp: { body: 'x'.repeat(4097) } })).toEqual(['followUp.body']);
    expect(paths({ ...example, followUp: { body: 'ok', confirmPayload: 'x'.repeat(257) } })).toEqual([
      'followUp.confirmPayload',
    ]);
    expect(
      parseCreateBroadcast({ ...example, followUp: { body: 'x'.repeat(4096) } }, opts).followUp?.body,
    ).toHaveLength(4096);
  });

  it('checks the name length', () => {
    expect(paths({ ...example, name: 'n'.repeat(201) })).toEqual(['name']);
  });

  it(`scheduledAt is at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead`, () => {
    const ahead = `must be at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead`;
    expect(validationDetails({ ...example, scheduledAt: '9999-12-31T23:59:59Z' })).toEqual([
      { path: 'scheduledAt', message: ahead },
    ]);
    // NOW is 2026-06-01T12:00Z: a year later is the last moment accepted.
    expect(parseCreateBroadcast({ ...example, scheduledAt: '2027-06-01T12:00:00Z' }, opts).scheduledAt).toBe(
      '2027-06-01T12:00:00.000Z',
    );
    expect(validationDetails({ ...example, scheduledAt: '2027-06-01T12:00:01Z' })).toEqual([
      { path: 'scheduledAt', message: ahead },
    ]);
  });

  it('scheduledAt must be an ISO date-time in the future', () => {
    expect(validationDetails({ ...example, scheduledAt: '2026-06-01T11:59:59Z' })).toEqual([
      { path: 'scheduledAt', message: 'must be in the future' },
    ]);
    expect(paths({ ...example, scheduledAt: 'tomorrow' })).toEqual(['scheduledAt']);
    expect(paths({ ...example, scheduledAt: '2026-12-01' })).toEqual(['scheduledAt']);
  });

  it('reports every problem at once', () => {
    expect(
      paths({ template: { contentSid: 'x' }, recipients: [], scheduledAt: '2020-01-01T00:00:00Z' }),
    ).toEqual(['template.contentSid', 'recipients', 'scheduledAt']);
  });

  it('rejects a body that is not an object', () => {
    for (const body of [null, [], 'text', 42])
      expect(validationDetails(body)).toEqual([{ path: '', message: 'Expected a JSON object' }]);
  });

  it('too many recipients is 413 TOO_MANY_RECIPIENTS, checked before anything else', () => {
    const body = { template: { contentSid: 'bad' }, recipients: ['1', '2', '3'] };
    try {
      parseCreateBroadcast(body, { maxRecipients: 2 });
      throw new Error('expected an error');
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe('TOO_MANY_RECIPIENTS');
      expect((err as ApiError).status).toBe(413);
      expect((err as ApiError).details).toEqual([
        { path: 'recipients', message: 'must list at most 2 recipients', maxRecipients: 2, received: 3 },
      ]);
    }
    expect(
      parseCreateBroadcast({ ...example, recipients: ['1', '2'] }, { ...opts, maxRecipients: 2 }).recipients,
    ).toHaveLength(2);
  });
});

describe('parseIdempotencyKey', () => {
  it('accepts printable keys up to 255 characters', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey('order-42/retry 1')).toBe('order-42/retry 1');
    expect(parseIdempotencyKey('k'.repeat(255))).toHaveLength(255);
  });

  it('rejects empty, too long, or non-printable keys', () => {
    for (const key of ['', 'k'.repeat(256), 'tab\there', 'ünïcode', ' padded']) {
      expect(() => parseIdempotencyKey(key)).toThrow(ApiError);
    }
  });
});

describe('parseListQuery', () => {
  const refusal = (schema: Parameters<typeof parseListQuery>[0], query: Record<string, string>) => {
    try {
      parseListQuery(schema, query);
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe('VALIDATION_FAILED');
      return { message: (err as ApiError).message, details: (err as ApiError).details };
    }
    throw new Error(`expected ${JSON.stringify(query)} to be refused`);
  };

  it('reads limit as decimal digits only', () => {
    expect(parseListQuery(PageQuery, { limit: '16' })).toEqual({ limit: 16 });
    for (const limit of ['0x10', '1e2', ' 16', '16 ', '16.0', '+16', '-1', '', '1,2', '0', '501', '5000'])
      expect(refusal(PageQuery, { limit }).details, limit).toEqual([
        { path: 'limit', message: 'must be a whole number from 1 to 500, in decimal digits' },
      ]);
  });

  it('refuses an unknown parameter by name, saying which the route takes', () => {
    expect(refusal(BroadcastListQuery, { limt: '10' })).toEqual({
      message:
        'Invalid query parameters: limt: unknown query parameter; this route takes limit, cursor, status, test',
      details: [
        { path: 'limt', message: 'unknown query parameter; this route takes limit, cursor, status, test' },
      ],
    });
    expect(refusal(PageQuery, { status: 'failed' }).details).toEqual([
      { path: 'status', message: 'unknown query parameter; this route takes limit, cursor' },
    ]);
  });

  it('reads ?test= as true or false only (hide or show test sends), and ?status=paused', () => {
    expect(parseListQuery(BroadcastListQuery, { test: 'false' })).toEqual({ limit: 50, test: false });
    expect(parseListQuery(BroadcastListQuery, { test: 'true', status: 'paused' })).toEqual({
      limit: 50,
      test: true,
      status: 'paused',
    });
    expect(refusal(BroadcastListQuery, { test: 'no' }).details?.[0]).toMatchObject({ path: 'test' });
  });

  it('refuses any parameter on a route that takes none (checkRouteQuery, run by every admin route)', () => {
    expect(() => checkRouteQuery('GET /v1/metrics', undefined)).not.toThrow();
    expect(() => checkRouteQuery('GET /v1/broadcasts/{id}/recipients', { status: 'failed' })).not.toThrow();
    for (const routeKey of ['GET /v1/metrics', 'GET /v1/broadcasts/{id}', 'POST /v1/broadcasts'])
      expect(() => checkRouteQuery(routeKey, { verbose: '1' }), routeKey).toThrow(
        'verbose: unknown query parameter; this route takes none',
      );
    expect(() => checkRouteQuery('GET /v1/broadcasts', { limit: '0x10' })).toThrow(ApiError);
    expect(refusal(NoQuery, { a: '1', b: '2' }).details).toEqual([
      { path: 'a', message: 'unknown query parameter; this route takes none' },
      { path: 'b', message: 'unknown query parameter; this route takes none' },
    ]);
  });

  it('defaults the limit to 50 and caps it at 500', () => {
    expect(parseListQuery(BroadcastListQuery, undefined)).toEqual({ limit: 50 });
    expect(parseListQuery(BroadcastListQuery, { limit: '500', status: 'running', cursor: 'abc' })).toEqual({
      limit: 500,
      status: 'running',
      cursor: 'abc',
    });
    expect(() => parseListQuery(BroadcastListQuery, { limit: '501' })).toThrow(ApiError);
    expect(() => parseListQuery(BroadcastListQuery, { limit: '0' })).toThrow(ApiError);
  });

  it('checks the status filter against the right list', () => {
    expect(parseListQuery(RecipientListQuery, { status: 'delivered' }).status).toBe('delivered');
    expect(() => parseListQuery(BroadcastListQuery, { status: 'delivered' })).toThrow(ApiError);
  });
});

describe('response schemas', () => {
  const id = 'brd_01JD7X1B2C3D4E5F6G7H8J9K0M';

  it("accept API.md's create response", () => {
    const r = CreateBroadcastResponse.safeParse({
      broadcastId: id,
      status: 'queued',
      idempotent: false,
      totalRecipients: 52,
      queuedCount: 52,
      invalidRecipientsCount: 2,
      invalidRecipients: [
        { input: '123', reason: 'too_short' },
        { input: 'abc', reason: 'invalid_format' },
      ],
      duplicateRecipientsCount: 1,
      items: [{ phone: '+972501234567', status: 'queued' }],
    });
    expect(r.success).toBe(true);
  });

  it('require every status in counts', () => {
    const base = {
      broadcastId: id,
      name: 'x',
      status: 'running',
      createdAt: '2026-06-01T12:00:00.000Z',
      template: { contentSid: SID },
      sender: { source: 'deployment' },
      totalRecipients: 0,
      counts: emptyCounts(),
      progressPct: 0,
    };
    expect(BroadcastView.safeParse(base).success).toBe(true);
    const { skipped: _s, ...partial } = emptyCounts();
    expect(BroadcastView.safeParse({ ...base, counts: partial }).success).toBe(false);
  });

  it('describe progress, recipients and errors', () => {
    expect(
      ProgressView.safeParse({
        broadcastId: id,
        status: 'running',
        totalRecipients: 3,
        counts: { ...emptyCounts(), sent: 2, failed: 1 },
        processedCount: 3,
        pendingCount: 0,
        progressPct: 100,
        errorSummary: [{ code: 63024, message: 'Not a WhatsApp user or invalid recipient', count: 1 }],
        updatedAt: '2026-06-01T12:00:00.000Z',
      }).success,
    ).toBe(true);
    expect(
      RecipientView.safeParse({
        phone: '+972501234567',
        status: 'failed',
        attempts: 1,
        errorCode: 30003,
        followUp: { status: 'sent', messageSid: 'SM1' },
        updatedAt: '2026-06-01T12:00:00.000Z',
      }).success,
    ).toBe(true);
    expect(ErrorBody.safeParse({ error: { code: 'NOT_FOUND', message: 'x' } }).success).toBe(true);
    // details is always an array of objects with at least a message.
    const withDetails = (details: unknown) =>
      ErrorBody.safeParse({ error: { code: 'VALIDATION_FAILED', message: 'x', details } }).success;
    expect(withDetails([{ path: 'limit', message: 'm', extra: 1 }])).toBe(true);
    expect(withDetails({ broadcastId: 'brd_1' })).toBe(false);
    expect(withDetails([{ path: 'limit' }])).toBe(false);
    expect(ErrorBody.safeParse({ error: { code: 'NOPE', message: 'x' } }).success).toBe(false);
  });
});
