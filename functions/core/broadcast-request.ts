import { z } from 'zod';
import { CanaryRequest } from './canary.ts';
import { TEMPLATE_APPROVALS, TEMPLATE_CATEGORIES } from './content-templates.ts';
import { MAX_CURSOR_LENGTH } from './cursor.ts';
import { ApiError, fromZodError, UNKNOWN_FIELD } from './errors.ts';
import { isValidCountryCode } from './phones.ts';
import { MAX_CAP_DAYS, MAX_CAP_MESSAGES } from './send-timing.ts';
import { BROADCAST_STATUSES, RECIPIENT_STATUSES } from './statuses.ts';
import { MAX_CONTENT_VARIABLE_KEY_LENGTH, MAX_CONTENT_VARIABLES } from './template-parameters.ts';
import { templateVariableProblems } from './templates.ts';

/**
 * The API's shapes as zod schemas (API.md): the request is validated with them at the edge, and the
 * OpenAPI document (openapi.ts) is generated from the same objects, so the two cannot drift.
 */

/**
 * The named components of the OpenAPI document. A registry of our own rather than zod's global
 * one, so ids cannot collide with schemas defined elsewhere in the process.
 */
export const apiSchemas = z.registry<{ id: string }>();

// ---------------------------------------------------------------------------------------------
// Request: POST /v1/broadcasts
// ---------------------------------------------------------------------------------------------

export const CONTENT_SID_PATTERN = /^HX[0-9a-fA-F]{32}$/;
export const MAX_NAME_LENGTH = 200;
export const MAX_VARIABLE_KEY_LENGTH = 64;
export const MAX_VARIABLE_VALUE_LENGTH = 1024;
export const MAX_FOLLOW_UP_BODY_LENGTH = 4096;
export const MAX_CONFIRM_PAYLOAD_LENGTH = 256;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

export const ContentSid = z
  .string()
  .regex(CONTENT_SID_PATTERN, 'must be a Twilio Content SID: HX followed by 32 hex characters')
  .meta({ description: 'Twilio Content API template SID', example: 'HX0123456789abcdef0123456789abcdef' });

/** `{ "1": "{{name}}", "2": "May 5" }` (template) or `{ "name": "Dana" }` (recipient). */
export const VariableMap = z.record(
  z.string().min(1).max(MAX_VARIABLE_KEY_LENGTH),
  z.string().max(MAX_VARIABLE_VALUE_LENGTH),
);

/**
 * `template.variables`: Twilio's ContentVariables, keyed as the Content API allows (no spaces, at
 * most 16 characters, at most 100 variables), each value a WhatsApp parameter or a text with
 * `{{key}}` / `{{key|fallback}}` placeholders; a problem no recipient can fix (a literal value or a
 * fallback with a newline, a tab, more than 4 spaces in a row, empty, too long) is reported at
 * `template.variables.<key>` (template-parameters.ts has the rules and their sources).
 */
export const TemplateVariables = z
  .record(
    z
      .string()
      .min(1)
      .max(MAX_CONTENT_VARIABLE_KEY_LENGTH)
      .regex(/^\S+$/, 'must not contain spaces (Twilio Content API variable names)'),
    z.string().max(MAX_VARIABLE_VALUE_LENGTH),
  )
  .refine(
    (variables) => Object.keys(variables).length <= MAX_CONTENT_VARIABLES,
    `must have at most ${MAX_CONTENT_VARIABLES} variables (Twilio Content API)`,
  )
  .superRefine((variables, ctx) => {
    // A value over the maximum already has its issue (zod runs this refinement anyway).
    const checkable = Object.entries(variables).filter(
      ([, value]) => value.length <= MAX_VARIABLE_VALUE_LENGTH,
    );
    for (const { variable, message } of templateVariableProblems(Object.fromEntries(checkable)))
      ctx.addIssue({ code: 'custom', path: [variable], message });
  });

export const TemplateRef = z
  .strictObject({
    contentSid: ContentSid,
    variables: TemplateVariables.optional().meta({
      description:
        'Twilio ContentVariables. Values may reference the recipient\'s variables as {{key}}, or {{key|fallback}} with a value for recipients without one, e.g. { "1": "{{name|Farmer}}" }. Each rendered value must be a WhatsApp parameter: not empty, no newline or tab, at most 4 spaces in a row, at most 1,024 characters.',
    }),
  })
  .register(apiSchemas, { id: 'TemplateRef' });

export const RecipientObject = z.strictObject({
  phone: z.string().meta({ description: 'E.164, or a national format read with defaultCountry' }),
  variables: VariableMap.optional(),
});

export const RecipientItem = z
  .union([z.string(), RecipientObject], {
    error: 'must be a phone string or an object { phone, variables? }',
  })
  .register(apiSchemas, { id: 'RecipientInput' });

