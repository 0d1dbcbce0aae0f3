import {
  type CountryCode,
  isSupportedCountry,
  type NumberType,
  ParseError,
  type PhoneNumber,
  parsePhoneNumberWithError,
  validatePhoneNumberLength,
} from 'libphonenumber-js/max';

/**
 * Recipient phone normalization (API.md POST /v1/broadcasts): every input becomes an E.164 number
 * or an invalid entry with a reason; duplicates (same E.164) keep the first occurrence.
 *
 * Three steps, each for a reason:
 * 1. `foldPhoneText`: the Unicode a person, a phone's contacts app, a PDF or a spreadsheet writes a
 *    number with (full-width digits, invisible direction marks, no-break spaces, Unicode dashes…)
 *    becomes plain ASCII, so one number has one reading whatever it was copied from.
 * 2. libphonenumber-js with its `max` metadata parses it, and knows number types, so fixed lines
 *    are detected (`not_mobile`). A number is accepted when it is *possible* for its country (right
 *    length), not only when libphonenumber's ranges call it *valid*: the ranges lag behind real
 *    allocations (libphonenumber rejects +972 50 123 4567, API.md's own example), and refusing a real
 *    subscriber is worse than one failed send, which Twilio reports per recipient anyway.
 * 3. `whatsAppIdentity`: the mobile prefixes that some countries' carriers and WhatsApp add or drop
 *    (Mexico's 1, Argentina's 9, Brazil's ninth digit) are settled on one canonical form, the one we
 *    send to and the one every comparison of two phones uses.
 */

export type RecipientInput = string | { phone: string; variables?: Record<string, string> };

export const INVALID_REASONS = [
  'too_short',
  'too_long',
  'invalid_format',
  'invalid_country',
  'not_mobile',
  /**
   * A number a spreadsheet turned into a float and printed in scientific notation (`9.72537E+11`):
   * its last digits are gone, so it cannot be read back; the list must be exported as text.
   */
  'scientific_notation',
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
  scientific_notation:
    'a spreadsheet turned it into a number in scientific notation (9.72537E+11) and its last digits are lost: format the column as text and export again',
  missing_variables: 'missing template variables',
  invalid_variable: 'a template variable WhatsApp would refuse',
};

