/**
 * WhatsApp templates as the product sees them, read from Twilio's Content API (the registry is
 * Twilio's: DESIGN.md "The product layer"), and the port the create route and GET /v1/templates
 * read them through. Nothing here does I/O: the Twilio adapter (functions/adapters/twilio-templates.ts)
 * hands in what the API answered, and `templateOf` maps it.
 *
 * Sources (checked 2026-11):
 * - Content resource and its list, https://www.twilio.com/docs/content/content-api-resources and
 *   Twilio's OpenAPI (github.com/twilio/twilio-oai, spec/json/twilio_content_v1.json): `sid`
 *   (HX + 32 hex), `friendly_name`, `language`, `variables` (`{ "1": "sample" }`, each key a
 *   variable, each value its sample), `types` (`{ "twilio/text": { body }, "twilio/quick-reply":
 *   { body, actions: [ { id, title } ] }, … }`), ISO-8601 `date_created` / `date_updated`.
 * - ContentAndApprovals (`GET /v1/ContentAndApprovals`) carries `approval_requests` flat:
 *   `{ name, category, content_type, status, rejection_reason, allow_category_change }` (twilio-python's
 *   test fixture for it); `GET /v1/Content/{sid}/ApprovalRequests` carries the same under `whatsapp`
 *   (Twilio changelog, 2024-08-12, "New flows parameter in Content API approval response").
 * - WhatsApp approval statuses, https://www.twilio.com/docs/whatsapp/tutorial/message-template-approvals-statuses:
 *   pending, approved, rejected, paused, disabled; the Content API also says `received` (Twilio has
 *   it, Meta has not answered yet) and `unsubmitted` (never sent for approval).
 * - Categories: MARKETING, UTILITY, AUTHENTICATION since Meta's April 2023 recategorization
 *   (Twilio, "Changes to WhatsApp Template Approval Workflows (April 2023)"); the older TRANSACTIONAL
 *   and OTP, which Twilio still reports on some templates, became UTILITY and AUTHENTICATION.
 */

export const TEMPLATE_CATEGORIES = ['MARKETING', 'UTILITY', 'AUTHENTICATION'] as const;
export type TemplateCategory = (typeof TEMPLATE_CATEGORIES)[number];

export const TEMPLATE_APPROVALS = [
  'approved',
  'pending',
  'rejected',
  'paused',
  'disabled',
  'unsubmitted',
] as const;
export type TemplateApproval = (typeof TEMPLATE_APPROVALS)[number];

/** A quick-reply button: `id` is what the tap's ButtonPayload carries, `title` what the person sees. */
export interface TemplateButton {
  readonly id: string;
  readonly title: string;
}

/** One Content template, as GET /v1/templates shows it (API.md "Templates"). */
export interface Template {
  /** HX + 32 hex. */
  readonly contentSid: string;
  readonly friendlyName: string;
  /** ISO 639-1 (`en`), or a locale (`pt_BR`), as the template was created. */
  readonly language: string;
  /** Meta's category; null when the template was never submitted for WhatsApp. */
  readonly category: TemplateCategory | null;
  /** Whether (and how) WhatsApp approved it; only `approved` may be broadcast. */
  readonly approval: TemplateApproval;
  /** Twilio's `rejection_reason` (Meta's words), when it gave one. */
  readonly rejectionReason?: string;
  /** Each variable of the template and its sample value: `{ "1": "Dana", "2": "May 5" }`. */
  readonly variables: Readonly<Record<string, string>>;
  /** The message text with its `{{1}}` placeholders; '' when the content type has none. */
  readonly body: string;
  /** Quick-reply buttons, in order (absent when there are none). */
  readonly buttons?: readonly TemplateButton[];
  /** The Content types the template has (`twilio/text`, `twilio/quick-reply`, …). */
  readonly contentTypes: readonly string[];
  /** ISO-8601, when Twilio said. */
  readonly createdAt?: string;
  readonly updatedAt?: string;
}

/**
 * The account's templates (Twilio's, account-wide: every tenant of a deployment shares one Twilio
 * account). Both methods throw TemplateRegistryError when Twilio cannot be read.
 */