/** Most groups or tags one broadcast may name: a broadcast to more is a mistake more often than a plan. */
export const MAX_AUDIENCE_GROUPS = 20;
export const MAX_AUDIENCE_TAGS = 20;
export const GROUP_ID_PATTERN = /^grp_[0-9A-HJKMNP-TV-Z]{26}$/;

/** `audience`: the union of groups' members, tagged contacts and phones, each person once. */
export const Audience = z
  .strictObject({
    groupIds: z
      .array(z.string().regex(GROUP_ID_PATTERN, 'must be a group id (grp_…)'))
      .min(1)
      .max(MAX_AUDIENCE_GROUPS)
      .optional()
      .meta({ description: 'Groups whose members, at create, receive the broadcast' }),
    tags: z
      .array(z.string().min(1).max(64))
      .min(1)
      .max(MAX_AUDIENCE_TAGS)
      .optional()
      .meta({ description: 'Contacts with any of these tags receive it' }),
    phones: z.array(z.string()).min(1).optional().meta({
      description: 'Phones (E.164, or national with defaultCountry); known contacts fill {{…}} values',
    }),
  })
  .refine((a) => a.groupIds || a.tags || a.phones, 'name at least one of groupIds, tags, phones')
  .register(apiSchemas, { id: 'Audience' });

export const FollowUp = z
  .strictObject({
    body: z.string().min(1).max(MAX_FOLLOW_UP_BODY_LENGTH),
    confirmPayload: z
      .string()
      .min(1)
      .max(MAX_CONFIRM_PAYLOAD_LENGTH)
      .optional()
      .meta({ description: 'The ButtonPayload that confirms; without it any button tap confirms' }),
  })
  .register(apiSchemas, { id: 'FollowUp' });

export const CountryCode = z
  .string()
  .overwrite((s) => s.toUpperCase())
  .refine(isValidCountryCode, 'must be an ISO 3166-1 alpha-2 country code, e.g. IL')
  .meta({ description: 'ISO 3166-1 alpha-2, used for national-format phones', example: 'IL' });

/** An ISO-8601 date-time with Z or an offset; the parsed value is normalized to UTC (`…Z`). */
export const IsoDateTime = z.iso.datetime({ offset: true }).overwrite((s) => {
  // Checks do not stop at the first failure: leave a malformed value alone (the format issue is reported).
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? s : new Date(ms).toISOString();
});

/**
 * How far ahead a broadcast may be scheduled. EventBridge Scheduler's one-time `at()` schedules
 * document no horizon (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html),
 * so the bound is the product's: a broadcast waits with its list stored (the stored chunks expire a
 * week after the scheduled time) and its template must still be approved when it starts; a year
 * covers annual reminders and keeps a typo such as 9999-12-31 from parking a broadcast forever.
 */
export const MAX_SCHEDULE_AHEAD_DAYS = 365;
const DAY_MS = 86_400_000;

const HH_MM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM, 24-hour (00:00 to 23:59)');

/** quietHours (core/quiet-hours.ts): a daily span of each recipient's local time; may cross midnight. */
export const QuietHoursSchema = z
  .strictObject({
    start: HH_MM.meta({ description: 'First quiet minute, local time (e.g. 21:00)' }),
    end: HH_MM.meta({ description: 'First minute messages go again (e.g. 08:00)' }),
  })
  .refine((q) => q.start !== q.end, { path: ['end'], message: 'must differ from start' })
  .meta({
    description:
      "Nobody is messaged between start and end of their own local time (the contact's timeZone, else their number's country's); they wait, and are sent at end",
  });

/** frequencyCap (core/send-timing.ts): at most `max` messages to a contact in any `days` days. */
export const FrequencyCapSchema = z
  .strictObject({
    max: z.number().int().min(1).max(MAX_CAP_MESSAGES),
    days: z.number().int().min(1).max(MAX_CAP_DAYS),
  })
  .meta({
    description:
      "At most max messages to a contact from this tenant's broadcasts in any days days (test sends not counted); the rest are skipped (frequency_cap)",
  });

/**
 * The request schema with an injectable clock for the "scheduledAt is in the future" rule (and at
 * most MAX_SCHEDULE_AHEAD_DAYS ahead).
 * Unknown keys are rejected at every level (a typo such as `templates` or `contentSID` is an
 * error, not silently ignored). The recipients maximum is not here: `parseCreateBroadcast` checks
 * it first, so an oversized list gets 413 TOO_MANY_RECIPIENTS without being validated item by item.
 */
