import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * What a provider error means for retrying, by code and, where the provider says so, by
 * destination; and when a failed recipient is tried again. One retry layer: the retry job, through
 * backoff windows. `ERROR_RULES` is the one table (README's table of error classes is made from
 * it), each row with its source.
 */

export type ErrorClass = 'transient' | 'permanent' | 'rate-limited' | 'ambiguous' | 'suppress';

/** A kind of destination a rule is limited to. */
export interface Destination {
  /** For people: `US number`. */
  readonly name: string;
  /** Whether an E.164 number (`+12024561111`) is one. */
  matches(e164: string): boolean;
}

/**
 * A number of the United States: country calling code +1 with a US area code (libphonenumber's
 * region `US`). Not all of +1: Canada and the Caribbean share the code but not Meta's US rule, and
 * a +1 number whose region is unknown (or a US territory's, e.g. Puerto Rico's, region `PR`) is
 * treated as not US, because wrongly calling a number US would drop a message for good while the
 * opposite mistake costs a few failed retries.
 */
export const US_NUMBER: Destination = {
  name: 'US number (+1 with a US area code)',
  matches: (e164) => parsePhoneNumberFromString(e164)?.country === 'US',
};

export interface ErrorRule {
  /** Twilio's error code. */
  readonly code: number;
  readonly meaning: string;
  /** Only for these destinations; a rule without one holds for the rest (a rule with one is matched first). */
  readonly destination?: Destination;
  readonly class: ErrorClass;
  /**
   * For a retried failure: the earliest the first retry may go, in seconds after the failure; it
   * doubles for each further retry (`minWaitSeconds × 2^(attempts − 1)`), within
   * MAX_RETRY_WAIT_SECONDS. The backoff window applies when it is longer.
   */
  readonly minWaitSeconds?: number;
  /** Where the fact comes from. */
  readonly source: string;
}

const DAY_SECONDS = 86_400;
const TWILIO_ERRORS = 'https://www.twilio.com/docs/api/errors';
const MARKETING_LIMITS =
  'https://support.twilio.com/hc/en-us/articles/34591224178331-Marketing-Message-Limits-on-WhatsApp';

/**
 * The table. A code not listed is transient (retried within the same limit), and a 5xx not listed
 * is ambiguous. Twilio's general rule (TWILIO.md): retry on 429/500/502/503/504, never on other 4xx.
 */
export const ERROR_RULES: readonly ErrorRule[] = [
  {
    code: 20429,
    meaning: 'too many concurrent requests: never processed',
    class: 'rate-limited',
    source: `${TWILIO_ERRORS}/20429`,
  },
  {
    code: 63018,
    meaning: 'sender or messaging limit exceeded',
    class: 'rate-limited',
    source: `${TWILIO_ERRORS}/63018`,
  },
  {
    code: 20500,
    meaning: 'Twilio error: may have been created, reconcile first',
    class: 'ambiguous',
    source: `${TWILIO_ERRORS}/20500`,
  },
  { code: 21211, meaning: 'invalid To', class: 'permanent', source: `${TWILIO_ERRORS}/21211` },
  {
    code: 21656,
    meaning: 'ContentVariables invalid (empty, newline, tab, more than 4 spaces): fix the request',
    class: 'permanent',
    source: `${TWILIO_ERRORS}/21656`,
  },
  {
    code: 63003,
    meaning: 'To address invalid or inactive on the channel',
    class: 'permanent',
    source: `${TWILIO_ERRORS}/63003`,
  },
  {
    code: 63007,
    meaning: 'no channel for the From address (configuration)',
    class: 'permanent',
    source: `${TWILIO_ERRORS}/63007`,
  },
  {
    code: 63016,
    meaning: 'outside the 24 h window / template sent as Body',
    class: 'permanent',
    source: `${TWILIO_ERRORS}/63016`,
  },
  {
    code: 63021,
    meaning: 'content WhatsApp refuses, e.g. template text and parameters over 1,024 characters',
    class: 'permanent',
    source: `${TWILIO_ERRORS}/63021`,
  },
  { code: 63024, meaning: 'not a WhatsApp user', class: 'permanent', source: `${TWILIO_ERRORS}/63024` },
  {
    code: 63028,
    meaning: 'wrong number of template parameters',
    class: 'permanent',
    source: `${TWILIO_ERRORS}/63028`,
  },
  { code: 30004, meaning: 'message blocked', class: 'permanent', source: `${TWILIO_ERRORS}/30004` },
  {
    code: 30005,
    meaning: 'unknown destination handset',
    class: 'permanent',
    source: `${TWILIO_ERRORS}/30005`,
  },
  {
    code: 30006,
    meaning: 'landline or unreachable carrier',
    class: 'permanent',
    source: `${TWILIO_ERRORS}/30006`,
  },
  { code: 21610, meaning: 'recipient opted out', class: 'suppress', source: `${TWILIO_ERRORS}/21610` },
  { code: 63014, meaning: 'blocked by the user', class: 'suppress', source: `${TWILIO_ERRORS}/63014` },
  { code: 30003, meaning: 'unreachable handset', class: 'transient', source: `${TWILIO_ERRORS}/30003` },
  { code: 30008, meaning: 'unknown error', class: 'transient', source: `${TWILIO_ERRORS}/30008` },
  { code: 30001, meaning: 'queue overflow', class: 'transient', source: `${TWILIO_ERRORS}/30001` },
  {
    code: 63049,
    meaning:
      'Meta withheld a marketing template: since 2025-04-01 US recipients cannot receive marketing templates; do not retry',
    destination: US_NUMBER,
    class: 'permanent',
    source: `${TWILIO_ERRORS}/63049`,
  },
  // Twilio gives no number for "later"; a resend within 24 h is reported to fail again (issue 10),
  // so a day is the first wait, doubling after.
  {
    code: 63049,
    meaning:
      "Meta withheld a marketing template: the recipient's per-user marketing limit; a resend soon fails again, retry later with growing delays",
    class: 'transient',
    minWaitSeconds: DAY_SECONDS,
    source: `${TWILIO_ERRORS}/63049, ${MARKETING_LIMITS}`,
  },
];

