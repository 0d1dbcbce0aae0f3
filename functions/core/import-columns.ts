import { isAttributeKey } from './contact-rules.ts';
import { ImportFileError } from './csv-file.ts';

/**
 * Which column of a contacts file means what, from its header. Header names are matched without
 * regard to case, spaces at either end, accents' compatibility forms (NFKC), or `_`, `-`, `.` and
 * runs of spaces between words (`Phone_Number`, `phone-number` and ` PHONE  NUMBER ` are one name).
 *
 * Known columns and the names they answer to (API.md names the first of each; the others are what
 * contact exports and spreadsheets in the product's markets call them):
 * - the phone, first non-empty of, in this order: `whatsapp` (`whatsapp number`, `whatsapp phone`),
 *   `mobile` (`mobile phone` (Outlook), `mobile number`, `cell`, `cell phone`, `cellphone`,
 *   `נייד`, `טלפון נייד`, `celular`, `móvil`, `movil`, `جوال`, `موبايل`), `phone` (`phone number`,
 *   `phone 1 value` (Google Contacts' `Phone 1 - Value`), `telephone`, `tel`, `msisdn`, `טלפון`,
 *   `מספר טלפון`, `teléfono`, `telefono`, `telefone`, `هاتف`), `number`. A file may have several:
 *   each row takes its phone from the first of them that is not empty (the others are not kept);
 * - the name: `name` (`full name`, `contact name`, `display name`, `שם`, `שם מלא`, `nombre`, `nome`,
 *   `الاسم`); without one, `first name` (`given name`) and `last name` (`family name`, `surname`)
 *   joined with a space;
 * - `tags` (`tag`, `labels`, `label`, `תגיות`, `etiquetas`): several per cell, separated by `,`,
 *   `;` or `|`;
 * - `language` (`lang`, `locale`, `שפה`, `idioma`): a BCP 47 tag (`he`, `es-MX`);
 * - `timezone` (`time zone`, `tz`): an IANA zone (`Asia/Jerusalem`);
 * - `consent` (`opt in`, `opted in`, `whatsapp opt in`): whether the person agreed to be messaged.
 *
 * Every other column is an attribute (the first and last name columns too), keyed by its header
 * as written with spaces, `-` and `.` between words made `_` (`First Name` → `First_Name`,
 * `E-mail Address` → `E_mail_Address`), so `{{City}}` in a template reads the `City` column. The key
 * must be one a template placeholder can name (contact-rules.ts ATTRIBUTE_KEY_PATTERN: a letter
 * first, then letters, digits or `_`, at most 64): a header that cannot become one refuses the file,
 * naming it, rather than drop or rename a column silently. A column with an empty header is
 * ignored (a trailing delimiter in the header line).
 */

export const MAX_COLUMNS = 100;

type Role =
  | 'whatsapp'
  | 'mobile'
  | 'phone'
  | 'number'
  | 'name'
  | 'firstName'
  | 'lastName'
  | 'tags'
  | 'language'
  | 'timeZone'
  | 'consent'
  | 'consentSource'
  | 'consentAt'
  | 'exportOnly';

const ALIASES: Readonly<Record<Role, readonly string[]>> = {
  whatsapp: ['whatsapp', 'whatsapp number', 'whatsapp phone', 'whatsapp no'],
  mobile: [
    'mobile',
    'mobile phone',
    'mobile number',
    'mobile no',
    'cell',
    'cell phone',
    'cellphone',
    'cell number',
    'נייד',
    'טלפון נייד',
    'celular',
    'móvil',
    'movil',
    'جوال',
    'موبايل',
  ],
  phone: [
    'phone',
    'phone number',
    'phone no',
    'phone 1 value',
    'telephone',
    'tel',
    'msisdn',
    'טלפון',
    'מספר טלפון',
    'teléfono',
    'telefono',
    'telefone',
    'هاتف',
  ],
  number: ['number'],
  name: ['name', 'full name', 'contact name', 'display name', 'שם', 'שם מלא', 'nombre', 'nome', 'الاسم'],
  firstName: ['first name', 'given name', 'firstname', 'שם פרטי'],
  lastName: ['last name', 'family name', 'surname', 'lastname', 'שם משפחה'],
  tags: ['tags', 'tag', 'labels', 'label', 'תגיות', 'etiquetas'],
  language: ['language', 'lang', 'locale', 'שפה', 'idioma'],
  timeZone: ['timezone', 'time zone', 'tz'],
  consent: [
    'consent',
    'opt in',
    'opted in',
    'optin',
    'whatsapp opt in',
    'הסכמה',
    'אישור דיוור',
    'consentimiento',
    'consentimento',
    'موافقة',
  ],
  // A members export's own columns (csv-export.ts), so that an export imports back as it is.
  consentSource: ['consent source', 'consentsource'],
  consentAt: ['consent at', 'consentat', 'consent date', 'opt in date'],
  // Kept by the product itself, never set by an import: read and left alone.
  exportOnly: ['suppressed', 'created at', 'createdat', 'updated at', 'updatedat', 'group ids', 'groupids'],
};