export function createBroadcastRequestSchema(now: () => Date = () => new Date()) {
  return (
    z
      .strictObject({
        name: z.string().max(MAX_NAME_LENGTH).optional(),
        template: TemplateRef,
        recipients: z.array(RecipientItem).min(1, 'must list at least one recipient').optional(),
        audience: Audience.optional(),
        defaultCountry: CountryCode.optional(),
        followUp: FollowUp.optional(),
        quietHours: QuietHoursSchema.optional(),
        frequencyCap: FrequencyCapSchema.optional(),
        canary: CanaryRequest.optional(),
        scheduledAt: IsoDateTime.refine((s) => {
          const ms = Date.parse(s);
          return Number.isNaN(ms) || ms > now().getTime();
        }, 'must be in the future')
          .refine((s) => {
            const ms = Date.parse(s);
            return Number.isNaN(ms) || ms <= now().getTime() + MAX_SCHEDULE_AHEAD_DAYS * DAY_MS;
          }, `must be at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead`)
          .optional()
          .meta({
            description: `Future ISO-8601 time, at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead; the broadcast waits in scheduled`,
          }),
      })
      .refine((body) => body.recipients !== undefined || body.audience !== undefined, {
        path: ['recipients'],
        message: 'give recipients, an audience, or both',
      })
      // JSON Schema for the refinement above (zod cannot derive it from a function).
      .meta({ anyOf: [{ required: ['recipients'] }, { required: ['audience'] }] })
  );
}

export const CreateBroadcastRequest = createBroadcastRequestSchema().register(apiSchemas, {
  id: 'CreateBroadcastRequest',
});
export type CreateBroadcastInput = z.output<typeof CreateBroadcastRequest>;

