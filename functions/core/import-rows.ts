import type { AttributeValue, Consent, ContactUpsert } from './audience.ts';
import {
  MAX_ATTRIBUTE_VALUE_LENGTH,
  MAX_CONTACT_NAME_LENGTH,
  MAX_TAG_LENGTH,
  MAX_TAGS,
} from './contact-rules.ts';
import type { ColumnPlan } from './import-columns.ts';
import { INVALID_REASON_TEXT, type InvalidReason, normalizePhone } from './phones.ts';

/**
 * One data row of a contacts file → the contact to create or update, or why the row is refused.
 * Pure. Column meanings come from import-columns.ts.
 *
 * Values, as a spreadsheet means them:
 * - an empty cell (or only spaces) gives no value: the stored one, if any, is kept;
 * - `true` / `false` (any case: Excel and Google Sheets write TRUE/FALSE) are booleans;
 * - a number is a cell that reads back as itself: `42`, `-3.5`, `1000000` are numbers, but `0501`
 *   (a leading zero: ZIP codes, phones, IDs), `1.50` (a trailing zero: a price as written),
 *   `1e5`, `+1`, `1,5` or a 17-digit ID (more digits than a double keeps) stay text, exactly as
 *   written. So nothing a spreadsheet shows loses a character;
 * - everything else is text, trimmed.
 */

/** Echoed inputs are cut to this many characters. */
export const MAX_INPUT_ECHO = 100;

/** Why a row is not imported (phones.ts's reasons for the phone, and these). */
export const ROW_REASONS = [
  'too_short',
  'too_long',
  'invalid_format',
  'invalid_country',
  'not_mobile',
  'scientific_notation',
  'missing_phone',
  'column_count',
  'value_too_long',
  'invalid_tags',
  'invalid_language',
  'invalid_time_zone',
  'invalid_consent',
  'contact_limit',
] as const;
export type RowReason = (typeof ROW_REASONS)[number];
/** What normalizePhone answers (it never answers the template reasons). */
type PhoneReason = Exclude<InvalidReason, 'missing_variables' | 'invalid_variable'>;

export const ROW_REASON_TEXT: Readonly<Record<RowReason, string>> = {
  too_short: INVALID_REASON_TEXT.too_short,
  too_long: INVALID_REASON_TEXT.too_long,
  invalid_format: INVALID_REASON_TEXT.invalid_format,
  invalid_country:
    'a national number: add ?defaultCountry=IL (its country) to the import, or write it as +972…',
  not_mobile: INVALID_REASON_TEXT.not_mobile,
  scientific_notation: INVALID_REASON_TEXT.scientific_notation,
  missing_phone: 'no phone number in this row',
  column_count:
    'this row has a different number of fields than the header (a missing quote, or a separator inside an unquoted field?)',
  value_too_long: `a value longer than ${MAX_ATTRIBUTE_VALUE_LENGTH} characters (a name: ${MAX_CONTACT_NAME_LENGTH})`,
  invalid_tags: `more than ${MAX_TAGS} tags, or a tag longer than ${MAX_TAG_LENGTH} characters`,
  invalid_language: 'not a language tag (BCP 47: he, en, es-MX)',
  invalid_time_zone: 'not an IANA time zone (Asia/Jerusalem, America/Mexico_City)',
  invalid_consent: 'consent must be yes or no (also true/false, 1/0, opted_in)',
  contact_limit:
    "with what the contact already holds, this row goes over a contact's limits (100 attributes, 50 tags, 64 KB)",
};

/** A refused row, as GET /v1/contacts/imports/{id} lists it. */
export interface RowError {
  /** 1 = the first data row (the spreadsheet's row 2). */
  readonly row: number;
  /** The file line the row starts on (1 = the header). */
  readonly line: number;
  /** The value at fault (the phone cell, or the named column's), cut to 100 characters. */
  readonly input: string;
  readonly reason: RowReason;
  /** The column at fault, when it is not the phone. */
  readonly column?: string;
}

export interface RowContext {
  readonly defaultCountry?: string;
  /** Added to every contact's tags (the import's `tags` query parameter). */
  readonly tags: readonly string[];
  readonly groupId?: string;
  /** ISO time of the import: when consent given in the file was recorded. */
  readonly at: string;
  /** The file's delimiter, to show a row whose fields do not fit the header as it was written. */
  readonly delimiter?: string;
}

export type RowOutcome =
  | { readonly ok: true; readonly contact: ContactUpsert }
  | { readonly ok: false; readonly error: Omit<RowError, 'row' | 'line'> };

const YES = new Set([
  'yes',
  'y',
  'true',
  '1',
  'opted in',
  'opted_in',
  'opt in',
  'opt-in',
  'כן',
  'sí',
  'si',
  'sim',
]);
const NO = new Set(['no', 'n', 'false', '0', 'unknown', 'not opted in', 'לא', 'não', 'nao']);