export interface TemplateRegistry {
  /** Every template, newest first. */
  list(): Promise<readonly Template[]>;
  /** One template, or undefined when the account has none with this SID. */
  get(contentSid: string): Promise<Template | undefined>;
}

/**
 * Twilio's Content API did not answer usefully: `unavailable` (timeout, network, 5xx, 429: try
 * again later) or `unauthorized` (401/403: the account SID or auth token is wrong).
 */
export class TemplateRegistryError extends Error {
  readonly kind: 'unavailable' | 'unauthorized';

  constructor(kind: 'unavailable' | 'unauthorized', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TemplateRegistryError';
    this.kind = kind;
  }
}

/**
 * What the adapter hands in: a Content resource's fields (the twilio SDK's ContentInstance or
 * ContentAndApprovalsInstance has exactly these names; `variables` and `types` are Twilio's JSON
 * as it came).
 */
export interface ContentFields {
  readonly sid: string;
  readonly friendlyName?: string | null;
  readonly language?: string | null;
  readonly variables?: unknown;
  readonly types?: unknown;
  readonly dateCreated?: Date | string | null;
  readonly dateUpdated?: Date | string | null;
}

/**
 * A template from a Content resource and its WhatsApp approval: ContentAndApprovals'
 * `approval_requests` (flat) or ApprovalRequests' body (under `whatsapp`), or undefined when
 * Twilio has none (never submitted).
 */
export function templateOf(content: ContentFields, approval: unknown): Template {
  const whatsapp = whatsAppApprovalOf(approval);
  const types = isObject(content.types) ? content.types : {};
  const body = bodyOf(types);
  const buttons = buttonsOf(types);
  const rejectionReason = text(whatsapp?.rejection_reason);
  const createdAt = isoOf(content.dateCreated);
  const updatedAt = isoOf(content.dateUpdated);
  const approvalStatus = approvalOf(whatsapp?.status);
  return {
    contentSid: content.sid,
    friendlyName: text(content.friendlyName) ?? '',
    language: text(content.language) ?? '',
    category: categoryOf(whatsapp?.category),
    approval: approvalStatus,
    ...(rejectionReason && approvalStatus !== 'approved' ? { rejectionReason } : {}),
    variables: variablesOf(content.variables),
    body,
    ...(buttons.length > 0 ? { buttons } : {}),
    contentTypes: Object.keys(types),
    ...(createdAt ? { createdAt } : {}),
    ...(updatedAt ? { updatedAt } : {}),
  };
}

/** The WhatsApp approval object inside either answer, or undefined. */
function whatsAppApprovalOf(approval: unknown): Record<string, unknown> | undefined {
  if (!isObject(approval)) return undefined;
  if (isObject(approval.whatsapp)) return approval.whatsapp;
  return 'status' in approval || 'category' in approval ? approval : undefined;
}

/** Twilio's status → the contract's (API.md); `received` waits for Meta like `pending`. */
export function approvalOf(status: unknown): TemplateApproval {
  const value = typeof status === 'string' ? status.trim().toLowerCase() : '';
  if (value === '' || value === 'unsubmitted') return 'unsubmitted';
  if (value === 'received' || value === 'submitted') return 'pending';
  if ((TEMPLATE_APPROVALS as readonly string[]).includes(value)) return value as TemplateApproval;
  // A status Twilio may add later: not approved, so never broadcast; read as still in review.
  return 'pending';
}

const LEGACY_CATEGORIES: Readonly<Record<string, TemplateCategory>> = {
  TRANSACTIONAL: 'UTILITY',
  OTP: 'AUTHENTICATION',
};

export function categoryOf(category: unknown): TemplateCategory | null {
  const value = typeof category === 'string' ? category.trim().toUpperCase() : '';
  if ((TEMPLATE_CATEGORIES as readonly string[]).includes(value)) return value as TemplateCategory;
  return LEGACY_CATEGORIES[value] ?? null;
}

/** Variables as strings (Twilio's samples are strings; a number or boolean sample is shown as text). */
function variablesOf(variables: unknown): Record<string, string> {
  if (!isObject(variables)) return {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(variables))
    out[key] = typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value);
  return out;
}