/** The rule for a code and destination (E.164), or undefined when the table has none. */
export function errorRuleOf(code: number | string | undefined, destination?: string): ErrorRule | undefined {
  const n = typeof code === 'number' ? code : Number(code);
  if (code === undefined || code === '' || !Number.isInteger(n)) return undefined;
  return (
    ERROR_RULES.find(
      (rule) =>
        rule.code === n &&
        rule.destination !== undefined &&
        destination &&
        rule.destination.matches(destination),
    ) ?? ERROR_RULES.find((rule) => rule.code === n && rule.destination === undefined)
  );
}

/**
 * The class of an error for a destination (E.164). Without a destination, the rule for any
 * destination (enough for `suppress`, which no destination changes).
 */
export function errorClassOf(code: number | string | undefined, destination?: string): ErrorClass {
  const rule = errorRuleOf(code, destination);
  if (rule) return rule.class;
  const n = Number(code);
  return Number.isInteger(n) && n >= 500 && n <= 599 ? 'ambiguous' : 'transient';
}

/** Whether the retry job (or a manual retry) may send to this recipient (E.164) again. */
export function isRetryable(code: number | string | undefined, destination: string): boolean {
  const errorClass = errorClassOf(code, destination);
  return errorClass !== 'permanent' && errorClass !== 'suppress';
}

/** The default windows: 5, 15 and 60 minutes (RETRY_BACKOFF_SECONDS). */
export const DEFAULT_BACKOFF_SECONDS: readonly number[] = [300, 900, 3600];

/**
 * The longest a recipient waits for a retry: 7 days, the most RETRY_BACKOFF_SECONDS allows for a
 * window. A broadcast stays `running` while a retry waits, so no code's minimum wait keeps it open
 * longer than a window an operator could configure.
 */
export const MAX_RETRY_WAIT_SECONDS = 7 * DAY_SECONDS;

/** `300,900,3600` → [300, 900, 3600]; throws with a message naming the setting. */
export function parseBackoffSeconds(text: string | undefined): number[] {
  if (text === undefined || text.trim() === '') return [...DEFAULT_BACKOFF_SECONDS];
  const parts = text.split(',').map((part) => part.trim());
  // Number('') is 0: an empty part (`5,,5`) is a typo, not a zero-second window.
  const windows = parts.map((part) => (/^[0-9]+$/.test(part) ? Number(part) : Number.NaN));
  if (windows.some((w) => !Number.isInteger(w) || w > MAX_RETRY_WAIT_SECONDS))
    throw new Error(
      `RETRY_BACKOFF_SECONDS must be whole seconds separated by commas (e.g. 300,900,3600), each at most ${MAX_RETRY_WAIT_SECONDS}; got '${text}'`,
    );
  return windows;
}

export type RetryDecision =
  | { readonly retry: true; readonly at: Date }
  | { readonly retry: false; readonly reason: 'permanent' | 'suppress' | 'exhausted' };

/**
 * After a failure of attempt `attempts` (1 for the first send) to `destination` (E.164): retry at
 * `at`, or not. The attempt budget is the same for every code: at most 1 + the number of windows.
 * The wait is the attempt's window, or the code's minimum wait for that attempt when longer
 * (63049 outside the US: 24 h, then 48 h, then 96 h, …), never more than MAX_RETRY_WAIT_SECONDS.
 */
export function retryDecision(
  errorCode: number | string | undefined,
  destination: string,
  attempts: number,
  backoffSeconds: readonly number[],
  now: Date,
): RetryDecision {
  const rule = errorRuleOf(errorCode, destination);
  const errorClass = errorClassOf(errorCode, destination);
  if (errorClass === 'permanent' || errorClass === 'suppress') return { retry: false, reason: errorClass };
  const window = backoffSeconds[attempts - 1];
  if (window === undefined) return { retry: false, reason: 'exhausted' };
  const floor = rule?.minWaitSeconds
    ? Math.min(MAX_RETRY_WAIT_SECONDS, rule.minWaitSeconds * 2 ** (attempts - 1))
    : 0;
  return { retry: true, at: new Date(now.getTime() + Math.max(window, floor) * 1000) };
}