export interface AcceptedRecipient {
  /** E.164, canonical (see whatsAppIdentity), e.g. `+972501234568`. */
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
  /** `missing_variables` only: the recipient variable keys that found no value (`{{city}}` → `city`). */
  missing?: string[];
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

// -- 1. Folding ----------------------------------------------------------------------------------

/** Every decimal digit of any script: Unicode keeps each script's 0–9 as one run of ten code points. */
const ANY_DIGIT = /\p{Nd}/u;

/** A decimal digit of any script (Devanagari ४, Bengali ৪, Arabic-Indic ٤, Thai ๔…) → its ASCII digit. */
function asciiDigit(digit: string): string {
  const cp = digit.codePointAt(0) ?? 0x30;
  if (cp <= 0x39) return digit;
  // Nd runs are whole sets of ten that start at their zero (a Unicode stability guarantee), so the
  // distance from the run's start, modulo ten, is the value.
  let start = cp;
  while (start > 0 && ANY_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return String((cp - start) % 10);
}

/**
 * The text of a phone number in plain ASCII, for the parser: the same number has one reading
 * whatever it was copied from. In order:
 * - NFKC: full-width digits, `＋`, `（）` and `－` (East Asian keyboards, Excel's full-width forms),
 *   superscript and circled digits, compatibility spaces;
 * - format characters (Unicode `Cf`) removed: the direction marks and embeddings phones' contacts
 *   apps, PDFs and chat apps wrap numbers in (U+200E/U+200F, U+202A–U+202E, U+2066–U+2069, U+061C),
 *   zero-width space and joiners (U+200B–U+200D), the BOM (U+FEFF), soft hyphen, word joiner;
 * - combining marks removed (emoji keycaps `5️⃣` are a digit, U+FE0F and U+20E3);
 * - every space (`Zs`: no-break, narrow no-break, figure, ideographic…) and line break → a space;
 * - every dash (`Pd`), the minus sign U+2212 and ➖ → `-`; ➕ → `+`;
 * - digits of any script → ASCII (libphonenumber reads only Arabic-Indic and full-width ones);
 * - what spreadsheets and links put around a number: a leading `'` (Excel's "store as text"), an
 *   `="…"` text formula, the `whatsapp:` and `tel:` (RFC 3966) prefixes.
 */
export function foldPhoneText(raw: string): string {
  let text = raw
    .normalize('NFKC')
    .replace(/[\p{Cf}\p{M}]/gu, '')
    .replace(/[\p{Z}\s]/gu, ' ')
    .replace(/[\p{Pd}\u2212\u2796]/gu, '-')
    .replace(/\u2795/gu, '+')
    .replace(/\p{Nd}/gu, asciiDigit)
    .trim();
  const formula = /^="(.*)"$/.exec(text);
  if (formula) text = (formula[1] ?? '').trim();
  return text
    .replace(/^['\u2018\u2019]/, '')
    .replace(PREFIX, '')
    .trim();
}

// -- 2. Parsing ----------------------------------------------------------------------------------

const MAX_INPUT_LENGTH = 64;
/** Inputs longer than this are too long whatever they hold (64 characters plus room for invisible marks). */
const MAX_RAW_LENGTH = 1024;
const ECHO_LENGTH = 100;
/** `whatsapp:` (Twilio's addresses) and `tel:` (RFC 3966 links, vCards), any case. */
const PREFIX = /^(?:whatsapp|tel):\s*/i;
const WHATSAPP_PREFIX = /^whatsapp:/i;
// After folding: one leading + (or one inside a leading parenthesis: "(+52) 55…"), ASCII digits and
// the usual separators: spaces, dashes, dots, slashes, parentheses.
const SEPARATORS = /[ \-.()/]/g;
const DIGITS = /^\+?\d+$/;
/**
 * A float printed by a spreadsheet: `9.72537E+11`, `9,72537E+11` (a comma locale), `9.72537e11`.
 * The mantissa kept six significant digits: the number's last digits are zeros now, not its own.
 */
const SCIENTIFIC = /^[+-]?\d+(?:[.,]\d*)?\s*e\s*[+-]?\d+$/i;
/** The same float printed in full, `972501234567.0` (pandas, a numeric CSV column): the digits are all there. */
const FLOAT_TAIL = /^(\+?\d{7,})[.,]0+$/;

type Outcome = { ok: true; phone: string } | { ok: false; reason: InvalidReason };

/**
 * One phone → its canonical E.164 (whatsAppIdentity) or the reason it is not usable.
 * `defaultCountry` must already be checked (isValidCountryCode).
 *
 * Besides what libphonenumber reads, national forms of the mobile prefixes it does not:
 * - Mexico, with `defaultCountry: "MX"`: `1`, `044`, `045` (mobile) and `01` (long distance) before
 *   the 10-digit number, retired by IFT's dialling plan on 3 August 2019 but still in contact lists;
 * - Argentina: `+54 9 AREA 15 NUMBER` (the international 9 and the national 15 both written) is read
 *   as libphonenumber reads the national `0 AREA 15 NUMBER`: `+54 9 AREA NUMBER`.
 */
export function normalizePhone(raw: string, defaultCountry?: string): Outcome {
  // Folding keeps the length or shortens it, bar NFKC's rare expansions: a bound before the work.
  if (raw.length > MAX_RAW_LENGTH) return { ok: false, reason: 'too_long' };
  let text = foldPhoneText(raw);
  if (text.length === 0) return { ok: false, reason: 'invalid_format' };
  if (SCIENTIFIC.test(text)) return { ok: false, reason: 'scientific_notation' };
  if (text.length > MAX_INPUT_LENGTH) return { ok: false, reason: 'too_long' };
  text = text.replace(FLOAT_TAIL, '$1').replace(SEPARATORS, '');
  if (!DIGITS.test(text)) return { ok: false, reason: 'invalid_format' };
  // International prefix 00 (used by most of the world) written instead of +.
  if (text.startsWith('00')) text = `+${text.slice(2)}`;
  const international = text.startsWith('+');
  const digits = international ? text.length - 1 : text.length;
  if (digits === 0) return { ok: false, reason: 'invalid_format' };
  if (digits < 4) return { ok: false, reason: 'too_short' };
  if (digits > 17) return { ok: false, reason: 'too_long' };
  if (!international && !defaultCountry) return { ok: false, reason: 'invalid_country' };
  if (!international && defaultCountry === 'MX') text = text.replace(MX_NATIONAL_MOBILE_PREFIX, '');

  let parsed: PhoneNumber;
  try {
    parsed = international
      ? parsePhoneNumberWithError(text, { extract: false })
      : parsePhoneNumberWithError(text, { defaultCountry: defaultCountry as CountryCode, extract: false });
  } catch (err) {
    return { ok: false, reason: parseErrorReason(err) };
  }
  parsed = canonical(parsed);
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

/** Mexico's national mobile (1, 044, 045) and long-distance (01) prefixes before a 10-digit number. */
const MX_NATIONAL_MOBILE_PREFIX = /^(?:1|01|044|045)(?=\d{10}$)/;

/** The parsed number in its WhatsApp identity form, re-parsed when that form differs. */
function canonical(parsed: PhoneNumber): PhoneNumber {
  let number: string = parsed.number;
  // +54 9 AREA 15 NUMBER: the 15 is a national mobile prefix, the 9 its international form.
  if (parsed.countryCallingCode === '54' && /^9\d{12}$/.test(parsed.nationalNumber)) {
    const national = tryParse(`0${parsed.nationalNumber.slice(1)}`, 'AR');
    if (national?.isValid() && national.getType() === 'MOBILE') number = national.number;
  }
  const identity = whatsAppIdentity(number);
  if (identity === parsed.number) return parsed;
  return tryParse(identity) ?? parsed;
}

function tryParse(text: string, defaultCountry?: CountryCode): PhoneNumber | undefined {
  try {
    return parsePhoneNumberWithError(text, { ...(defaultCountry ? { defaultCountry } : {}), extract: false });
  } catch {
    return undefined;
  }
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

// -- 3. WhatsApp identity ------------------------------------------------------------------------

/** +52 1 + 10 digits: Mexico's retired mobile prefix. */
const MX_WITH_1 = /^\+521(\d{10})$/;
/**
 * +54 + a 10-digit geographic number (area codes start with 1, 2 or 3; 800, 810, 600 are toll-free
 * and shared-cost, never mobiles) without the mobile 9.
 */
const AR_WITHOUT_9 = /^\+54([1-3]\d{9})$/;
/** +55 + area code (two digits 1–9) + an 8-digit number starting 6–9: a mobile before the ninth digit. */
const BR_WITHOUT_NINTH_DIGIT = /^\+55([1-9]{2})([6-9]\d{7})$/;

/**
 * The one form of a person's number that we send to, store, and compare: E.164 in, E.164 out
 * (a `whatsapp:` prefix is dropped; anything that is not E.164 is returned as it is). Pure string
 * rules, no parsing: it runs on every phone a webhook or a list compares.
 *
 * The same subscriber is written two ways in three of WhatsApp's largest markets:
 * - **Mexico** `+52 1 55 1234 5678` → `+52 55 1234 5678`. Mobiles were dialled with a 1 after +52
 *   until IFT's national dialling plan dropped it on 3 August 2019; Twilio's Mexico guidelines
 *   (twilio.com/en-us/guidelines/mx/sms): "only the 10-digit subscriber number needs to be dialed
 *   after the +52 country prefix, for example +525512345678". WhatsApp still reports many Mexican
 *   accounts with the 1 (inbound `From=whatsapp:+521…`, `WaId=521…`), so an answer from
 *   `+52 1 …` is the person we messaged at `+52 …`.
 * - **Argentina** `+54 11 2345 6789` → `+54 9 11 2345 6789`. The national number space is shared by
 *   fixed and mobile lines; a mobile is dialled with 15 nationally (`011 15 2345 6789`) and 9
 *   internationally. WhatsApp's Help Center ("How to add an international contact") asks for the 9,
 *   13 digits in all, and WhatsApp identifies Argentine accounts as 549…. A landline written this
 *   way gets Twilio's per-recipient failure (63003/63024) rather than a refusal here: libphonenumber
 *   cannot tell a mobile from a fixed line without the 9.
 * - **Brazil** `+55 41 8765 4321` → `+55 41 9 8765 4321`. ANATEL added a ninth digit, 9, in front of
 *   every mobile number (Resolution 553/2010, rolled out 2012–2016); 8-digit numbers starting 6–9 were
 *   mobiles and are now those numbers with the 9, while 2–5 are fixed lines and keep 8 digits. WhatsApp
 *   still identifies accounts registered before the change by their 12-digit number (inbound
 *   `From=whatsapp:+5541 8…`), as WhatsApp API providers document (green-api.com "features of sending
 *   and receiving messages to numbers of different countries", whapi.cloud "Specifics of sending
 *   messages to numbers of different countries"); the Business Platform delivers to the 13-digit form.
 */
export function whatsAppIdentity(phone: string): string {
  const e164 = stripWhatsAppPrefix(phone.trim());
  const mx = MX_WITH_1.exec(e164);
  if (mx) return `+52${mx[1]}`;
  const ar = AR_WITHOUT_9.exec(e164);
  if (ar) return `+549${ar[1]}`;
  const br = BR_WITHOUT_NINTH_DIGIT.exec(e164);
  if (br) return `+55${br[1]}9${br[2]}`;
  return e164;
}

/** Whether two phones (E.164 or Twilio `whatsapp:` addresses) are the same WhatsApp user. */
export function sameWhatsAppIdentity(a: string, b: string): boolean {
  return whatsAppIdentity(a) === whatsAppIdentity(b);
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

/**
 * The ISO 3166-1 alpha-2 country of an E.164 number (`+972501234567` → `IL`), or `ZZ` when its
 * calling code is shared and the number does not say which country (libphonenumber's metadata).
 * WhatsApp prices by the calling code's country (core/pricing.ts).
 */
export function countryOfPhone(e164: string): string {
  try {
    return parsePhoneNumberWithError(e164).country ?? 'ZZ';
  } catch {
    return 'ZZ';
  }
}
