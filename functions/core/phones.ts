import {
  type CountryCode,
  isSupportedCountry,
  type NumberType,
  ParseError,
  parsePhoneNumberWithError,
  validatePhoneNumberLength,
} from 'libphonenumber-js/max';

/**
 * Recipient phone normalization (API.md POST /v1/broadcasts): every input becomes an E.164 number
 * or an invalid entry with a reason; duplicates (same E.164) keep the first occurrence.
 *
 * Uses libphonenumber-js with its `max` metadata, which knows number types, so fixed lines are
 * detected (`not_mobile`). A number is accepted when it is *possible* for its country (right
 * length), not only when libphonenumber's ranges call it *valid*: the ranges lag behind real
 * allocations (libphonenumber rejects +972 50 123 4567, API.md's own example), and refusing a real
 * subscriber is worse than one failed send, which Twilio reports per recipient anyway.
 */

export type RecipientInput = string | { phone: string; variables?: Record<string, string> };

export const INVALID_REASONS = [
  'too_short',
  'too_long',
  'invalid_format',
  'invalid_country',
  'not_mobile',
  /** Not produced here: for callers that check a recipient's template variables (see templates.ts). */
  'missing_variables',
  'invalid_variable',
] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

/** Each reason in words, for an error's details. */
export const INVALID_REASON_TEXT: Readonly<Record<InvalidReason, string>> = {
  too_short: 'too short to be a phone number',
  too_long: 'too long to be a phone number',
  invalid_format: 'not a phone number',
  invalid_country: 'a national number needs defaultCountry (or write it in E.164, e.g. +972501234567)',
  not_mobile: 'not a mobile number (WhatsApp needs one)',
  missing_variables: 'missing template variables',
  invalid_variable: 'a template variable WhatsApp would refuse',
};

export interface AcceptedRecipient {
  /** E.164, e.g. `+972501234568`. */
  phone: string;
  variables: Record<string, string>;
  /** Position in the request's `recipients` array. */
  index: number;
}

export interface InvalidRecipient {
  /** The phone as given (cut to 100 characters). */
  input: string;
  reason: InvalidReason;
  /** Position in the request's `recipients` array. */
  index: number;
  /** `invalid_variable` only: the template variable (ContentVariables key) whose value WhatsApp would refuse. */
  variable?: string;
  /** `invalid_variable` only: why, e.g. `contains a newline`. */
  message?: string;
}

export interface NormalizedRecipients {
  /** Unique valid recipients, in input order (first occurrence wins). */
  accepted: AcceptedRecipient[];
  invalid: InvalidRecipient[];
  /** Valid inputs dropped because an earlier input had the same E.164 number. */
  duplicateCount: number;
}

/**
 * Number types that are known not to reach a WhatsApp user on a phone. Only decided when
 * libphonenumber knows the type (the number is in a known range); `FIXED_LINE_OR_MOBILE` (US, CA, …),
 * `MOBILE`, `VOIP`, `PERSONAL_NUMBER` and unknown types pass.
 */
export const NOT_MOBILE_TYPES: ReadonlySet<NumberType> = new Set<NumberType>([
  'FIXED_LINE',
  'TOLL_FREE',
  'PREMIUM_RATE',
  'SHARED_COST',
  'UAN',
  'VOICEMAIL',
  'PAGER',
]);

/** ISO 3166-1 alpha-2 code that libphonenumber has metadata for (`IL`, `KE`, `US`, …). Upper case only. */
export function isValidCountryCode(cc: string): boolean {
  return /^[A-Z]{2}$/.test(cc) && isSupportedCountry(cc);
}

const MAX_INPUT_LENGTH = 64;
const ECHO_LENGTH = 100;
// Digits (any script: libphonenumber folds Arabic-Indic etc.), one leading +, and the usual
// separators: spaces, dashes (incl. Unicode dashes), dots, slashes, parentheses.
const ALLOWED = /^\+?[\p{Nd}\s\-\u2010-\u2015.()/]+$/u;
const SEPARATORS = /[\s\-\u2010-\u2015.()/]/gu;
const WHATSAPP_PREFIX = /^whatsapp:/i;

type Outcome = { ok: true; phone: string } | { ok: false; reason: InvalidReason };

