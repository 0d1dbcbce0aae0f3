import type { z } from 'zod';

/** Every error code the API answers with, and its HTTP status (API.md "Conventions"). */
export const ERROR_CODES = {
  UNAUTHORIZED: 401,
  /** A Twilio webhook without a valid X-Twilio-Signature. */
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  VALIDATION_FAILED: 400,
  NO_VALID_RECIPIENTS: 400,
  TOO_MANY_RECIPIENTS: 413,
  PAYLOAD_TOO_LARGE: 413,
  INVALID_STATE: 409,
  IDEMPOTENCY_CONFLICT: 409,
  WHATSAPP_NOT_CONNECTED: 503,
  PROVIDER_NOT_CONFIGURED: 503,
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

/** One field problem, in `details` of VALIDATION_FAILED. */
export interface FieldProblem {
  /** Dotted path into the request body: `template.contentSid`, `recipients.3.phone`; `''` for the body itself. */
  path: string;
  message: string;
}

/**
 * An error the API answers with its code's HTTP status and the one error shape. Anything else that
 * reaches a handler's edge is answered as INTERNAL, without its message or stack.
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_CODES[code];
    if (details !== undefined) this.details = details;
  }
}

export interface ErrorBodyShape {
  error: { code: ErrorCode; message: string; details?: unknown };
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

/** `ApiError` → `{ statusCode, body }` ready for a handler: both computed the same way. */
export function errorResponse(err: unknown): { statusCode: number; body: ErrorBodyShape } {
  return { statusCode: statusOf(err), body: errorBody(err) };
}

type Issue = z.core.$ZodIssue;

function joinPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

function problemsOf(issue: Issue, prefix: readonly PropertyKey[], out: FieldProblem[]): void {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys':
      for (const key of issue.keys) out.push({ path: joinPath([...path, key]), message: 'Unknown field' });
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
