import { Cron, CronDate } from 'croner';
import { ApiError, type FieldProblem } from './errors.ts';
import { canonicalTimeZone } from './time-zones.ts';

/**
 * EventBridge Scheduler's schedule expressions, checked and evaluated the way Scheduler does, so a
 * campaign's `nextRunAt` here is the time AWS fires it and the local twin fires at the same times.
 *
 * Source for every syntax fact below: AWS, "Schedule types on EventBridge Scheduler"
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html), whose cron table is
 * the one of "Cron expressions" in the EventBridge User Guide
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html):
 * - `at(yyyy-mm-ddThh:mm:ss)`: one time, a wall-clock time read in the schedule's time zone.
 * - `rate(value unit)`: a positive whole number and `minute | minutes | hour | hours | day | days`;
 *   it fires at the start date (or at once without one) and every `value × unit` after it. A day is
 *   24 hours on the clock, whatever daylight saving time does (AWS re:Post, "How can I adjust my
 *   EventBridge schedule for daylight saving?": "days represents a 24-hour duration").
 * - `cron(minutes hours day-of-month month day-of-week year)`, six fields: minutes 0-59 `, - * /`;
 *   hours 0-23 `, - * /`; day-of-month 1-31 `, - * ? / L W`; month 1-12 or JAN-DEC `, - * /`;
 *   day-of-week 1-7 or SUN-SAT (1 = Sunday, unlike Unix cron's 0 = Sunday) `, - * ? L #`; year
 *   1970-2199 `, - * /`. Day-of-month and day-of-week cannot both be given: one of them is `?`.
 * - Precision is one minute; daylight saving time: a cron time that does not exist (clocks spring
 *   forward) is skipped, and one that occurs twice (clocks fall back) fires once (the re:Post
 *   article above).
 *
 * Next firing times come from croner (its `timezone` option, Quartz weekday numbering, seven-field
 * mode with a leading 0 for seconds); nothing here does calendar arithmetic itself.
 */

/** The units `rate()` takes, in milliseconds (Scheduler: a day is 24 hours on the clock). */
const RATE_UNITS = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
} as const;
type RateUnit = keyof typeof RATE_UNITS;

/** A checked schedule: its expression as given, its zone, and what it means. */
export type Schedule =
  | {
      readonly kind: 'at';
      readonly expression: string;
      readonly timeZone: string;
      /** The instant the wall-clock time names in `timeZone`. */
      readonly at: Date;
    }
  | {
      readonly kind: 'rate';
      readonly expression: string;
      readonly timeZone: string;
      readonly value: number;
      readonly unit: RateUnit;
      readonly everyMs: number;
    }
  | {
      readonly kind: 'cron';
      readonly expression: string;
      readonly timeZone: string;
      /** The six AWS fields. */
      readonly fields: readonly string[];
    };

/** What a campaign or a broadcast gives: API.md `schedule: { expression, timeZone? }`. */
export interface ScheduleInput {
  readonly expression: string;
  readonly timeZone?: string | undefined;
}

/** Whether the schedule fires once (`at()`): Scheduler deletes it after (ActionAfterCompletion). */
export function isOneTime(schedule: Schedule): boolean {
  return schedule.kind === 'at';
}

const AT = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/;
const RATE = /^rate\((\d+) ([a-z]+)\)$/;
const CRON = /^cron\((.*)\)$/;

/**
 * Checks `schedule.expression` and `schedule.timeZone` (IANA, default `UTC`). Throws ApiError
 * VALIDATION_FAILED whose details name `<path>.expression` or `<path>.timeZone` and say what to
 * write instead. Does not decide whether an `at()` time is past: see `firingsAfter`.
 */
export function parseSchedule(input: ScheduleInput, path = 'schedule'): Schedule {
  const problems: FieldProblem[] = [];
  const timeZone = input.timeZone === undefined ? 'UTC' : canonicalTimeZone(input.timeZone);
  if (!timeZone)
    problems.push({
      path: `${path}.timeZone`,
      message: `'${input.timeZone}' is not an IANA time zone; use a zone id such as 'Africa/Nairobi' or 'UTC'`,
    });
  const expression = input.expression.trim();
  const expressionPath = `${path}.expression`;
  const fail = (message: string): never => {
    problems.push({ path: expressionPath, message });
    throw invalid(problems);
  };
  const schedule = parseExpression(expression, timeZone ?? 'UTC', fail);
  if (problems.length > 0) throw invalid(problems);
  return schedule;
}