/** One phone → E.164 or the reason it is not usable. `defaultCountry` must already be checked. */
export function normalizePhone(raw: string, defaultCountry?: string): Outcome {
  let text = raw.trim().replace(WHATSAPP_PREFIX, '').trim();
  if (text.length === 0) return { ok: false, reason: 'invalid_format' };
  if (text.length > MAX_INPUT_LENGTH) return { ok: false, reason: 'too_long' };
  if (!ALLOWED.test(text)) return { ok: false, reason: 'invalid_format' };
  text = text.replace(SEPARATORS, '');
  // International prefix 00 (used by most of the world) written instead of +.
  if (text.startsWith('00')) text = `+${text.slice(2)}`;
  const international = text.startsWith('+');
  const digits = international ? text.length - 1 : text.length;
  if (digits === 0) return { ok: false, reason: 'invalid_format' };
  if (digits < 4) return { ok: false, reason: 'too_short' };
  if (digits > 17) return { ok: false, reason: 'too_long' };
  if (!international && !defaultCountry) return { ok: false, reason: 'invalid_country' };

  let parsed: ReturnType<typeof parsePhoneNumberWithError>;
  try {
    parsed = international
      ? parsePhoneNumberWithError(text, { extract: false })
      : parsePhoneNumberWithError(text, { defaultCountry: defaultCountry as CountryCode, extract: false });
  } catch (err) {
    return { ok: false, reason: parseErrorReason(err) };
  }
  if (!parsed.isPossible()) {
    const why = validatePhoneNumberLength(parsed.number);
    return {
      ok: false,
      reason: why === 'TOO_SHORT' ? 'too_short' : why === 'TOO_LONG' ? 'too_long' : 'invalid_format',
    };
  }
  const type = parsed.getType();
  if (type !== undefined && NOT_MOBILE_TYPES.has(type)) return { ok: false, reason: 'not_mobile' };
  return { ok: true, phone: parsed.number };
}

function parseErrorReason(err: unknown): InvalidReason {
  if (err instanceof ParseError) {
    switch (err.message) {
      case 'INVALID_COUNTRY':
        return 'invalid_country';
      case 'TOO_SHORT':
        return 'too_short';
      case 'TOO_LONG':
        return 'too_long';
      default:
        return 'invalid_format';
    }
  }
  return 'invalid_format';
}

/**
 * Normalizes a request's recipients. Linear in the number of inputs (one libphonenumber parse per
 * distinct input string; exact repeats are answered from a map). Input order is kept.
 * `defaultCountry` (ISO alpha-2, any case) is used for national formats (`050-123-4568`); without a
 * usable one, national formats are `invalid_country`.
 */
export function normalizeRecipients(
  inputs: readonly RecipientInput[],
  defaultCountry?: string,
): NormalizedRecipients {
  const cc = defaultCountry?.toUpperCase();
  const country = cc && isValidCountryCode(cc) ? cc : undefined;
  const accepted: AcceptedRecipient[] = [];
  const invalid: InvalidRecipient[] = [];
  const seen = new Set<string>();
  const byInput = new Map<string, Outcome>();
  let duplicateCount = 0;

  for (let index = 0; index < inputs.length; index++) {
    const input = inputs[index] as RecipientInput;
    const raw = typeof input === 'string' ? input : input.phone;
    const text = typeof raw === 'string' ? raw : String(raw);
    let outcome = byInput.get(text);
    if (outcome === undefined) {
      outcome = normalizePhone(text, country);
      byInput.set(text, outcome);
    }
    if (!outcome.ok) {
      invalid.push({ input: text.slice(0, ECHO_LENGTH), reason: outcome.reason, index });
      continue;
    }
    if (seen.has(outcome.phone)) {
      duplicateCount++;
      continue;
    }
    seen.add(outcome.phone);
    const variables = typeof input === 'string' ? {} : { ...(input.variables ?? {}) };
    accepted.push({ phone: outcome.phone, variables, index });
  }
  return { accepted, invalid, duplicateCount };
}

/** All but the last 4 digits masked, for logs and events: `+972501234567` → `+********4567`. */
export function maskPhone(e164: string): string {
  const plus = e164.startsWith('+') ? '+' : '';
  const digits = plus ? e164.slice(1) : e164;
  if (digits.length <= 4) return `${plus}${digits}`;
  return `${plus}${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`;
}

/** `whatsapp:+972…` → `+972…` (Twilio's `From`/`To`); other text unchanged. */
export function stripWhatsAppPrefix(address: string): string {
  return address.replace(WHATSAPP_PREFIX, '');
}

/** `+972…` → `whatsapp:+972…`, the address form Twilio's Messages API expects. */
export function toWhatsAppAddress(e164: string): string {
  return WHATSAPP_PREFIX.test(e164) ? e164 : `whatsapp:${e164}`;
}
