import { type CanaryFields, type CanaryProblem, canaryOption } from './canary.ts';
import { type TimingFields, type TimingProblem, timingOptions } from './send-timing.ts';
import { compileVariables, type VariableMapping } from './variables.ts';

/** The New broadcast form's fields, as typed. */
export interface BroadcastForm {
  name: string;
  groupIds: string[];
  /** Comma-separated. */
  tags: string;
  /** One per line, or separated by commas or semicolons. */
  phones: string;
  defaultCountry: string;
  contentSid: string;
  mappings: Record<string, VariableMapping>;
  followUpBody: string;
  confirmPayload: string;
  /** A `datetime-local` value in the browser's time zone; '' sends now. */
  scheduleLocal: string;
  /** Quiet hours and frequency cap (issue 13); absent or empty: none. */
  timing?: TimingFields;
  /** The canary (issue 13); absent or without a mode: none. */
  canary?: CanaryFields;
}

export type FormProblem =
  | 'no_audience'
  | 'no_template'
  | 'missing_variables'
  | 'schedule_past'
  | TimingProblem
  | CanaryProblem;

/** Comma/semicolon/newline-separated text → trimmed, non-empty, de-duplicated entries. */
export function splitList(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\n,;]+/)
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
}

/**
 * The form → the body POST /v1/broadcasts and POST /v1/broadcasts/preview take (API.md,
 * "Broadcasts to an audience"), or the problems to fix first. `now` is injectable for tests.
 */
export function broadcastRequest(
  form: BroadcastForm,
  now: Date = new Date(),
): { body?: Record<string, unknown>; problems: FormProblem[]; missingVariables: string[] } {
  const problems: FormProblem[] = [];
  const tags = splitList(form.tags);
  const phones = splitList(form.phones);
  if (form.groupIds.length === 0 && tags.length === 0 && phones.length === 0) problems.push('no_audience');
  if (!form.contentSid) problems.push('no_template');
  const { variables, missing } = compileVariables(form.mappings);
  if (missing.length > 0) problems.push('missing_variables');
  let scheduledAt: string | undefined;
  if (form.scheduleLocal) {
    const at = new Date(form.scheduleLocal); // a datetime-local value is read in the browser's zone
    if (Number.isNaN(at.getTime()) || at.getTime() <= now.getTime()) problems.push('schedule_past');
    else scheduledAt = at.toISOString();
  }
  const timing = form.timing ? timingOptions(form.timing) : { options: {}, problems: [] };
  problems.push(...timing.problems);
  const canary = form.canary ? canaryOption(form.canary) : { option: {}, problems: [] };
  problems.push(...canary.problems);
  if (problems.length > 0) return { problems, missingVariables: missing };
  const audience: Record<string, string[]> = {};
  if (form.groupIds.length > 0) audience.groupIds = [...form.groupIds];
  if (tags.length > 0) audience.tags = tags;
  if (phones.length > 0) audience.phones = phones;
  const body: Record<string, unknown> = {
    ...(form.name.trim() ? { name: form.name.trim() } : {}),
    audience,
    template: { contentSid: form.contentSid, variables },
    ...(form.defaultCountry.trim() ? { defaultCountry: form.defaultCountry.trim().toUpperCase() } : {}),
    ...(form.followUpBody.trim()
      ? {
          followUp: {
            body: form.followUpBody.trim(),
            ...(form.confirmPayload.trim() ? { confirmPayload: form.confirmPayload.trim() } : {}),
          },
        }
      : {}),
    ...(scheduledAt ? { scheduledAt } : {}),
    ...timing.options,
    ...canary.option,
  };
  return { body, problems, missingVariables: [] };
}

/**
 * One Idempotency-Key per submission: the same body keeps its key (a double click, a retry after a
 * network error: the API answers the same broadcast), a changed body gets a new one.
 */
export class SubmissionKeys {
  private last?: { body: string; key: string };
  private readonly newKey: () => string;
  constructor(newKey: () => string = () => crypto.randomUUID()) {
    this.newKey = newKey;
  }
  keyFor(body: unknown): string {
    const json = JSON.stringify(body);
    if (this.last?.body !== json) this.last = { body: json, key: this.newKey() };
    return this.last.key;
  }
}

/** The server's most test phones in one test send (functions/core/test-send.ts MAX_TEST_PHONES; a test keeps them equal). */
export const MAX_TEST_PHONES = 10;

/** Pasted test phones → the list to send (1 to MAX_TEST_PHONES), or why not. */
export function testPhonesOf(text: string): { phones: string[] } | { problem: 'test_none' | 'test_many' } {
  const phones = splitList(text);
  if (phones.length === 0) return { problem: 'test_none' };
  if (phones.length > MAX_TEST_PHONES) return { problem: 'test_many' };
  return { phones };
}