const ROLE_OF = new Map<string, Role>();
for (const [role, names] of Object.entries(ALIASES) as [Role, readonly string[]][])
  for (const name of names) ROLE_OF.set(name, role);

/** The phone roles, in the order a row looks for its phone. */
const PHONE_ROLES = ['whatsapp', 'mobile', 'phone', 'number'] as const;

/** A header name as matched against the known names: NFKC, lower case, separators as one space. */
export function headerKey(name: string): string {
  return name
    .normalize('NFKC')
    .replace(/[\p{Cf}]/gu, '')
    .toLowerCase()
    .replace(/[\s_.-]+/gu, ' ')
    .trim();
}

/** An attribute's key: the header as written, trimmed, runs of spaces, `-` and `.` made one `_`. */
export function attributeKey(name: string): string {
  return name
    .normalize('NFC')
    .replace(/[\p{Cf}]/gu, '')
    .trim()
    .replace(/[\s.-]+/gu, '_');
}

export interface AttributeColumn {
  readonly index: number;
  readonly key: string;
}

/** Column indexes for each meaning; `phones` in the order a row looks for its phone. */
export interface ColumnPlan {
  readonly width: number;
  readonly phones: readonly number[];
  readonly name?: number;
  readonly firstName?: number;
  readonly lastName?: number;
  readonly tags?: number;
  readonly language?: number;
  readonly timeZone?: number;
  readonly consent?: number;
  readonly consentSource?: number;
  readonly consentAt?: number;
  /** Every column that is not one of the above (first and last names included). */
  readonly attributes: readonly AttributeColumn[];
  /** The header as written, for messages. */
  readonly header: readonly string[];
}

/**
 * The plan for a header. Throws ImportFileError when no column is a phone column, when two columns
 * have the same name (their values would overwrite each other), when there are more than
 * MAX_COLUMNS columns, or when an attribute column's name cannot be an attribute key.
 */
export function planColumns(header: readonly string[]): ColumnPlan {
  const used = header.map((h, index) => ({ index, written: h, key: attributeKey(h), match: headerKey(h) }));
  const named = used.filter((c) => c.match !== '');
  if (named.length > MAX_COLUMNS)
    throw new ImportFileError(
      'too_many_columns',
      `The file has ${named.length} columns; an import reads at most ${MAX_COLUMNS}. Remove the columns you do not need.`,
      1,
    );
  const seen = new Map<string, string>();
  for (const c of named) {
    const other = seen.get(c.match);
    if (other !== undefined)
      throw new ImportFileError(
        'duplicate_column',
        `Two columns are named '${other}' and '${c.key}': rename one (their values would overwrite each other).`,
        1,
      );
    seen.set(c.match, c.key);
  }
  const byRole = new Map<Role, number>();
  for (const c of named) {
    const role = ROLE_OF.get(c.match);
    if (role && !byRole.has(role)) byRole.set(role, c.index);
  }
  const phones = PHONE_ROLES.flatMap((r) => (byRole.has(r) ? [byRole.get(r) as number] : []));
  if (phones.length === 0)
    throw new ImportFileError(
      'no_phone_column',
      `No column holds the phone numbers: name one 'phone' (or mobile, whatsapp, number). The columns are: ${named
        .map((c) => `'${c.key.slice(0, 40)}'`)
        .slice(0, 20)
        .join(', ')}.`,
      1,
    );
  const special = new Set(
    (['name', 'tags', 'language', 'timeZone', 'consent', 'consentSource', 'consentAt'] as const).flatMap(
      (r) => (byRole.has(r) ? [byRole.get(r) as number] : []),
    ),
  );
  for (const c of named) if (ROLE_OF.get(c.match) === 'exportOnly') special.add(c.index);
  const attributes = named
    .filter((c) => !special.has(c.index) && !phones.includes(c.index))
    .map((c) => ({ index: c.index, key: c.key }));
  const bad = attributes.find((a) => !isAttributeKey(a.key));
  if (bad)
    throw new ImportFileError(
      'invalid_column_name',
      `The column '${(header[bad.index] ?? '').trim().slice(0, 80)}' cannot be an attribute: a column name starts with a letter and has only letters, digits, spaces or _ (at most 64), so that a template can use it as {{name}}. Rename it.`,
      1,
    );
  const at = (role: Role) => (byRole.has(role) ? { [role]: byRole.get(role) as number } : {});
  return {
    width: header.length,
    phones,
    ...at('name'),
    ...at('firstName'),
    ...at('lastName'),
    ...at('tags'),
    ...at('language'),
    ...at('timeZone'),
    ...at('consent'),
    ...at('consentSource'),
    ...at('consentAt'),
    attributes,
    header,
  };
}
