import { Cron } from 'croner';

/**
 * Quiet hours (API.md Campaigns: `quietHours: { start: "21:00", end: "08:00" }`): a daily span of
 * local time, in each recipient's own time zone, during which nobody is messaged. A span may cross
 * midnight (21:00 → 08:00); `start` is inside it, `end` is not. A recipient inside it waits (status
 * `queued`, not failed) until its end, and is sent then.
 *
 * Local time comes from the runtime's tz data (Intl), and the end of a span as an instant from
 * croner (a maintained cron library with time zones), so daylight-saving days are right: an end that
 * a spring-forward skips (02:30 on the night clocks jump 02:00 → 03:00) is the first instant after it.
 */
export interface QuietHours {
  /** `HH:MM`, 24-hour local time: the first quiet minute. */
  readonly start: string;
  /** `HH:MM`: the first minute messages may go again. */
  readonly end: string;
}

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes since local midnight of an `HH:MM` text, or undefined when it is not one. */
export function minutesOfDay(text: string): number | undefined {
  const match = HH_MM.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The local minute of day of `at` in `timeZone` (an IANA id). */
export function localMinuteOfDay(at: Date, timeZone: string): number {
  let hour = 0;
  let minute = 0;
  for (const part of formatterFor(timeZone).formatToParts(at)) {
    if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return hour * 60 + minute;
}

/** Whether local minute `m` lies in the span (start inclusive, end exclusive; may cross midnight). */
export function inQuietSpan(m: number, quiet: QuietHours): boolean {
  const start = minutesOfDay(quiet.start) ?? 0;
  const end = minutesOfDay(quiet.end) ?? 0;
  return start < end ? m >= start && m < end : m >= start || m < end;
}

const ends = new Map<string, Cron>();
/** Answers by (zone, hours, minute): a broadcast asks the same few zones at the same instant 100,000 times. */
const answers = new Map<string, Date | undefined>();
const MAX_ANSWERS = 50_000;

/**
 * When a recipient in `timeZone` may be messaged, if `at` is inside their quiet hours: the next
 * local `end` after `at`, as an instant. Undefined when `at` is outside them (send now).
 */
export function quietUntil(at: Date, timeZone: string, quiet: QuietHours): Date | undefined {
  // The answer is the same for every second of a minute (spans are whole minutes, `end` exclusive).
  const key = `${timeZone}|${quiet.start}|${quiet.end}|${Math.floor(at.getTime() / 60_000)}`;
  if (answers.has(key)) return answers.get(key);
  if (answers.size >= MAX_ANSWERS) answers.clear();
  const answer = computeQuietUntil(at, timeZone, quiet);
  answers.set(key, answer);
  return answer;
}

function computeQuietUntil(at: Date, timeZone: string, quiet: QuietHours): Date | undefined {
  if (!inQuietSpan(localMinuteOfDay(at, timeZone), quiet)) return undefined;
  const id = `${timeZone} ${quiet.end}`;
  let cron = ends.get(id);
  if (!cron) {
    const [hour, minute] = quiet.end.split(':');
    cron = new Cron(`0 ${Number(minute)} ${Number(hour)} * * *`, { timezone: timeZone, paused: true });
    ends.set(id, cron);
  }
  return cron.nextRun(at) ?? undefined;
}