/** A row's fields (as csv-parse gives them) → the contact upsert, or the first problem found. */
export function rowToContact(fields: readonly string[], plan: ColumnPlan, context: RowContext): RowOutcome {
  const cell = (index: number | undefined) => (index === undefined ? '' : (fields[index] ?? '').trim());
  const refuse = (reason: RowReason, input: string, column?: number): RowOutcome => ({
    ok: false,
    error: {
      input: input.slice(0, MAX_INPUT_ECHO),
      reason,
      ...(column !== undefined ? { column: plan.header[column]?.trim() ?? String(column) } : {}),
    },
  });
  if (fields.length !== plan.width) return refuse('column_count', fields.join(context.delimiter ?? ','));

  const phoneColumn = plan.phones.find((i) => cell(i) !== '');
  if (phoneColumn === undefined) return refuse('missing_phone', '');
  const phoneText = cell(phoneColumn);
  const phone = normalizePhone(phoneText, context.defaultCountry);
  if (!phone.ok) return refuse(phone.reason as PhoneReason, phoneText);

  let name = cell(plan.name);
  if (name === '' && plan.name === undefined)
    name = [cell(plan.firstName), cell(plan.lastName)].filter((s) => s !== '').join(' ');
  if (name.length > MAX_CONTACT_NAME_LENGTH)
    return refuse('value_too_long', name, plan.name ?? plan.firstName);

  const attributes: Record<string, AttributeValue> = {};
  for (const { index, key } of plan.attributes) {
    const value = cell(index);
    if (value === '') continue;
    if (value.length > MAX_ATTRIBUTE_VALUE_LENGTH) return refuse('value_too_long', value, index);
    attributes[key] = typedValue(value);
  }

  const tags = splitTags(cell(plan.tags));
  const allTags = [...new Set([...(tags ?? []), ...context.tags])];
  if (tags === undefined || allTags.length > MAX_TAGS)
    return refuse('invalid_tags', cell(plan.tags), plan.tags);

  const languageText = cell(plan.language);
  const language = languageText === '' ? undefined : canonicalLanguage(languageText);
  if (language === null) return refuse('invalid_language', languageText, plan.language);

  const zoneText = cell(plan.timeZone);
  const timeZone = zoneText === '' ? undefined : canonicalTimeZone(zoneText);
  if (timeZone === null) return refuse('invalid_time_zone', zoneText, plan.timeZone);

  const consentText = cell(plan.consent);
  let consent: Consent | undefined;
  if (consentText !== '') {
    const word = consentText.toLowerCase();
    if (YES.has(word)) {
      // A members export carries when and how the person opted in: kept as it was recorded.
      const source = cell(plan.consentSource);
      const givenAt = Date.parse(cell(plan.consentAt));
      consent = {
        status: 'opted_in',
        source: source !== '' ? source.slice(0, 200) : 'import',
        at: Number.isNaN(givenAt) ? context.at : new Date(givenAt).toISOString(),
      };
    } else if (!NO.has(word)) return refuse('invalid_consent', consentText, plan.consent);
  }

  return {
    ok: true,
    contact: {
      phone: phone.phone,
      ...(name !== '' ? { name } : {}),
      ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
      ...(allTags.length > 0 ? { tags: allTags } : {}),
      ...(language !== undefined ? { language } : {}),
      ...(timeZone !== undefined ? { timeZone } : {}),
      ...(consent ? { consent } : {}),
      ...(context.groupId ? { groupIds: [context.groupId] } : {}),
    },
  };
}

/** A cell's typed value: boolean, number when it reads back as itself, else the text. */
export function typedValue(text: string): AttributeValue {
  const lower = text.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (/^-?\d/.test(text)) {
    const n = Number(text);
    if (Number.isFinite(n) && String(n) === text) return n;
  }
  return text;
}

/**
 * A tags cell → its tags (trimmed, distinct, in order), split on `,`, `;` and `|`; undefined when
 * over the limits (contact-rules.ts: 50 tags of at most 64 characters).
 */
export function splitTags(text: string): string[] | undefined {
  if (text === '') return [];
  const tags = [
    ...new Set(
      text
        .split(/[,;|]/)
        .map((t) => t.replace(/[\s\p{Cc}]+/gu, ' ').trim())
        .filter((t) => t !== ''),
    ),
  ];
  if (tags.length > MAX_TAGS || tags.some((t) => t.length > MAX_TAG_LENGTH)) return undefined;
  return tags;
}

/** `he-il` → `he-IL`; null when it is not a BCP 47 language tag. */
export function canonicalLanguage(text: string): string | null {
  try {
    const [tag] = Intl.getCanonicalLocales(text.replace(/_/g, '-'));
    return tag ?? null;
  } catch {
    return null;
  }
}

/**
 * `asia/jerusalem` → `Asia/Jerusalem` (IANA, as the runtime's ICU knows it); null when unknown or an
 * offset (`+02:00` is no zone: it has no daylight saving rules).
 */
export function canonicalTimeZone(text: string): string | null {
  try {
    const zone = new Intl.DateTimeFormat('en', { timeZone: text }).resolvedOptions().timeZone;
    return /^[+-]\d/.test(zone) ? null : zone;
  } catch {
    return null;
  }
}
