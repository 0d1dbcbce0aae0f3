// Twilio REST shapes: the Message resource, the list page, the error body.
import { randomBytes } from 'node:crypto';
import type { MessageStatus, PlannedStep, RestError } from './scenario.ts';

export const API_VERSION = '2010-04-01';

export interface SimulatedMessage {
  sid: string;
  accountSid: string;
  to: string;
  /** The sender: `From`, or for a Messaging Service the sender the simulator picked (its default). */
  from: string;
  messagingServiceSid: string | null;
  body: string;
  contentSid: string | null;
  /** The `ContentVariables` JSON string as received. */
  contentVariables: string | null;
  statusCallback: string | null;
  validityPeriod: number | null;
  status: MessageStatus;
  errorCode: number | null;
  errorMessage: string | null;
  /** ISO-8601 (the REST answers render these as RFC 2822, as Twilio does). */
  dateCreated: string;
  dateUpdated: string;
  dateSent: string | null;
  /** Every status the message has had, in order. */
  history: { status: MessageStatus; at: string; errorCode?: number }[];
  /** Status changes still to come; empty once its lifecycle is over. */
  pendingSteps: PlannedStep[];
}

/** A message a contact sent to one of our senders (a quick-reply tap or free text), as the simulator got it. */
export interface SimulatedInbound {
  messageSid: string;
  /** The contact, `whatsapp:+…`. */
  from: string;
  /** The sender it wrote to, `whatsapp:+…`. */
  to: string;
  body: string;
  type: 'button' | 'text';
  buttonPayload: string | null;
  /** OriginalRepliedMessageSid: the outbound message it answers, if any. */
  repliedTo: string | null;
  messagingServiceSid: string | null;
  /** ISO-8601, by the simulator's clock; opens the 24-hour window for (from, to). */
  receivedAt: string;
  /** The form posted to the inbound webhook (re-posted verbatim when the same MessageSid is redelivered). */
  params: Record<string, string>;
}

