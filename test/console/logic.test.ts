import { describe, expect, it } from 'vitest';
import {
  broadcastRequest,
  MAX_TEST_PHONES,
  SubmissionKeys,
  splitList,
  testPhonesOf,
} from '../../console/src/logic/broadcast-form.ts';
import { canaryOption, NO_CANARY } from '../../console/src/logic/canary.ts';
import { guessRoles, mappingProblems, remapRows } from '../../console/src/logic/csv-columns.ts';
import {
  formatDuration,
  formatMoney,
  formatTime,
  sendsPerMinute,
  twilioErrorUrl,
} from '../../console/src/logic/format.ts';
import { scheduleExpression } from '../../console/src/logic/schedule-presets.ts';
import {
  CAP_MAX_DAYS,
  CAP_MAX_MESSAGES,
  NO_TIMING,
  timingOptions,
} from '../../console/src/logic/send-timing.ts';
import { limitChoiceOf, limitValueOf, MAX_LIMIT } from '../../console/src/logic/settings-form.ts';
import { FINAL_POLL_MS, LIVE_POLL_MS, SETTLE_GRACE_MS, SettleWatch } from '../../console/src/logic/settle.ts';
import {
  compileVariables,
  defaultMappings,
  fillBody,
  variableKeys,
  variableValue,
} from '../../console/src/logic/variables.ts';
import { directionOf, t } from '../../console/src/messages.ts';
import { MAX_CAP_DAYS, MAX_CAP_MESSAGES } from '../../functions/core/send-timing.ts';
import { MAX_MESSAGING_LIMIT } from '../../functions/core/tenant-settings.ts';
import { MAX_TEST_PHONES as SERVER_MAX_TEST_PHONES } from '../../functions/core/test-send.ts';

describe('formatting', () => {
  it('says how long a send takes in seconds, minutes and hours', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(45.4)).toBe('45 s');
    expect(formatDuration(60)).toBe('1 min');
    expect(formatDuration(200)).toBe('3 min 20 s');
    expect(formatDuration(7500)).toBe('2 h 5 min');
  });

  it('shows costs with up to four decimals (per-message rates are fractions of a cent)', () => {
    expect(formatMoney(0.0412, 'USD', 'en-US')).toBe('$0.0412');
    expect(formatMoney(12, 'USD', 'en-US')).toBe('$12.00');
  });

  it('counts sends per minute, oldest first, with empty minutes as zeros', () => {
    expect(
      sendsPerMinute([
        '2026-11-30T10:00:05Z',
        '2026-11-30T10:00:59Z',
        undefined,
        'garbage',
        '2026-11-30T10:02:00Z',
      ]),
    ).toEqual([
      { minute: '10:00', count: 2 },
      { minute: '10:01', count: 0 },
      { minute: '10:02', count: 1 },
    ]);
    expect(sendsPerMinute([])).toEqual([]);
  });

  it("links a Twilio error code to Twilio's page for it", () => {
    expect(twilioErrorUrl(63024)).toBe('https://www.twilio.com/docs/api/errors/63024');
  });

  it('lays out right-to-left for Hebrew and Arabic only', () => {
    expect(directionOf('he-IL')).toBe('rtl');
    expect(directionOf('ar')).toBe('rtl');
    expect(directionOf('iw')).toBe('rtl');
    expect(directionOf('en-US')).toBe('ltr');
    expect(directionOf('hr-HR')).toBe('ltr');
  });
});

describe('template variable mapping', () => {
  it("orders variables numerically and guesses the name first, never pre-filling Twilio's samples", () => {
    const vars = { '10': 'x', '2': 'May 5', '1': 'Dana' };
    expect(variableKeys(vars)).toEqual(['1', '2', '10']);
    expect(defaultMappings(vars)).toEqual({
      '1': { source: 'name', value: '', fallback: '' },
      '2': { source: 'literal', value: '', fallback: '' },
      '10': { source: 'literal', value: '', fallback: '' },
    });
    // Until written, the texts are missing: nothing is sent with a sample's value.
    expect(compileVariables(defaultMappings(vars)).missing).toEqual(['2', '10']);
  });

  it("compiles to API.md's values: literal, {{key}}, {{key|fallback}}", () => {
    expect(variableValue({ source: 'literal', value: 'May 5', fallback: 'ignored' })).toBe('May 5');
    expect(variableValue({ source: 'name', value: '', fallback: '' })).toBe('{{name}}');
    expect(variableValue({ source: 'name', value: '', fallback: 'Farmer' })).toBe('{{name|Farmer}}');
    expect(variableValue({ source: 'attribute', value: ' City ', fallback: 'your area' })).toBe(
      '{{City|your area}}',
    );
    // Braces and bars would end the placeholder early.
    expect(variableValue({ source: 'attribute', value: 'ci|ty}}', fallback: 'a{b' })).toBe('{{city|ab}}');
    expect(variableValue({ source: 'attribute', value: '  ', fallback: 'x' })).toBeUndefined();
  });

  it('lists the variables left without a value', () => {
    expect(
      compileVariables({
        '1': { source: 'name', value: '', fallback: '' },
        '2': { source: 'literal', value: '', fallback: '' },
        '3': { source: 'attribute', value: '', fallback: '' },
      }),
    ).toEqual({ variables: { '1': '{{name}}' }, missing: ['2', '3'] });
  });

  it('fills a body with a sample for the preview', () => {
    expect(fillBody('Hi {{1}}, on {{ 2 }} ({{3}})', { '1': 'Dana', '2': 'May 5' })).toBe(
      'Hi Dana, on May 5 ({{3}})',
    );
  });
});

