import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { memberCursor } from '../adapters/dynamo-contacts.ts';
import { recipientKey, shardOf } from '../adapters/table-layout.ts';
import type { Contact, Group } from '../core/audience.ts';
import { type ContactViewShape, contactView } from '../core/audience-request.ts';
import type { RecipientViewShape } from '../core/broadcast-responses.ts';
import { attachment, CSV_CONTENT_TYPE, MAX_CSV_ROWS, writeCsv } from '../core/csv-export.ts';
import { encodeShardCursor } from '../core/cursor.ts';
import { contactColumns, RECIPIENT_COLUMNS } from '../core/export-columns.ts';
import type { Broadcast, Recipient } from '../core/ports.ts';
import { type RecipientStatus, storedStatusesShownAs } from '../core/statuses.ts';
import { contactStore, contacts, sendLedger } from './wiring.ts';

/** Rows read from the store per page while a CSV part is gathered. */
const STORE_PAGE = 1000;
/** Suppression checks asked at once (the store batches them 50 to a BatchGetItem). */
const SUPPRESSION_SLICE = 500;

/** The contacts as the API shows them, each with whether it is suppressed (one batched check each). */
export async function contactViews(tenantId: string, page: readonly Contact[]): Promise<ContactViewShape[]> {
  const store = contactStore();
  const views: ContactViewShape[] = [];
  for (let start = 0; start < page.length; start += SUPPRESSION_SLICE) {
    const slice = page.slice(start, start + SUPPRESSION_SLICE);
    const suppressions = await Promise.all(slice.map((c) => store.suppression(tenantId, c.phone)));
    slice.forEach((c, i) => {
      views.push(contactView(c, suppressions[i] !== undefined));
    });
  }
  return views;
}

/** How many rows a CSV part may hold: `?limit=` when the caller gave one, else MAX_CSV_ROWS. */
function rowsWanted(event: APIGatewayProxyEventV2, limit: number): number {
  return event.queryStringParameters?.limit !== undefined ? Math.min(limit, MAX_CSV_ROWS) : MAX_CSV_ROWS;
}

/** GET /v1/groups/{id}/members as CSV: one part, from `cursor` (csv-export.ts). */
export async function membersCsv(
  event: APIGatewayProxyEventV2,
  group: Group,
  query: { limit: number; cursor?: string | undefined },
): Promise<APIGatewayProxyStructuredResultV2> {
  const wanted = rowsWanted(event, query.limit);
  const gathered: Contact[] = [];
  let cursor = query.cursor;
  do {
    const page = await contacts().members(group.tenantId, group.groupId, {
      limit: Math.min(STORE_PAGE, wanted - gathered.length),
      ...(cursor !== undefined ? { cursor } : {}),
    });
    gathered.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && gathered.length < wanted);
  const rows = await contactViews(group.tenantId, gathered);
  const { body, written } = writeCsv(contactColumns(rows), rows, { maxRows: wanted });
  const last = rows[written - 1];
  const more = written < rows.length || cursor !== undefined;
  return csvResponse(
    event,
    body,
    `${group.groupId}-members.csv`,
    more && last ? memberCursor(group.tenantId, group.groupId, last.phone) : undefined,
  );
}

/** GET /v1/broadcasts/{id}/recipients as CSV: one part, from `cursor`, rows as `view` shows them. */
export async function recipientsCsv(
  event: APIGatewayProxyEventV2,
  broadcast: Broadcast,
  query: { limit: number; cursor?: string | undefined; status?: RecipientStatus | undefined },
  view: (r: Recipient, b: Broadcast) => RecipientViewShape,
): Promise<APIGatewayProxyStructuredResultV2> {
  const wanted = rowsWanted(event, query.limit);
  const gathered: Recipient[] = [];
  let cursor = query.cursor;
  do {
    const page = await sendLedger().page(broadcast, {
      limit: Math.min(STORE_PAGE, wanted - gathered.length),
      ...(cursor !== undefined ? { cursor } : {}),
      ...(query.status !== undefined
        ? { statuses: storedStatusesShownAs(query.status, broadcast.status) }
        : {}),
    });
    gathered.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && gathered.length < wanted);
  const { body, written } = writeCsv(
    RECIPIENT_COLUMNS,
    gathered.map((r) => view(r, broadcast)),
    { maxRows: wanted },
  );
  const last = gathered[written - 1];
  const more = written < gathered.length || cursor !== undefined;
  const next =
    more && last
      ? encodeShardCursor('recipients', broadcast.broadcastId, {
          shard: shardOf(last.index),
          sk: recipientKey(broadcast.broadcastId, last.index).sk,
        })
      : undefined;
  return csvResponse(event, body, `${broadcast.broadcastId}-recipients.csv`, next);
}

/**
 * A CSV part as the route's answer: a download (Content-Disposition), and when more rows remain the
 * next part's address (`Link: <…>; rel="next"`, RFC 8288, a path with the same query and the
 * cursor) and its cursor alone (`X-Next-Cursor`).
 */
export function csvResponse(
  event: APIGatewayProxyEventV2,
  body: string,
  filename: string,
  nextCursor: string | undefined,
): APIGatewayProxyStructuredResultV2 {
  const headers: Record<string, string> = {
    'content-type': CSV_CONTENT_TYPE,
    'content-disposition': attachment(filename),
    'cache-control': 'no-store',
  };
  if (nextCursor !== undefined) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {}))
      if (value !== undefined && name !== 'cursor' && name !== 'format') query.set(name, value);
    query.set('format', 'csv');
    query.set('cursor', nextCursor);
    headers.link = `<${event.rawPath}?${query.toString()}>; rel="next"`;
    headers['x-next-cursor'] = nextCursor;
  }
  return { statusCode: 200, headers, body };
}
