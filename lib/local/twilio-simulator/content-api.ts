// Twilio's Content API as the simulator serves it (content.twilio.com; the product's Twilio client
// sends it here with the Messages API): GET /v1/Content, /v1/Content/{sid},
// /v1/Content/{sid}/ApprovalRequests and /v1/ContentAndApprovals, in the shapes and the paging the
// twilio SDK parses (twilio/lib/base/Page.js reads `meta.key` and `meta.next_page_url`).
// Sources: Twilio's OpenAPI (github.com/twilio/twilio-oai, spec/json/twilio_content_v1.json) and the
// example answers of its docs and of twilio-python's tests for these routes.

import type { ContentStore, SimulatedTemplate } from './content.ts';
import type { RestError } from './scenario.ts';

/** Where Twilio serves the Content API; paging URLs are absolute, on this origin, as Twilio's are. */
export const CONTENT_ORIGIN = 'https://content.twilio.com';

const CONTENT_LIST = /^\/v1\/(Content|ContentAndApprovals)$/;
const CONTENT_ONE = /^\/v1\/Content\/([^/]+)$/;
const APPROVAL_FETCH = /^\/v1\/Content\/([^/]+)\/ApprovalRequests$/;

/** Whether the simulator answers this path as the Content API (after Basic auth). */
export function isContentPath(pathname: string): boolean {
  return pathname.startsWith('/v1/');
}

export type ContentAnswer = { status: number; body: unknown } | { error: RestError };

/** The answer to one Content API request (GET only, as the product reads it). */
export function contentRequest(
  store: ContentStore,
  accountSid: string,
  method: string,
  url: URL,
): ContentAnswer {
  const notFound = (): ContentAnswer => ({
    error: { httpStatus: 404, code: 20404, message: `The requested resource ${url.pathname} was not found` },
  });
  const list = CONTENT_LIST.exec(url.pathname);
  const one = CONTENT_ONE.exec(url.pathname);
  const approvals = APPROVAL_FETCH.exec(url.pathname);
  if (!list && !one && !approvals) return notFound();
  if (method !== 'GET') return { error: { httpStatus: 405, code: 20004, message: 'Method not allowed' } };
  if (list) return listPage(store, accountSid, url, list[1] === 'ContentAndApprovals');
  const template = store.get((one ?? approvals)?.[1] ?? '');
  if (!template) return notFound();
  if (one) return { status: 200, body: contentResource(template, accountSid) };
  return { status: 200, body: approvalFetchResource(template, accountSid) };
}

function typesOf(t: SimulatedTemplate): Record<string, unknown> {
  return t.buttons && t.buttons.length > 0
    ? { 'twilio/quick-reply': { body: t.body, actions: t.buttons.map(({ id, title }) => ({ id, title })) } }
    : { 'twilio/text': { body: t.body } };
}

function common(t: SimulatedTemplate, accountSid: string): Record<string, unknown> {
  return {
    sid: t.contentSid,
    account_sid: accountSid,
    friendly_name: t.friendlyName,
    language: t.language,
    variables: t.variables,
    types: typesOf(t),
    date_created: t.dateCreated,
    date_updated: t.dateCreated,
  };
}

/** The WhatsApp approval as Twilio words it (empty fields for a template never submitted). */
function whatsAppApproval(t: SimulatedTemplate): Record<string, unknown> {
  const submitted = t.approval !== 'unsubmitted';
  return {
    name: submitted ? t.friendlyName : '',
    category: submitted ? t.category : '',
    content_type: submitted ? Object.keys(typesOf(t))[0] : '',
    status: t.approval,
    rejection_reason: t.rejectionReason ?? '',
    allow_category_change: true,
  };
}

export function contentResource(t: SimulatedTemplate, accountSid: string): Record<string, unknown> {
  const url = `${CONTENT_ORIGIN}/v1/Content/${t.contentSid}`;
  return {
    ...common(t, accountSid),
    url,
    links: { approval_fetch: `${url}/ApprovalRequests`, approval_create: `${url}/ApprovalRequests/whatsapp` },
  };
}

function contentAndApprovalsResource(t: SimulatedTemplate, accountSid: string): Record<string, unknown> {
  return { ...common(t, accountSid), approval_requests: whatsAppApproval(t) };
}

function approvalFetchResource(t: SimulatedTemplate, accountSid: string): Record<string, unknown> {
  return {
    sid: t.contentSid,
    account_sid: accountSid,
    url: `${CONTENT_ORIGIN}/v1/Content/${t.contentSid}/ApprovalRequests`,
    whatsapp: { type: 'whatsapp', ...whatsAppApproval(t), flows: null },
  };
}

/**
 * One page, newest first. `PageToken` is `PT` + the SID of the previous page's last template (as
 * the Messages list pages after a SID), so a template added while paging shifts nothing; `PB` + a
 * SID is the page before it (previous_page_url).
 */
function listPage(store: ContentStore, accountSid: string, url: URL, withApprovals: boolean): ContentAnswer {
  const query = url.searchParams;
  const pageSize = Number(query.get('PageSize') ?? 50);
  const page = Number(query.get('Page') ?? 0);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
    return { error: { httpStatus: 400, code: 20001, message: 'PageSize must be between 1 and 1000' } };
  if (!Number.isInteger(page) || page < 0)
    return { error: { httpStatus: 400, code: 20001, message: 'Invalid Page' } };
  const token = query.get('PageToken') ?? undefined;
  const all = store.newestFirst();
  // `PT<sid>`: the page after that template; `PB<sid>`: the page before it.
  const at = token ? all.findIndex((t) => t.contentSid === token.slice(2)) : -1;
  if (token && (at < 0 || !/^P[TB]/.test(token)))
    return { error: { httpStatus: 400, code: 20001, message: 'Invalid PageToken' } };
  const start = !token ? 0 : token.startsWith('PT') ? at + 1 : Math.max(0, at - pageSize);
  const items = all.slice(start, token?.startsWith('PB') ? at : start + pageSize);
  const first = items[0];
  const last = items.at(-1);
  const base = `${CONTENT_ORIGIN}${url.pathname}`;
  const pageUrl = (n: number, pageToken?: string) =>
    `${base}?${new URLSearchParams({ PageSize: String(pageSize), Page: String(n), ...(pageToken ? { PageToken: pageToken } : {}) })}`;
  return {
    status: 200,
    body: {
      contents: items.map((t) =>
        withApprovals ? contentAndApprovalsResource(t, accountSid) : contentResource(t, accountSid),
      ),
      meta: {
        page,
        page_size: pageSize,
        first_page_url: pageUrl(0),
        previous_page_url:
          first && start > 0 ? pageUrl(Math.max(0, page - 1), `PB${first.contentSid}`) : null,
        url: pageUrl(page, token),
        next_page_url:
          last && start + pageSize < all.length ? pageUrl(page + 1, `PT${last.contentSid}`) : null,
        key: 'contents',
      },
    },
  };
}