export interface ParseCreateBroadcastOptions {
  maxRecipients: number;
  now?: () => Date;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a parsed JSON body. Throws ApiError TOO_MANY_RECIPIENTS (413, checked before anything
 * else) or VALIDATION_FAILED (400, details name each field). Phones are not normalized here
 * (that is `normalizeRecipients`, whose invalid entries are reported, not thrown).
 */
export function parseCreateBroadcast(
  body: unknown,
  options: ParseCreateBroadcastOptions,
): CreateBroadcastInput {
  if (!isPlainObject(body)) {
    throw new ApiError('VALIDATION_FAILED', 'The request body must be a JSON object', [
      { path: '', message: 'Expected a JSON object' },
    ]);
  }
  const listed = (value: unknown) => (Array.isArray(value) ? value.length : 0);
  const audience = isPlainObject(body.audience) ? body.audience : {};
  const received = listed(body.recipients) + listed(audience.phones);
  if (received > options.maxRecipients)
    throw tooManyRecipients(options.maxRecipients, received, 'recipients');
  const schema = options.now ? createBroadcastRequestSchema(options.now) : CreateBroadcastRequest;
  const result = schema.safeParse(body);
  if (!result.success) throw fromZodError(result.error);
  return result.data;
}

/**
 * 413 TOO_MANY_RECIPIENTS: more than `max` phones listed (recipients and audience.phones together), or
 * more than `max` people once an audience is resolved (`path` audience).
 */
export function tooManyRecipients(max: number, received: number, path: 'recipients' | 'audience'): ApiError {
  return new ApiError(
    'TOO_MANY_RECIPIENTS',
    `At most ${max} recipients per broadcast (got ${received}${path === 'audience' ? ' once the audience is resolved' : ''})`,
    [
      {
        path,
        message: `must ${path === 'audience' ? 'come to' : 'list'} at most ${max} recipients`,
        maxRecipients: max,
        received,
      },
    ],
  );
}

const PRINTABLE = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/;

export const IdempotencyKeyHeader = z
  .string()
  .min(1)
  .max(MAX_IDEMPOTENCY_KEY_LENGTH)
  .regex(PRINTABLE, 'must be printable ASCII without leading or trailing spaces');

/** The `Idempotency-Key` header value, or undefined when absent. Throws VALIDATION_FAILED when malformed. */
export function parseIdempotencyKey(header: string | undefined | null): string | undefined {
  if (header === undefined || header === null) return undefined;
  const result = IdempotencyKeyHeader.safeParse(header);
  if (!result.success) {
    throw new ApiError('VALIDATION_FAILED', 'Invalid Idempotency-Key header', [
      { path: 'Idempotency-Key', message: result.error.issues[0]?.message ?? 'invalid' },
    ]);
  }
  return result.data;
}

// ---------------------------------------------------------------------------------------------
// List queries: ?limit= (default 50, max 500), ?cursor=, ?status=
// ---------------------------------------------------------------------------------------------

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;

export const RecipientStatusSchema = z
  .enum(RECIPIENT_STATUSES)
  .register(apiSchemas, { id: 'RecipientStatus' });
export const BroadcastStatusSchema = z
  .enum(BROADCAST_STATUSES)
  .register(apiSchemas, { id: 'BroadcastStatus' });

const LIMIT_MESSAGE = `must be a whole number from 1 to ${MAX_PAGE_LIMIT}, in decimal digits`;
/** Decimal digits only: `0x10`, `1e2`, ` 16` and `16.0` are mistakes to report, not numbers to guess. */
const limitSchema = z
  .string()
  .regex(/^[0-9]{1,3}$/, LIMIT_MESSAGE)
  .transform(Number)
  .pipe(z.number().int().min(1, LIMIT_MESSAGE).max(MAX_PAGE_LIMIT, LIMIT_MESSAGE))
  .default(DEFAULT_PAGE_LIMIT);
/** The codec (cursor.ts) checks what a cursor names; here only its size. */
const cursorSchema = z.string().min(1).max(MAX_CURSOR_LENGTH).optional();

export const BroadcastListQuery = z.strictObject({
  limit: limitSchema,
  cursor: cursorSchema,
  status: BroadcastStatusSchema.optional(),
  test: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .meta({ description: 'false: hide test sends; true: only test sends; absent: all' }),
});
export type BroadcastListQueryInput = z.output<typeof BroadcastListQuery>;

/** `?format=csv` (or `Accept: text/csv`): a list route that exports answers in CSV (csv-export.ts). */
export const ListFormat = z
  .enum(['json', 'csv'])
  .meta({ description: 'csv: the list as a CSV file (same as Accept: text/csv); json by default' });

export const RecipientListQuery = z.strictObject({
  limit: limitSchema,
  cursor: cursorSchema,
  status: RecipientStatusSchema.optional(),
  format: ListFormat.optional(),
});
export type RecipientListQueryInput = z.output<typeof RecipientListQuery>;

/** ?limit= and ?cursor= only: the suppression list and a contact's history. */
export const PageQuery = z.strictObject({ limit: limitSchema, cursor: cursorSchema });
export type PageQueryInput = z.output<typeof PageQuery>;

/** GET /v1/templates: paged, filtered by WhatsApp approval and by category. */
export const TemplateListQuery = z.strictObject({
  limit: limitSchema,
  cursor: cursorSchema,
  approval: z.enum(TEMPLATE_APPROVALS).optional(),
  category: z.enum(TEMPLATE_CATEGORIES).optional(),
});
export type TemplateListQueryInput = z.output<typeof TemplateListQuery>;

/** Routes that take no query parameter at all. */
export const NoQuery = z.strictObject({});

/** A route's query schema: a strict object of string parameters. */
export type QuerySchema = z.ZodObject<z.ZodRawShape, z.core.$strict>;

/**
 * The query parameters each admin route takes (by API Gateway route key); every other admin route
 * takes none. Unknown parameters are refused like unknown body fields: a typo (`?limt=10`,
 * `?stauts=failed`) is an error, not a silently unfiltered answer. Other request modules add their
 * routes' with registerRouteQueries (audience-request.ts), so that this module need not import them.
 */
export const ROUTE_QUERIES: Record<string, QuerySchema> = {
  'GET /v1/broadcasts': BroadcastListQuery,
  'GET /v1/broadcasts/{id}/recipients': RecipientListQuery,
  'GET /v1/suppressions': PageQuery,
  'GET /v1/contacts/{phone}/messages': PageQuery,
  'GET /v1/templates': TemplateListQuery,
};

/** Declares the query parameters of more admin routes (a module's own, at its load). */
export function registerRouteQueries(queries: Readonly<Record<string, QuerySchema>>): void {
  Object.assign(ROUTE_QUERIES, queries);
}

/**
 * Parses a route's query string parameters; throws VALIDATION_FAILED naming each parameter, unknown
 * ones included (`details: [{ path: 'limt', message: 'unknown query parameter; …' }]`).
 */
export function parseListQuery<S extends QuerySchema>(
  schema: S,
  query: Record<string, string | undefined> | undefined | null,
): z.output<S> {
  const result = schema.safeParse(query ?? {});
  if (result.success) return result.data as z.output<S>;
  const accepted = Object.keys(schema.shape);
  const unknown = `unknown query parameter; ${accepted.length > 0 ? `this route takes ${accepted.join(', ')}` : 'this route takes none'}`;
  const error = fromZodError(result.error, 'Invalid query parameters');
  const details = (error.details ?? []).map((d) =>
    d.message === UNKNOWN_FIELD ? { ...d, message: unknown } : d,
  );
  const first = details[0];
  throw new ApiError(
    'VALIDATION_FAILED',
    first ? `Invalid query parameters: ${first.path}: ${first.message}` : error.message,
    details,
  );
}

/** The query parameters of any admin route, checked by `adminRoute` before its handler runs. */
export function checkRouteQuery(
  routeKey: string,
  query: Record<string, string | undefined> | undefined | null,
): void {
  parseListQuery(ROUTE_QUERIES[routeKey] ?? NoQuery, query);
}
