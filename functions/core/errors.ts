import type { z } from 'zod';

/** Every error code the API answers with, and its HTTP status (API.md "Conventions"). */
export const ERROR_CODES = {
  UNAUTHORIZED: 401,
  /**
   * A Twilio webhook without a valid X-Twilio-Signature; an admin route beyond the API key's role
   * (core/access.ts: a viewer key creating a broadcast), refused before anything is written.
   */
  FORBIDDEN: 403,
  /** No route has this path (with any method). */
  NOT_FOUND: 404,
  /** A route has this path, but not with this method: the answer carries an `Allow` header. */
  METHOD_NOT_ALLOWED: 405,
  /** A JSON route's body sent without `Content-Type: application/json`. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_FAILED: 400,
  NO_VALID_RECIPIENTS: 400,
  /** POST /v1/broadcasts: the Twilio account has no Content template with this SID. */
  TEMPLATE_NOT_FOUND: 400,
  /** POST /v1/broadcasts: the template is not approved for WhatsApp (pending, rejected, paused, …). */
  TEMPLATE_NOT_APPROVED: 400,
  /** POST /v1/broadcasts: template.variables names a variable the template lacks, or leaves one without a value. */
  TEMPLATE_VARIABLES_MISMATCH: 400,
  TOO_MANY_RECIPIENTS: 413,
  PAYLOAD_TOO_LARGE: 413,
  INVALID_STATE: 409,
  IDEMPOTENCY_CONFLICT: 409,
  /** PUT /v1/settings/twilio: the sender or Twilio account is the deployment's shared one, or another tenant's. */
  SENDER_IN_USE: 409,
  WHATSAPP_NOT_CONNECTED: 503,
  PROVIDER_NOT_CONFIGURED: 503,
  /** Twilio did not answer (timeout, network, 5xx, 429) where the answer needs it; `Retry-After` says when to try again. */
  PROVIDER_UNAVAILABLE: 503,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  /** GET /healthz: a dependency (DynamoDB, SQS) did not answer in time; `details` names each. */
  DEPENDENCY_UNAVAILABLE: 503,
  /** The local twin is still starting (answered by its gateway with `Retry-After: 1`). */
  STARTING: 503,
  /** The local twin is stopping (Ctrl-C): nothing new is taken. */
  STOPPING: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/**
 * One item of an error's `details`, whatever the code: at least a `message` a person can act on;
 * `path` names what it is about when that is a field (`template.contentSid`, `recipients.3`), a
 * query parameter (`limit`, `cursor`) or a header (`Content-Type`, `Idempotency-Key`); further
 * fields carry data a program can use (`reason`, `broadcastId`, `maxRecipients`, …).
 */
export interface ErrorDetail {
  readonly message: string;
  readonly path?: string;
  readonly [extra: string]: unknown;
}

/** One field problem, in `details` of VALIDATION_FAILED. */
export interface FieldProblem extends ErrorDetail {
  /** Dotted path into the request body: `template.contentSid`, `recipients.3.phone`; `''` for the body itself. */
  readonly path: string;
  readonly message: string;
}

/**
 * An error the API answers with its code's HTTP status and the one error shape. `details` is
 * always an array of objects when present (API.md), so a client reads every error the same way.
 * `headers` go on the answer (`Allow` with a 405). Anything else that reaches a handler's edge is
 * answered as INTERNAL, without its message or stack.
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: readonly ErrorDetail[];
  readonly headers?: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    message: string,
    details?: readonly ErrorDetail[],
    headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_CODES[code];
    if (details !== undefined) this.details = details;
    if (headers !== undefined) this.headers = headers;
  }
}

export interface ErrorBodyShape {
  error: { code: ErrorCode; message: string; details?: readonly ErrorDetail[] };
}

const INTERNAL_MESSAGE = 'Internal error';

/** The response body for any thrown value. Non-ApiErrors become INTERNAL with a fixed message (no leak). */
export function errorBody(err: unknown): ErrorBodyShape {
  if (err instanceof ApiError) {
    const error: ErrorBodyShape['error'] = { code: err.code, message: err.message };
    if (err.details !== undefined) error.details = err.details;
    return { error };
  }
  return { error: { code: 'INTERNAL', message: INTERNAL_MESSAGE } };
}

/** The HTTP status for any thrown value (500 for non-ApiErrors). */
export function statusOf(err: unknown): number {
  return err instanceof ApiError ? err.status : ERROR_CODES.INTERNAL;
}

/** Headers the answer to any thrown value carries (an ApiError's own, e.g. `Allow`). */
export function headersOf(err: unknown): Readonly<Record<string, string>> {
  return err instanceof ApiError && err.headers ? err.headers : {};
}

/** `ApiError` → `{ statusCode, headers, body }` ready for a handler: all computed the same way. */
export function errorResponse(err: unknown): {
  statusCode: number;
  headers: Readonly<Record<string, string>>;
  body: ErrorBodyShape;
} {
  return { statusCode: statusOf(err), headers: headersOf(err), body: errorBody(err) };
}

type Issue = z.core.$ZodIssue;

/** The message of a key the schema does not know (a typo such as `templates`). */
export const UNKNOWN_FIELD = 'Unknown field';

function joinPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

function problemsOf(issue: Issue, prefix: readonly PropertyKey[], out: FieldProblem[]): void {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys':
      for (const key of issue.keys) out.push({ path: joinPath([...path, key]), message: UNKNOWN_FIELD });
      return;
    case 'invalid_union': {
      // A union fails with one issue list per branch. Report the branch that got furthest (the one
      // whose type matched, e.g. `{ phone }` for an object recipient), else the union's own message.
      const branches = issue.errors.filter((b) => b.length > 0);
      const matched = branches.filter(
        (b) => !b.every((i) => i.code === 'invalid_type' && i.path.length === 0),
      );
      if (matched.length === 1) {
        for (const sub of matched[0] ?? []) problemsOf(sub, path, out);
        return;
      }
      out.push({ path: joinPath(path), message: issue.message });
      return;
    }
    case 'invalid_type':
      out.push({
        path: joinPath(path),
        message: /received undefined$/.test(issue.message) ? 'Required' : issue.message,
      });
      return;
    default:
      out.push({ path: joinPath(path), message: issue.message });
  }
}

/** At most this many field problems are listed (a 100,000-item list of numbers is one mistake, not 100,000). */
export const MAX_FIELD_PROBLEMS = 100;

/** Field problems of a zod error, one per field and problem, paths dotted; at most `MAX_FIELD_PROBLEMS`. */
export function fieldProblems(error: { issues: readonly Issue[] }): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of error.issues) {
    problemsOf(issue, [], out);
    if (out.length > MAX_FIELD_PROBLEMS) break;
  }
  return out.slice(0, MAX_FIELD_PROBLEMS);
}

/**
 * VALIDATION_FAILED naming each field and its problem:
 * `details: [{ path: 'template.contentSid', message: '…' }]`.
 */
export function fromZodError(
  error: { issues: readonly Issue[] },
  message = 'The request body is invalid',
): ApiError {
  const details = fieldProblems(error);
  const first = details[0];
  let summary = first ? `${message}: ${first.path || 'body'}: ${first.message}` : message;
  if (error.issues.length > MAX_FIELD_PROBLEMS)
    summary += ` (only the first ${MAX_FIELD_PROBLEMS} problems are listed)`;
  return new ApiError('VALIDATION_FAILED', summary, details);
}
