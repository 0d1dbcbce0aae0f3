/**
 * What a provider error means for retrying (TWILIO.md "Error codes"), and when a failed
 * recipient is tried again. One retry layer: the retry job, through backoff windows.
 */

export type ErrorClass = 'transient' | 'permanent' | 'rate-limited' | 'ambiguous' | 'suppress';

/** TWILIO.md's table. A code not listed is transient: retried, within the same limit. */
export const ERROR_CLASSES: Readonly<Record<number, ErrorClass>> = {
  20429: 'rate-limited', // too many concurrent requests: never processed
  63018: 'rate-limited', // sender or messaging limit exceeded
  20500: 'ambiguous', // Twilio error: may have been created, reconcile first
  21211: 'permanent', // invalid To
  21656: 'permanent', // ContentVariables invalid: fix the request
  63003: 'permanent', // To address invalid or inactive on the channel
  63007: 'permanent', // no channel for the From address (configuration)
  63016: 'permanent', // outside the 24 h window / template sent as Body
  63024: 'permanent', // not a WhatsApp user
  63028: 'permanent', // wrong number of template parameters
  30004: 'permanent', // message blocked
  30005: 'permanent', // unknown destination handset
  30006: 'permanent', // landline or unreachable carrier
  21610: 'suppress', // recipient opted out
  63014: 'suppress', // blocked by the user
  30003: 'transient', // unreachable handset
  30008: 'transient', // unknown error
  30001: 'transient', // queue overflow
  63049: 'transient', // Meta withheld a marketing template: later, with growing delays
};

export function errorClassOf(code: number | string | undefined): ErrorClass {
  const n = typeof code === 'number' ? code : Number(code);
  if (code === undefined || code === '' || !Number.isInteger(n)) return 'transient';
  return ERROR_CLASSES[n] ?? (n >= 500 && n <= 599 ? 'ambiguous' : 'transient');
}

/** Whether the retry job (or a manual retry) may send to this recipient again. */
export function isRetryable(code: number | string | undefined): boolean {
  const errorClass = errorClassOf(code);
  return errorClass !== 'permanent' && errorClass !== 'suppress';
}

/** The default windows: 5, 15 and 60 minutes (RETRY_BACKOFF_SECONDS). */
export const DEFAULT_BACKOFF_SECONDS: readonly number[] = [300, 900, 3600];

/** `300,900,3600` → [300, 900, 3600]; throws with a message naming the setting. */
export function parseBackoffSeconds(text: string | undefined): number[] {
  if (text === undefined || text.trim() === '') return [...DEFAULT_BACKOFF_SECONDS];
  const windows = text.split(',').map((part) => Number(part.trim()));
  if (windows.length === 0 || windows.some((w) => !Number.isInteger(w) || w < 0 || w > 86_400 * 7))
    throw new Error(
      `RETRY_BACKOFF_SECONDS must be whole seconds separated by commas (e.g. 300,900,3600); got '${text}'`,
    );
  return windows;
}

export type RetryDecision =
  | { readonly retry: true; readonly at: Date }
  | { readonly retry: false; readonly reason: 'permanent' | 'suppress' | 'exhausted' };

/**
 * After a failure of attempt `attempts` (1 for the first send): retry after the next window,
 * or not. Max attempts = 1 + the number of windows.
 */
export function retryDecision(
  errorCode: number | string | undefined,
  attempts: number,
  backoffSeconds: readonly number[],
  now: Date,
): RetryDecision {
  const errorClass = errorClassOf(errorCode);
  if (errorClass === 'permanent' || errorClass === 'suppress') return { retry: false, reason: errorClass };
  const window = backoffSeconds[attempts - 1];
  if (window === undefined) return { retry: false, reason: 'exhausted' };
  return { retry: true, at: new Date(now.getTime() + window * 1000) };
}
