/**
 * Campaign schedule presets → EventBridge Scheduler expressions (API.md, "Campaigns"; AWS,
 * "Schedule types on EventBridge Scheduler"): cron has six fields (minutes hours day-of-month month
 * day-of-week year), one of day-of-month and day-of-week must be `?`, and day-of-week is 1-7 or
 * SUN-SAT (not Unix cron's 0-6). The time is read in the campaign's `timeZone`.
 */
export type Preset = 'daily' | 'weekly' | 'monthly' | 'once' | 'custom';

export const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface ScheduleChoice {
  preset: Preset;
  /** "HH:MM" (daily, weekly, monthly). */
  time: string;
  weekday: Weekday;
  /** 1-28 (monthly): every month has those days. */
  dayOfMonth: number;
  /** A `datetime-local` value "YYYY-MM-DDTHH:MM" (once), read in the campaign's time zone. */
  at: string;
  /** Written by the admin (custom). */
  expression: string;
}

export type ScheduleProblem = 'bad_expression' | 'no_date' | 'no_time' | 'bad_day';

/** The expression for a choice, or what is wrong with it (messages.ts words each problem). */
export function scheduleExpression(
  choice: ScheduleChoice,
): { expression: string } | { error: ScheduleProblem } {
  if (choice.preset === 'custom') {
    const e = choice.expression.trim();
    return /^(cron|rate|at)\(.+\)$/.test(e) ? { expression: e } : { error: 'bad_expression' };
  }
  if (choice.preset === 'once') {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(choice.at)) return { error: 'no_date' };
    return { expression: `at(${choice.at}:00)` };
  }
  const match = /^(\d{1,2}):(\d{2})$/.exec(choice.time);
  const hours = Number(match?.[1]);
  const minutes = Number(match?.[2]);
  if (!match || hours > 23 || minutes > 59) return { error: 'no_time' };
  switch (choice.preset) {
    case 'daily':
      return { expression: `cron(${minutes} ${hours} * * ? *)` };
    case 'weekly':
      return { expression: `cron(${minutes} ${hours} ? * ${choice.weekday} *)` };
    case 'monthly':
      if (!Number.isInteger(choice.dayOfMonth) || choice.dayOfMonth < 1 || choice.dayOfMonth > 28)
        return { error: 'bad_day' };
      return { expression: `cron(${minutes} ${hours} ${choice.dayOfMonth} * ? *)` };
  }
}

/** The browser's IANA time zone (the default for a new campaign), UTC when unknown. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}