describe('the New broadcast form', () => {
  const form = {
    name: ' Harvest ',
    groupIds: ['grp_1'],
    tags: 'north, vip,north',
    phones: '+972501234567\n050-123-4568; ',
    defaultCountry: 'il',
    contentSid: 'HX880b0d228b6b512bae0f14a67c858ce4',
    mappings: { '1': { source: 'name' as const, value: '', fallback: 'Farmer' } },
    followUpBody: '',
    confirmPayload: '',
    scheduleLocal: '',
  };

  it('builds the request API.md takes', () => {
    expect(broadcastRequest(form).body).toEqual({
      name: 'Harvest',
      audience: { groupIds: ['grp_1'], tags: ['north', 'vip'], phones: ['+972501234567', '050-123-4568'] },
      template: { contentSid: 'HX880b0d228b6b512bae0f14a67c858ce4', variables: { '1': '{{name|Farmer}}' } },
      defaultCountry: 'IL',
    });
  });

  it('adds the follow-up and a future schedule, in UTC', () => {
    const now = new Date('2026-11-30T10:00:00Z');
    const later = new Date(now.getTime() + 3_600_000);
    const local = new Date(later.getTime() - later.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    const { body } = broadcastRequest(
      { ...form, followUpBody: 'Details', confirmPayload: 'read_more', scheduleLocal: local },
      now,
    );
    expect(body?.followUp).toEqual({ body: 'Details', confirmPayload: 'read_more' });
    expect(body?.scheduledAt).toBe(later.toISOString());
  });

  it('refuses an empty audience, no template, a missing variable, a past time', () => {
    const result = broadcastRequest(
      {
        ...form,
        groupIds: [],
        tags: '',
        phones: ' , ',
        contentSid: '',
        mappings: { '1': { source: 'attribute', value: '', fallback: '' } },
        scheduleLocal: '2020-01-01T09:00',
      },
      new Date('2026-11-30T10:00:00Z'),
    );
    expect(result.body).toBeUndefined();
    expect(result.problems).toEqual(['no_audience', 'no_template', 'missing_variables', 'schedule_past']);
    expect(result.missingVariables).toEqual(['1']);
  });

  it('adds quiet hours and a frequency cap when given, and words a half-filled pair', () => {
    const timing = { quietStart: '21:00', quietEnd: '08:00', capMax: '2', capDays: '7' };
    expect(broadcastRequest({ ...form, timing }).body).toMatchObject({
      quietHours: { start: '21:00', end: '08:00' },
      frequencyCap: { max: 2, days: 7 },
    });
    expect(broadcastRequest({ ...form, timing: NO_TIMING }).body).not.toHaveProperty('quietHours');
    const half = broadcastRequest({ ...form, timing: { ...timing, quietEnd: '' } });
    expect(half.body).toBeUndefined();
    expect(half.problems).toEqual(['quiet_incomplete']);
    expect(t.timing.problems[half.problems[0] as string]).toContain('both a start and an end');
  });

  it('keeps one Idempotency-Key per submitted body, and a new one when the body changes', () => {
    let n = 0;
    const keys = new SubmissionKeys(() => `key-${++n}`);
    expect(keys.keyFor({ a: 1 })).toBe('key-1');
    expect(keys.keyFor({ a: 1 })).toBe('key-1'); // a double click, a retry
    expect(keys.keyFor({ a: 2 })).toBe('key-2');
  });

  it('splits pasted lists on commas, semicolons and new lines', () => {
    expect(splitList('a, b;c\n\n a ')).toEqual(['a', 'b', 'c']);
  });
});

describe('quiet hours and frequency cap fields', () => {
  it('takes both fields of a pair or neither', () => {
    expect(timingOptions(NO_TIMING)).toEqual({ options: {}, problems: [] });
    expect(timingOptions({ ...NO_TIMING, quietStart: '22:00', quietEnd: '07:30' }).options).toEqual({
      quietHours: { start: '22:00', end: '07:30' },
    });
    expect(timingOptions({ ...NO_TIMING, quietEnd: '07:30' }).problems).toEqual(['quiet_incomplete']);
    expect(timingOptions({ ...NO_TIMING, quietStart: '07:30', quietEnd: '07:30' }).problems).toEqual([
      'quiet_same',
    ]);
    expect(timingOptions({ ...NO_TIMING, capMax: '3' }).problems).toEqual(['cap_incomplete']);
  });

  it("keeps the cap within the server's bounds, whole numbers only", () => {
    expect([CAP_MAX_MESSAGES, CAP_MAX_DAYS]).toEqual([MAX_CAP_MESSAGES, MAX_CAP_DAYS]);
    const cap = (capMax: string, capDays: string) => timingOptions({ ...NO_TIMING, capMax, capDays });
    expect(cap('100', '30').options).toEqual({ frequencyCap: { max: 100, days: 30 } });
    for (const [max, days] of [
      ['0', '7'],
      ['101', '7'],
      ['2', '31'],
      ['1.5', '7'],
      ['-1', '7'],
    ] as const)
      expect(cap(max, days).problems).toEqual(['cap_range']);
  });
});

describe('the canary and test phones', () => {
  it('sends a canary by count or share, with the failure rate as a fraction', () => {
    expect(canaryOption(NO_CANARY)).toEqual({ option: {}, problems: [] });
    expect(canaryOption({ mode: 'recipients', size: '5', maxFailurePct: '20' }).option).toEqual({
      canary: { recipients: 5, maxFailureRate: 0.2 },
    });
    expect(canaryOption({ mode: 'percent', size: '2.5', maxFailurePct: '7' }).option).toEqual({
      canary: { percent: 2.5, maxFailureRate: 0.07 },
    });
    expect(canaryOption({ mode: 'recipients', size: '0', maxFailurePct: '101' }).problems).toEqual([
      'canary_size',
      'canary_rate',
    ]);
    expect(canaryOption({ mode: 'percent', size: '120', maxFailurePct: '5' }).problems).toEqual([
      'canary_size',
    ]);
    expect(canaryOption({ mode: 'recipients', size: '2.5', maxFailurePct: '5' }).problems).toEqual([
      'canary_size',
    ]);
  });

  it('puts the canary on the request, and takes 1 to 10 test phones', () => {
    const body = broadcastRequest({
      name: '',
      groupIds: ['grp_1'],
      tags: '',
      phones: '',
      defaultCountry: '',
      contentSid: 'HX1',
      mappings: {},
      followUpBody: '',
      confirmPayload: '',
      scheduleLocal: '',
      canary: { mode: 'recipients', size: '3', maxFailurePct: '10' },
    }).body;
    expect(body?.canary).toEqual({ recipients: 3, maxFailureRate: 0.1 });
    expect(testPhonesOf(' +972501234567, 050-123-4568\n+972501234567')).toEqual({
      phones: ['+972501234567', '050-123-4568'],
    });
    expect(testPhonesOf(' , ')).toEqual({ problem: 'test_none' });
    expect(MAX_TEST_PHONES).toBe(SERVER_MAX_TEST_PHONES);
    expect(testPhonesOf(Array.from({ length: 11 }, (_, i) => `+9725012345${10 + i}`).join(','))).toEqual({
      problem: 'test_many',
    });
  });
});

describe("the Settings page's messaging limit", () => {
  it("offers Meta's tiers, unlimited, or another number, within the server's bound", () => {
    expect(MAX_LIMIT).toBe(MAX_MESSAGING_LIMIT);
    expect(limitChoiceOf('unlimited')).toEqual({ choice: 'unlimited', other: '' });
    expect(limitChoiceOf(2000)).toEqual({ choice: '2000', other: '' });
    expect(limitChoiceOf(300)).toEqual({ choice: 'other', other: '300' });
    expect(limitValueOf('unlimited', '5')).toBe('unlimited');
    expect(limitValueOf('10000', '')).toBe(10_000);
    expect(limitValueOf('other', ' 300 ')).toBe(300);
    for (const bad of ['', '0', '1.5', '1000001', 'many']) expect(limitValueOf('other', bad)).toBeUndefined();
  });
});

describe('CSV column mapping', () => {
  it('guesses phone, name, tags and attributes from the headers, in English, Hebrew and Arabic', () => {
    expect(guessRoles(['Mobile', 'Full name', 'Tags', 'City', ''])).toEqual([
      'phone',
      'name',
      'tags',
      'attribute',
      'ignore',
    ]);
    expect(guessRoles(['טלפון', 'שם'])).toEqual(['phone', 'name']);
    expect(guessRoles(['هاتف', 'اسم'])).toEqual(['phone', 'name']);
    // Only the first phone-like column is the phone; the second is kept as an attribute.
    expect(guessRoles(['phone', 'WhatsApp number'])).toEqual(['phone', 'attribute']);
  });

  it('says what must be fixed before importing', () => {
    expect(mappingProblems(['name', 'attribute'])).toEqual(['no_phone']);
    expect(mappingProblems(['phone', 'phone', 'name', 'name'])).toEqual(['two_phones', 'two_names']);
    expect(mappingProblems(['phone'])).toEqual([]);
  });

  it('renames headers for the API and drops ignored columns', () => {
    expect(
      remapRows(
        [
          ['Mobile', 'Notes', 'Full name', 'City'],
          ['+972501234567', 'x', 'Dana', 'Haifa'],
          ['050-123-4568', 'y', 'Omer'],
        ],
        ['phone', 'ignore', 'name', 'attribute'],
      ),
    ).toEqual([
      ['phone', 'name', 'City'],
      ['+972501234567', 'Dana', 'Haifa'],
      ['050-123-4568', 'Omer', ''],
    ]);
  });
});

describe('campaign schedule presets', () => {
  const base = {
    preset: 'weekly' as const,
    time: '09:30',
    weekday: 'MON' as const,
    dayOfMonth: 1,
    at: '',
    expression: '',
  };
  it("writes EventBridge Scheduler's six-field cron, one of the day fields '?'", () => {
    expect(scheduleExpression({ ...base, preset: 'daily' })).toEqual({ expression: 'cron(30 9 * * ? *)' });
    expect(scheduleExpression(base)).toEqual({ expression: 'cron(30 9 ? * MON *)' });
    expect(scheduleExpression({ ...base, preset: 'monthly', dayOfMonth: 15, time: '07:05' })).toEqual({
      expression: 'cron(5 7 15 * ? *)',
    });
    expect(scheduleExpression({ ...base, preset: 'once', at: '2026-12-01T09:00' })).toEqual({
      expression: 'at(2026-12-01T09:00:00)',
    });
    expect(scheduleExpression({ ...base, preset: 'custom', expression: ' rate(1 day) ' })).toEqual({
      expression: 'rate(1 day)',
    });
  });
  it('says what is wrong instead of sending a bad expression', () => {
    expect(scheduleExpression({ ...base, time: '25:00' })).toEqual({ error: 'no_time' });
    expect(scheduleExpression({ ...base, preset: 'monthly', dayOfMonth: 31 })).toEqual({ error: 'bad_day' });
    expect(scheduleExpression({ ...base, preset: 'once', at: '' })).toEqual({ error: 'no_date' });
    expect(scheduleExpression({ ...base, preset: 'custom', expression: '0 9 * * 1' })).toEqual({
      error: 'bad_expression',
    });
  });
});

describe('times', () => {
  it("shows a campaign's times in its own time zone, named", () => {
    expect(formatTime('2026-12-07T06:00:00.000Z', 'en-US', 'Africa/Nairobi')).toBe(
      'Dec 7, 2026, 9:00 AM (Africa/Nairobi)',
    );
    expect(formatTime(undefined)).toBe('');
  });
});

describe("a broadcast's page polling", () => {
  it('polls every 2 s while running and 30 s after it turns final, then every 15 s', () => {
    let now = 0;
    const watch = new SettleWatch(() => now);
    expect(watch.pollMs(undefined)).toBe(LIVE_POLL_MS);
    expect(watch.pollMs('running')).toBe(LIVE_POLL_MS);
    expect(watch.pollMs('completed')).toBe(LIVE_POLL_MS);
    now = SETTLE_GRACE_MS - 1;
    expect(watch.pollMs('partial')).toBe(LIVE_POLL_MS);
    now = SETTLE_GRACE_MS;
    expect(watch.pollMs('partial')).toBe(FINAL_POLL_MS);
    // A retry makes it run again: live again, and a fresh grace period when it ends.
    expect(watch.pollMs('running')).toBe(LIVE_POLL_MS);
    expect(watch.pollMs('partial')).toBe(LIVE_POLL_MS);
  });
});