function invalid(problems: readonly FieldProblem[]): ApiError {
  return new ApiError(
    'VALIDATION_FAILED',
    `Invalid schedule: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    problems,
  );
}

function parseExpression(expression: string, timeZone: string, fail: (m: string) => never): Schedule {
  const at = AT.exec(expression);
  if (at) {
    const [mo, d, h, mi, s] = at.slice(2).map(Number) as [number, number, number, number, number];
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
      fail(
        `'${expression}' is not a real date and time; write at(yyyy-mm-ddThh:mm:ss), e.g. at(2026-12-01T09:00:00)`,
      );
    const local = expression.slice(3, -1);
    const instant = new CronDate(local, timeZone).getDate();
    // A date such as 2026-02-30 rolls over into March: refuse it rather than fire another day.
    if (localParts(instant, timeZone).slice(0, 3).join('-') !== local.slice(0, 10))
      fail(`'${local.slice(0, 10)}' is not a date of the calendar`);
    return { kind: 'at', expression, timeZone, at: instant };
  }
  const rate = RATE.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2] as string;
    if (!Object.hasOwn(RATE_UNITS, unit))
      fail(`'${unit}' is not a rate unit; use minute(s), hour(s) or day(s), e.g. rate(1 day)`);
    if (!Number.isSafeInteger(value) || value < 1) fail('the rate value must be a whole number of 1 or more');
    if ((value === 1) !== !unit.endsWith('s'))
      fail(
        value === 1
          ? `write rate(1 ${unit.replace(/s$/, '')}): the singular unit goes with 1`
          : `write rate(${value} ${unit}s): the plural unit goes with values other than 1`,
      );
    const everyMs = value * RATE_UNITS[unit as RateUnit];
    return { kind: 'rate', expression, timeZone, value, unit: unit as RateUnit, everyMs };
  }
  const cron = CRON.exec(expression);
  if (cron) {
    const fields = (cron[1] as string).trim().split(/\s+/);
    if (fields.length !== 6)
      fail(
        `a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), this one has ${fields.length}; e.g. cron(0 9 ? * MON *)`,
      );
    checkCronFields(fields, fail);
    const schedule: Schedule = { kind: 'cron', expression, timeZone, fields };
    try {
      cronOf(schedule);
    } catch (error) {
      fail(`croner could not read it: ${(error as Error).message}`);
    }
    return schedule;
  }
  return fail(
    `'${expression}' is not an EventBridge Scheduler expression; use at(yyyy-mm-ddThh:mm:ss), rate(n minutes|hours|days) or cron(minutes hours day-of-month month day-of-week year)`,
  );
}

const MONTHS = 'JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC';
const DAYS = 'SUN|MON|TUE|WED|THU|FRI|SAT';
/** Each field's name, values and allowed wildcards (AWS's cron table). */
const CRON_FIELDS = [
  { name: 'minutes', min: 0, max: 59, names: '', extra: '' },
  { name: 'hours', min: 0, max: 23, names: '', extra: '' },
  { name: 'day-of-month', min: 1, max: 31, names: '', extra: '?LW' },
  { name: 'month', min: 1, max: 12, names: MONTHS, extra: '' },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS, extra: '?L#' },
  { name: 'year', min: 1970, max: 2199, names: '', extra: '' },
] as const;

function checkCronFields(fields: readonly string[], fail: (m: string) => never): void {
  fields.forEach((raw, i) => {
    const spec = CRON_FIELDS[i] as (typeof CRON_FIELDS)[number];
    const value = raw.toUpperCase();
    const allowed = `${spec.extra.includes('?') ? '?' : ''}${spec.extra.includes('L') ? 'L' : ''}${spec.extra.includes('W') ? 'W' : ''}${spec.extra.includes('#') ? '#' : ''}`;
    const tokens = new RegExp(`^[0-9*,\\-/${allowed.replace('?', '\\?')}${spec.names ? `A-Z` : ''}]+$`);
    if (!tokens.test(value) || (spec.name === 'day-of-week' && value.includes('/')))
      fail(
        `the ${spec.name} field '${raw}' has a character it does not take; it takes ${spec.min}-${spec.max}${spec.names ? ` or ${spec.names.split('|')[0]}-${spec.names.split('|').at(-1)}` : ''} and the wildcards , - * ${spec.name === 'day-of-week' ? '' : '/ '}${allowed.split('').join(' ')}`.trim(),
      );
    for (const word of value.match(/[A-Z]+/g) ?? [])
      if (!['L', 'W', 'LW'].includes(word) && !spec.names.split('|').includes(word))
        fail(`the ${spec.name} field '${raw}' names '${word}', which it does not know`);
    for (const n of value.match(/\d+/g) ?? []) {
      const number = Number(n);
      const afterHash = spec.name === 'day-of-week' && value.includes(`#${n}`);
      const step = value.includes(`/${n}`);
      if (afterHash ? number < 1 || number > 5 : !step && (number < spec.min || number > spec.max))
        fail(
          afterHash
            ? `the day-of-week field '${raw}': after # comes which week of the month, 1 to 5`
            : `the ${spec.name} field '${raw}' has ${n}, outside ${spec.min}-${spec.max}${spec.name === 'day-of-week' ? ' (1 = SUN … 7 = SAT, unlike Unix cron)' : ''}`,
        );
    }
  });
  const dom = fields[2];
  const dow = fields[4];
  if ((dom === '?') === (dow === '?'))
    fail(
      "day-of-month and day-of-week cannot both be given (nor both be '?'): put '?' in one of them, e.g. cron(0 9 ? * MON *) or cron(0 9 1 * ? *)",
    );
}

