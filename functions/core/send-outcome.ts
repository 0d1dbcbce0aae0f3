/**
 * What the send consumer does with the answer to one Twilio create call (DESIGN.md "Send ledger",
 * TWILIO.md "Error codes"). There are no provider-level retries inside a send: the answer decides
 * between recording the SID, handing the claim back for later (rate limits), failing the
 * recipient, or the ambiguous case where Twilio may have accepted the message and a blind resend
 * could deliver it twice.
 */

export type ProviderCallResult =
  | { kind: 'accepted'; sid: string }
  | { kind: 'http-error'; status: number; code?: number; message?: string }
  | { kind: 'network-error' | 'timeout'; message: string };

export type SendOutcome =
  /** Write the SID on the claimed attempt (condition: same attempt, no SID yet). */
  | { action: 'record-sid'; sid: string }
  /** Never processed by Twilio: put the claim back (sending → queued, same attempt), retry after the delay. */
  | { action: 'requeue-rate-limited'; delaySeconds: number; code: number }
  /** Twilio refused this recipient: `failed` with the code. */
  | { action: 'fail-permanent'; code: number; message: string }
  /** Twilio may or may not have the message: stay `sending`, never resend before reconciling. */
  | { action: 'ambiguous'; reason: string };

/** Twilio codes that mean "slow down": never processed (20429) or sender over its rate (63018). */
export const RATE_LIMIT_CODES: ReadonlySet<number> = new Set([20429, 63018]);

export const RATE_LIMIT_MIN_DELAY_SECONDS = 2;
export const RATE_LIMIT_MAX_DELAY_SECONDS = 30;

/**
 * A re-delivery delay in whole seconds within [min, max], with full jitter so that many consumers
 * that hit the limit together do not come back together. `random` returns [0, 1).
 */
export function rateLimitDelaySeconds(
  random: () => number = Math.random,
  min = RATE_LIMIT_MIN_DELAY_SECONDS,
  max = RATE_LIMIT_MAX_DELAY_SECONDS,
): number {
  const r = Math.min(Math.max(random(), 0), 0.999999999);
  return min + Math.floor(r * (max - min + 1));
}

export interface ClassifyOptions {
  random?: () => number;
}

/**
 * Classifies a provider call:
 * - accepted → record the SID;
 * - HTTP 429, or Twilio code 20429 / 63018 (whatever the HTTP status) → re-queue after 2–30 s;
 * - 5xx, 408, timeout, network error → ambiguous (TWILIO.md: a 500 may have created the message);
 * - any other 4xx → permanent failure with Twilio's code (the HTTP status when Twilio gave none);
 * - anything else (1xx/2xx/3xx without a SID) → ambiguous: we cannot tell what happened.
 */
export function classifySendOutcome(result: ProviderCallResult, options: ClassifyOptions = {}): SendOutcome {
  switch (result.kind) {
    case 'accepted':
      return { action: 'record-sid', sid: result.sid };
    case 'timeout':
      return { action: 'ambiguous', reason: `timeout: ${result.message}` };
    case 'network-error':
      return { action: 'ambiguous', reason: `network error: ${result.message}` };
    case 'http-error': {
      const { status, code } = result;
      if (status === 429 || (code !== undefined && RATE_LIMIT_CODES.has(code))) {
        return {
          action: 'requeue-rate-limited',
          delaySeconds: rateLimitDelaySeconds(options.random),
          code: code ?? 20429,
        };
      }
      if (status >= 500 || status === 408) {
        return { action: 'ambiguous', reason: `HTTP ${status}${code !== undefined ? ` (${code})` : ''}` };
      }
      if (status >= 400) {
        const finalCode = code ?? status;
        return {
          action: 'fail-permanent',
          code: finalCode,
          message: result.message || errorMessageFor(finalCode),
        };
      }
      return { action: 'ambiguous', reason: `unexpected HTTP ${status}` };
    }
  }
}

/** Readable messages for the codes in TWILIO.md's table (and a few neighbours). */
export const ERROR_MESSAGES: Readonly<Record<number, string>> = {
  20003: 'Twilio authentication failed (check the account SID and auth token)',
  20404: 'Twilio resource not found',
  20429: 'Too many concurrent requests to Twilio',
  20500: 'Twilio internal error',
  21211: "Invalid 'To' phone number",
  21408: 'Permission to send to this region is not enabled',
  21606: "The 'From' number is not a valid sender for this account",
  21610: 'Recipient opted out (unsubscribed)',
  21656: 'Invalid ContentVariables',
  30001: 'Queue overflow',
  30003: 'Unreachable destination handset',
  30004: 'Message blocked',
  30005: 'Unknown destination handset',
  30006: 'Landline or unreachable carrier',
  30007: 'Message filtered by the carrier',
  30008: 'Unknown error',
  63003: 'Invalid or inactive WhatsApp address',
  63007: "No WhatsApp channel for the 'From' address",
  63014: 'Message blocked by the recipient',
  63016: 'Outside the 24-hour window: only an approved template may be sent',
  63018: 'Rate or messaging limit exceeded',
  63024: 'Not a WhatsApp user or invalid recipient',
  63028: 'Wrong number of template parameters',
  63049: 'Meta withheld the marketing template',
};

export function errorMessageFor(code: number | string | undefined): string {
  if (code === undefined || code === '') return 'Unknown error';
  const n = typeof code === 'number' ? code : Number(code);
  return (Number.isInteger(n) ? ERROR_MESSAGES[n] : undefined) ?? `Twilio error ${code}`;
}

/**
 * Codes that say the sender or the account is misconfigured rather than the recipient being bad:
 * every later send will fail the same way. A consumer may stop the broadcast (or mark the provider
 * not usable → 503 PROVIDER_NOT_CONFIGURED / WHATSAPP_NOT_CONNECTED) instead of failing each recipient.
 */
export const CONFIGURATION_CODES: ReadonlySet<number> = new Set([20003, 21606, 63007]);

/** Twilio's ErrorCode form parameter (a string of digits) → number, or undefined. */
export function parseProviderErrorCode(value: string | number | undefined | null): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