export function newMessageSid(): string {
  return `SM${randomBytes(16).toString('hex')}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Tue, 05 May 2026 09:00:00 +0000`, Twilio's date format (and what twilio-node parses). */
export function rfc2822(iso: string | null): string | null {
  if (!iso) return null;
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(
    d.getUTCHours(),
  )}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

export function messagesPath(accountSid: string): string {
  return `/${API_VERSION}/Accounts/${accountSid}/Messages`;
}

export function toMessageResource(m: SimulatedMessage): Record<string, unknown> {
  const uri = `${messagesPath(m.accountSid)}/${m.sid}`;
  return {
    account_sid: m.accountSid,
    api_version: API_VERSION,
    body: m.body,
    date_created: rfc2822(m.dateCreated),
    date_sent: rfc2822(m.dateSent),
    date_updated: rfc2822(m.dateUpdated),
    direction: 'outbound-api',
    error_code: m.errorCode,
    error_message: m.errorMessage,
    from: m.from,
    messaging_service_sid: m.messagingServiceSid,
    num_media: '0',
    num_segments: '1',
    price: null,
    price_unit: 'USD',
    sid: m.sid,
    status: m.status,
    subresource_uris: { media: `${uri}/Media.json`, feedback: `${uri}/Feedback.json` },
    to: m.to,
    uri: `${uri}.json`,
  };
}

export function errorBody(error: RestError): Record<string, unknown> {
  return {
    code: error.code,
    message: error.message,
    more_info: `https://www.twilio.com/docs/errors/${error.code}`,
    status: error.httpStatus,
  };
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/** A `DateSent` filter value (`YYYY-MM-DD` or an ISO date-time) as a [from, to) range in epoch ms. */
function dateRange(value: string): [number, number] | undefined {
  const start = Date.parse(DATE_ONLY.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(start)) return undefined;
  return [start, start + (DATE_ONLY.test(value) ? DAY_MS : 1000)];
}

export interface ListQuery {
  to?: string;
  from?: string;
  /** Inclusive epoch-ms bounds on date_sent. */
  sentFrom?: number;
  sentUntil?: number;
  pageSize: number;
  page: number;
  pageToken?: string;
  /** The filter parameters as received, repeated in the paging URIs. */
  filters: [string, string][];
}

/** Reads Twilio's list parameters; `DateSent>` / `DateSent<` are what twilio-node sends for dateSentAfter/Before. */
export function parseListQuery(query: URLSearchParams): ListQuery | RestError {
  const out: ListQuery = { pageSize: 50, page: 0, filters: [] };
  const to = query.get('To');
  const from = query.get('From');
  if (to) out.to = to;
  if (from) out.from = from;
  for (const [key, value] of query) {
    if (key === 'To' || key === 'From') out.filters.push([key, value]);
    const match = /^DateSent(<|>)?=?$/.exec(key);
    if (!match) continue;
    out.filters.push([key, value]);
    const op = match[1];
    const range = dateRange(value);
    if (!range) return { httpStatus: 400, code: 20001, message: `Invalid ${key} value: ${value}` };
    if (op !== '<') out.sentFrom = Math.max(out.sentFrom ?? -Infinity, range[0]);
    if (op !== '>') out.sentUntil = Math.min(out.sentUntil ?? Infinity, range[1] - 1);
  }
  const pageSize = Number(query.get('PageSize') ?? 50);
  const page = Number(query.get('Page') ?? 0);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    return { httpStatus: 400, code: 20001, message: 'PageSize must be between 1 and 1000' };
  }
  if (!Number.isInteger(page) || page < 0) return { httpStatus: 400, code: 20001, message: 'Invalid Page' };
  out.pageSize = pageSize;
  out.page = page;
  const token = query.get('PageToken');
  if (token) out.pageToken = token;
  return out;
}

function matches(m: SimulatedMessage, q: ListQuery): boolean {
  if (q.to !== undefined && m.to !== q.to) return false;
  if (q.from !== undefined && m.from !== q.from) return false;
  if (q.sentFrom !== undefined || q.sentUntil !== undefined) {
    if (!m.dateSent) return false;
    const sent = Date.parse(m.dateSent);
    if (q.sentFrom !== undefined && sent < q.sentFrom) return false;
    if (q.sentUntil !== undefined && sent > q.sentUntil) return false;
  }
  return true;
}

/**
 * One page of Twilio's list shape. `newestFirst` is the candidate set, newest first; paging continues
 * after the last SID of the previous page (`PageToken=PA<sid>`), so new messages do not shift pages.
 */
export function listPage(
  newestFirst: Iterable<SimulatedMessage>,
  q: ListQuery,
  accountSid: string,
): Record<string, unknown> {
  const afterSid = q.pageToken?.startsWith('PA') ? q.pageToken.slice(2) : undefined;
  const skip = afterSid ? 0 : q.page * q.pageSize;
  const items: SimulatedMessage[] = [];
  let skipping = afterSid !== undefined;
  let skipped = 0;
  let more = false;
  for (const m of newestFirst) {
    if (!matches(m, q)) continue;
    if (skipping) {
      if (m.sid === afterSid) skipping = false;
      continue;
    }
    if (skipped < skip) {
      skipped++;
      continue;
    }
    if (items.length === q.pageSize) {
      more = true;
      break;
    }
    items.push(m);
  }
  const base = `${messagesPath(accountSid)}.json`;
  const pageUri = (page: number, token?: string) => {
    const params = new URLSearchParams(q.filters);
    params.set('PageSize', String(q.pageSize));
    params.set('Page', String(page));
    if (token) params.set('PageToken', token);
    return `${base}?${params}`;
  };
  const last = items.at(-1);
  const start = q.page * q.pageSize;
  return {
    end: start + Math.max(items.length - 1, 0),
    first_page_uri: pageUri(0),
    messages: items.map(toMessageResource),
    next_page_uri: more && last ? pageUri(q.page + 1, `PA${last.sid}`) : null,
    page: q.page,
    page_size: q.pageSize,
    previous_page_uri: q.page > 0 ? pageUri(q.page - 1) : null,
    start,
    uri: pageUri(q.page, q.pageToken),
  };
}