/**
 * Which type's text is the message WhatsApp shows: the WhatsApp-specific and interactive types
 * before the plain fallbacks a template carries for other channels.
 */
const BODY_ORDER = [
  'whatsapp/card',
  'whatsapp/authentication',
  'twilio/quick-reply',
  'twilio/call-to-action',
  'twilio/card',
  'twilio/media',
  'twilio/text',
  'twilio/list-picker',
] as const;

function bodyOf(types: Record<string, unknown>): string {
  const ordered = [
    ...BODY_ORDER,
    ...Object.keys(types).filter((t) => !(BODY_ORDER as readonly string[]).includes(t)),
  ];
  for (const type of ordered) {
    const content = types[type];
    if (!isObject(content)) continue;
    const body = text(content.body) ?? text(content.title);
    if (body) return body;
  }
  return '';
}

/** Quick replies: twilio/quick-reply's actions, and a card's QUICK_REPLY actions. */
function buttonsOf(types: Record<string, unknown>): TemplateButton[] {
  const buttons: TemplateButton[] = [];
  const add = (actions: unknown, onlyQuickReplies: boolean) => {
    if (!Array.isArray(actions)) return;
    for (const action of actions) {
      if (!isObject(action)) continue;
      if (onlyQuickReplies && String(action.type ?? '').toUpperCase() !== 'QUICK_REPLY') continue;
      const id = text(action.id);
      const title = text(action.title);
      if (id && title && !buttons.some((b) => b.id === id)) buttons.push({ id, title });
    }
  };
  const quickReply = types['twilio/quick-reply'];
  if (isObject(quickReply)) add(quickReply.actions, false);
  for (const card of ['twilio/card', 'whatsapp/card']) {
    const content = types[card];
    if (isObject(content)) add(content.actions, true);
  }
  return buttons;
}

function isoOf(value: Date | string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Newest first; the SID breaks ties so the order (and a cursor into it) is total. */
export function compareTemplates(a: Template, b: Template): number {
  const byDate = (b.createdAt ?? '').localeCompare(a.createdAt ?? '');
  return byDate !== 0 ? byDate : a.contentSid.localeCompare(b.contentSid);
}

/** A template's place in that order, as a cursor carries it: `<createdAt>#<contentSid>`. */
export function templatePosition(t: Pick<Template, 'createdAt' | 'contentSid'>): string {
  return `${t.createdAt ?? ''}#${t.contentSid}`;
}

export interface TemplateFilter {
  readonly approval?: TemplateApproval;
  readonly category?: TemplateCategory;
}

/**
 * One page of the list: the templates that pass `filter`, newest first, after the position `after`
 * (templatePosition of the previous page's last item; positions need not still exist, so a template
 * deleted between two pages shifts nothing), at most `limit`; `last` is set when there are more.
 */
export function pageOfTemplates(
  templates: readonly Template[],
  options: { filter?: TemplateFilter; limit: number; after?: string },
): { items: Template[]; last?: Template } {
  const { filter = {}, limit, after } = options;
  const ordered = templates
    .filter((t) => filter.approval === undefined || t.approval === filter.approval)
    .filter((t) => filter.category === undefined || t.category === filter.category)
    .sort(compareTemplates);
  const start =
    after === undefined ? 0 : ordered.findIndex((t) => comparePositions(templatePosition(t), after) > 0);
  if (start < 0) return { items: [] };
  const items = ordered.slice(start, start + limit);
  const more = start + limit < ordered.length;
  const last = items.at(-1);
  return more && last ? { items, last } : { items };
}

/** Positions compared in list order (newest first, then SID). */
function comparePositions(a: string, b: string): number {
  const [aDate = '', aSid = ''] = splitPosition(a);
  const [bDate = '', bSid = ''] = splitPosition(b);
  const byDate = bDate.localeCompare(aDate);
  return byDate !== 0 ? byDate : aSid.localeCompare(bSid);
}

function splitPosition(position: string): [string, string] {
  const at = position.lastIndexOf('#');
  return at < 0 ? ['', position] : [position.slice(0, at), position.slice(at + 1)];
}
