import type { ContactViewShape } from './audience-request.ts';
import type { RecipientViewShape } from './broadcast-responses.ts';
import type { CsvColumn } from './csv-export.ts';

/**
 * The columns of the CSV exports, from the same views the JSON lists answer with, so a CSV row says
 * what the JSON item says.
 */

/** Separates a contact's tags in one cell: tags hold neither `,` nor `;` (contact-rules.ts TAG_PATTERN). */
export const TAG_SEPARATOR = ', ';

/**
 * A group's members: the contact's fields, then one column per attribute key found on the part's
 * rows (sorted). The column names are the CSV import's (case aside), so an export imports back.
 */
export function contactColumns(rows: readonly ContactViewShape[]): CsvColumn<ContactViewShape>[] {
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row.attributes)))].sort();
  return [
    { header: 'phone', value: (c) => c.phone },
    { header: 'name', value: (c) => c.name },
    { header: 'tags', value: (c) => c.tags.join(TAG_SEPARATOR) },
    { header: 'language', value: (c) => c.language },
    { header: 'timeZone', value: (c) => c.timeZone },
    { header: 'consent', value: (c) => c.consent.status },
    { header: 'consentSource', value: (c) => c.consent.source },
    { header: 'consentAt', value: (c) => c.consent.at },
    { header: 'suppressed', value: (c) => c.suppressed },
    { header: 'createdAt', value: (c) => c.createdAt },
    { header: 'updatedAt', value: (c) => c.updatedAt },
    ...keys.map((key) => ({ header: key, value: (c: ContactViewShape) => c.attributes[key] })),
  ];
}

/** A broadcast's recipients: the fields of GET /v1/broadcasts/{id}/recipients, the follow-up's flattened. */
export const RECIPIENT_COLUMNS: readonly CsvColumn<RecipientViewShape>[] = [
  { header: 'phone', value: (r) => r.phone },
  { header: 'status', value: (r) => r.status },
  { header: 'skipReason', value: (r) => r.skipReason },
  { header: 'attempts', value: (r) => r.attempts },
  { header: 'messageSid', value: (r) => r.messageSid },
  { header: 'errorCode', value: (r) => r.errorCode },
  { header: 'errorMessage', value: (r) => r.errorMessage },
  { header: 'queuedAt', value: (r) => r.queuedAt },
  { header: 'sentAt', value: (r) => r.sentAt },
  { header: 'deliveredAt', value: (r) => r.deliveredAt },
  { header: 'readAt', value: (r) => r.readAt },
  { header: 'confirmedAt', value: (r) => r.confirmedAt },
  { header: 'followUpStatus', value: (r) => r.followUp?.status },
  { header: 'followUpMessageSid', value: (r) => r.followUp?.messageSid },
  { header: 'followUpErrorCode', value: (r) => r.followUp?.errorCode },
  { header: 'followUpErrorMessage', value: (r) => r.followUp?.errorMessage },
  { header: 'nextRetryAt', value: (r) => r.nextRetryAt },
  { header: 'updatedAt', value: (r) => r.updatedAt },
];
