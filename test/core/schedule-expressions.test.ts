import { describe, expect, it } from 'vitest';
import { ApiError } from '../../functions/core/errors.ts';
import { firingsAfter, isOneTime, parseSchedule } from '../../functions/core/schedule-expressions.ts';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

function problemOf(expression: string, timeZone?: string) {
  try {
    parseSchedule({ expression, ...(timeZone ? { timeZone } : {}) });
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    const e = error as ApiError;
    expect(e.code).toBe('VALIDATION_FAILED');
    return e.details?.[0] as { path: string; message: string };
  }
  throw new Error(`${expression} was accepted`);
}

describe('cron() in a time zone', () => {
  it('a weekly cron in Africa/Nairobi (UTC+3, no DST) fires Mondays 09:00 local = 06:00 UTC', () => {
    const s = parseSchedule({ expression: 'cron(0 9 ? * MON *)', timeZone: 'Africa/Nairobi' });
    expect(iso(firingsAfter(s, new Date('2026-11-30T07:00:00Z'), 3))).toEqual([
      '2026-12-07T06:00:00.000Z',
      '2026-12-14T06:00:00.000Z',
      '2026-12-21T06:00:00.000Z',
    ]);
  });

  it("day-of-week numbers are AWS's (1 = SUN, 2 = MON), not Unix cron's", () => {
    const byNumber = parseSchedule({ expression: 'cron(0 9 ? * 2 *)', timeZone: 'Africa/Nairobi' });
    const byName = parseSchedule({ expression: 'cron(0 9 ? * MON *)', timeZone: 'Africa/Nairobi' });
    const from = new Date('2026-11-29T00:00:00Z');
    expect(iso(firingsAfter(byNumber, from, 2))).toEqual(iso(firingsAfter(byName, from, 2)));
    const sunday = parseSchedule({ expression: 'cron(0 9 ? * 1 *)' });
    expect(firingsAfter(sunday, from, 1)[0]?.getUTCDay()).toBe(0);
  });

  it('a daily 08:00 in Europe/London follows the clocks both ways (BST starts Mar 29, ends Oct 25 2026)', () => {
    const s = parseSchedule({ expression: 'cron(0 8 * * ? *)', timeZone: 'Europe/London' });
    expect(iso(firingsAfter(s, new Date('2026-03-27T12:00:00Z'), 3))).toEqual([
      '2026-03-28T08:00:00.000Z',
      '2026-03-29T07:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
    ]);
    expect(iso(firingsAfter(s, new Date('2026-10-23T12:00:00Z'), 3))).toEqual([
      '2026-10-24T07:00:00.000Z',
      '2026-10-25T08:00:00.000Z',
      '2026-10-26T08:00:00.000Z',
    ]);
  });

  it('America/New_York: a time inside the spring-forward gap is skipped, a repeated one fires once', () => {
    // 2026-03-08 02:00 EST → 03:00 EDT: 02:30 does not exist that day. 2026-11-01 01:30 occurs twice.
    const gap = parseSchedule({ expression: 'cron(30 2 * * ? *)', timeZone: 'America/New_York' });
    expect(iso(firingsAfter(gap, new Date('2026-03-06T12:00:00Z'), 3))).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
    const repeated = parseSchedule({ expression: 'cron(30 1 * * ? *)', timeZone: 'America/New_York' });
    expect(iso(firingsAfter(repeated, new Date('2026-10-31T12:00:00Z'), 2))).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  it('takes L, W, # and the year field', () => {
    const from = new Date('2026-11-30T12:00:00Z');
    expect(iso(firingsAfter(parseSchedule({ expression: 'cron(0 9 L * ? *)' }), from, 2))).toEqual([
      '2026-12-31T09:00:00.000Z',
      '2027-01-31T09:00:00.000Z',
    ]);
    // 2027-05-15 is a Saturday: the nearest weekday is Friday the 14th.
    expect(iso(firingsAfter(parseSchedule({ expression: 'cron(0 9 15W 5 ? 2027)' }), from, 1))).toEqual([
      '2027-05-14T09:00:00.000Z',
    ]);
    // The first Tuesday (3 = TUE) of the month.
    expect(iso(firingsAfter(parseSchedule({ expression: 'cron(0 9 ? * 3#1 *)' }), from, 2))).toEqual([
      '2026-12-01T09:00:00.000Z',
      '2027-01-05T09:00:00.000Z',
    ]);
    expect(iso(firingsAfter(parseSchedule({ expression: 'cron(0/15 * * * ? *)' }), from, 2))).toEqual([
      '2026-11-30T12:15:00.000Z',
      '2026-11-30T12:30:00.000Z',
    ]);
  });
});

describe('at() and rate()', () => {
  it('at() is a wall-clock time in its zone, and fires once', () => {
    const s = parseSchedule({ expression: 'at(2026-12-01T09:00:00)', timeZone: 'Africa/Nairobi' });
    expect(isOneTime(s)).toBe(true);
    expect(iso(firingsAfter(s, new Date('2026-11-30T00:00:00Z'), 3))).toEqual(['2026-12-01T06:00:00.000Z']);
    expect(firingsAfter(s, new Date('2026-12-01T06:00:00Z'), 1)).toEqual([]);
  });

  it('rate() fires at its start and every interval after, a day being 24 hours', () => {
    const s = parseSchedule({ expression: 'rate(1 day)', timeZone: 'Europe/London' });
    expect(isOneTime(s)).toBe(false);
    const startDate = new Date('2026-03-28T08:00:00Z');
    expect(iso(firingsAfter(s, new Date('2026-03-28T07:00:00Z'), 3, { startDate }))).toEqual([
      '2026-03-28T08:00:00.000Z',
      '2026-03-29T08:00:00.000Z',
      '2026-03-30T08:00:00.000Z',
    ]);
    const every = parseSchedule({ expression: 'rate(15 minutes)' });
    expect(iso(firingsAfter(every, new Date('2026-03-28T08:20:00Z'), 2, { startDate }))).toEqual([
      '2026-03-28T08:30:00.000Z',
      '2026-03-28T08:45:00.000Z',
    ]);
  });
});

describe('refusals a person can act on', () => {
  it.each([
    ['cron(0 9 * * MON *)', /put '\?' in one of them/],
    ['cron(0 9 ? * MON)', /6 fields .* this one has 5/],
    ['cron(0 9 ? * 0 *)', /outside 1-7 \(1 = SUN … 7 = SAT, unlike Unix cron\)/],
    ['cron(60 9 ? * MON *)', /minutes field '60' has 60, outside 0-59/],
    ['cron(0 9 ? * FUN *)', /names 'FUN'/],
    ['cron(0 9 ? * MON 2200)', /outside 1970-2199/],
    ['cron(0 9 ? * 2#6 *)', /which week of the month, 1 to 5/],
    ['rate(0 minutes)', /1 or more/],
    ['rate(5 minute)', /rate\(5 minutes\)/],
    ['rate(1 week)', /'week' is not a rate unit/],
    ['at(2026-02-30T09:00:00)', /not a date of the calendar/],
    ['at(2026-12-01 09:00)', /not an EventBridge Scheduler expression/],
    ['every monday', /use at\(yyyy-mm-ddThh:mm:ss\), rate/],
  ])('%s', (expression, message) => {
    const problem = problemOf(expression);
    expect(problem.path).toBe('schedule.expression');
    expect(problem.message).toMatch(message);
  });

  it('an unknown time zone is named', () => {
    const problem = problemOf('rate(1 day)', 'Mars/Olympus');
    expect(problem).toMatchObject({ path: 'schedule.timeZone' });
    expect(problem.message).toMatch(/not an IANA time zone/);
  });
});
