/**
 * CSV import column mapping. The API maps columns by header, case-insensitively (`phone`, also
 * `mobile`, `whatsapp`, `number`; `name`; `tags`; any other column becomes an attribute): the
 * console guesses a role per column, lets the admin change it, and rewrites the header row
 * accordingly before upload (the data rows are sent as they are).
 */
export type ColumnRole = 'phone' | 'name' | 'tags' | 'attribute' | 'ignore';

// A word's end in any script (`\b` only knows ASCII letters).
const PHONE =
  /^(phone|mobile|whatsapp|number|cell|tel|telephone|msisdn|טלפון|נייד|هاتف|جوال)(?![\p{L}\p{N}])/iu;
const NAME = /^(name|full ?name|contact|שם|اسم)(?![\p{L}\p{N}])/iu;
const TAGS = /^(tags?|labels?|תגיות|وسوم)(?![\p{L}\p{N}])/iu;

/** The role a header most likely has. Only the first phone-like column is the phone. */
export function guessRoles(headers: readonly string[]): ColumnRole[] {
  let phoneTaken = false;
  let nameTaken = false;
  return headers.map((raw) => {
    const h = raw.trim();
    if (!phoneTaken && PHONE.test(h)) {
      phoneTaken = true;
      return 'phone';
    }
    if (!nameTaken && NAME.test(h)) {
      nameTaken = true;
      return 'name';
    }
    if (TAGS.test(h)) return 'tags';
    return h ? 'attribute' : 'ignore';
  });
}

/** The header the API reads for a role; undefined drops the column. */
export function headerFor(role: ColumnRole, original: string): string | undefined {
  switch (role) {
    case 'phone':
    case 'name':
    case 'tags':
      return role;
    case 'attribute':
      return original.trim();
    case 'ignore':
      return undefined;
  }
}

/** Problems a user must fix before importing: no phone column, or two columns with one role. */
export function mappingProblems(roles: readonly ColumnRole[]): string[] {
  const problems: string[] = [];
  const phones = roles.filter((r) => r === 'phone').length;
  if (phones === 0) problems.push('no_phone');
  if (phones > 1) problems.push('two_phones');
  if (roles.filter((r) => r === 'name').length > 1) problems.push('two_names');
  if (roles.filter((r) => r === 'tags').length > 1) problems.push('two_tags');
  return problems;
}

/** Rows (header first) → the rows to upload: ignored columns dropped, headers renamed by role. */
export function remapRows(rows: readonly string[][], roles: readonly ColumnRole[]): string[][] {
  const [header = [], ...data] = rows;
  const keep: number[] = [];
  const headers: string[] = [];
  header.forEach((h, i) => {
    const name = headerFor(roles[i] ?? 'ignore', h);
    if (name !== undefined) {
      keep.push(i);
      headers.push(name);
    }
  });
  return [headers, ...data.map((row) => keep.map((i) => row[i] ?? ''))];
}
