/**
 * Issue 13's timing options as a form holds them (text fields) → the `quietHours` and `frequencyCap`
 * of a POST /v1/broadcasts, /v1/broadcasts/preview or /v1/campaigns body (API.md, "Campaigns";
 * functions/core/broadcast-request.ts QuietHoursSchema and FrequencyCapSchema), or what to fix first.
 */

/** The server's bounds (functions/core/send-timing.ts MAX_CAP_MESSAGES, MAX_CAP_DAYS; a test keeps them equal). */
export const CAP_MAX_MESSAGES = 100;
export const CAP_MAX_DAYS = 30;

export interface TimingFields {
  /** "HH:MM" (an `<input type="time">` value) or '' for no quiet hours; both or neither. */
  quietStart: string;
  quietEnd: string;
  /** Whole numbers as typed; both '' for no cap. */
  capMax: string;
  capDays: string;
}

export const NO_TIMING: TimingFields = { quietStart: '', quietEnd: '', capMax: '', capDays: '' };

export type TimingProblem = 'quiet_incomplete' | 'quiet_same' | 'cap_incomplete' | 'cap_range';

export interface TimingOptions {
  quietHours?: { start: string; end: string };
  frequencyCap?: { max: number; days: number };
}

const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;

function wholeIn(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text.trim())) return undefined;
  const n = Number(text.trim());
  return n >= min && n <= max ? n : undefined;
}

/** The fields → the body's options (absent when left empty), or the problems (messages.ts words them). */
export function timingOptions(fields: TimingFields): { options: TimingOptions; problems: TimingProblem[] } {
  const problems: TimingProblem[] = [];
  const options: TimingOptions = {};
  const start = fields.quietStart.trim();
  const end = fields.quietEnd.trim();
  if (start || end) {
    if (!HH_MM.test(start) || !HH_MM.test(end)) problems.push('quiet_incomplete');
    else if (start === end) problems.push('quiet_same');
    else options.quietHours = { start, end };
  }
  if (fields.capMax.trim() || fields.capDays.trim()) {
    if (!fields.capMax.trim() || !fields.capDays.trim()) problems.push('cap_incomplete');
    else {
      const max = wholeIn(fields.capMax, 1, CAP_MAX_MESSAGES);
      const days = wholeIn(fields.capDays, 1, CAP_MAX_DAYS);
      if (max === undefined || days === undefined) problems.push('cap_range');
      else options.frequencyCap = { max, days };
    }
  }
  return { options: problems.length ? {} : options, problems };
}