/** The croner job of a cron schedule (paused: it only computes times). */
function cronOf(schedule: Extract<Schedule, { kind: 'cron' }>): Cron {
  const [minutes, hours, dom, month, dow, year] = schedule.fields.map((f) => f.toUpperCase()) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  // AWS's '?' is "any": croner's '?' is not, so it gets '*' (the other day field then decides, AND).
  // A lone 'L' in day-of-week is its last day, Saturday (7, Quartz's meaning).
  const any = (f: string) => (f === '?' ? '*' : f);
  const pattern = ['0', minutes, hours, any(dom), month, dow === 'L' ? '7' : any(dow), year].join(' ');
  return new Cron(pattern, {
    timezone: schedule.timeZone,
    mode: '7-part',
    alternativeWeekdays: true,
    domAndDow: true,
    sloppyRanges: true,
    paused: true,
  });
}

/**
 * The next `count` firing times strictly after `after` (epoch order). `startDate` anchors `rate()`
 * (Scheduler's StartDate; the campaign's creation): it fires then and every interval after. An
 * `at()` yields its time when that is after `after`, else nothing. A cron time skipped by daylight
 * saving time is left out, as Scheduler does.
 */
export function firingsAfter(
  schedule: Schedule,
  after: Date,
  count: number,
  options: { startDate?: Date } = {},
): Date[] {
  if (count <= 0) return [];
  if (schedule.kind === 'at') return schedule.at.getTime() > after.getTime() ? [schedule.at] : [];
  if (schedule.kind === 'rate') {
    const start = (options.startDate ?? after).getTime();
    const afterMs = after.getTime();
    const first =
      start > afterMs
        ? start
        : start + (Math.floor((afterMs - start) / schedule.everyMs) + 1) * schedule.everyMs;
    return Array.from({ length: count }, (_, i) => new Date(first + i * schedule.everyMs));
  }
  const cron = cronOf(schedule);
  const out: Date[] = [];
  let from = after;
  // croner moves a time inside a spring-forward gap to the gap's end; Scheduler skips it: a run
  // croner gives that the pattern does not match is such a moved run.
  for (let guard = 0; out.length < count && guard < count * 4; guard++) {
    const next = cron.nextRun(from);
    if (!next) break;
    if (cron.match(next)) out.push(next);
    from = next;
  }
  return out;
}

/** The wall-clock parts (year, month, day, hour, minute, second; zero-padded) of `instant` in `timeZone`. */
export function localParts(instant: Date, timeZone: string): string[] {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(instant);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return [get('year'), get('month'), get('day'), get('hour'), get('minute'), get('second')];
}
