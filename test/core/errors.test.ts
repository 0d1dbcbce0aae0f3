import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ApiError,
  ERROR_CODES,
  errorBody,
  errorResponse,
  fromZodError,
  statusOf,
} from '../../functions/core/errors.ts';

describe('ERROR_CODES', () => {
  it('maps each API.md code (and FORBIDDEN for unsigned webhooks, DEPENDENCY_UNAVAILABLE for /healthz, PROVIDER_UNAVAILABLE for Twilio not answering, STARTING and STOPPING for the local twin) to its HTTP status', () => {
    expect(ERROR_CODES).toEqual({
      UNAUTHORIZED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      METHOD_NOT_ALLOWED: 405,
      UNSUPPORTED_MEDIA_TYPE: 415,
      VALIDATION_FAILED: 400,
      NO_VALID_RECIPIENTS: 400,
      TEMPLATE_NOT_FOUND: 400,
      TEMPLATE_NOT_APPROVED: 400,
      TEMPLATE_VARIABLES_MISMATCH: 400,
      TOO_MANY_RECIPIENTS: 413,
      PAYLOAD_TOO_LARGE: 413,
      INVALID_STATE: 409,
      IDEMPOTENCY_CONFLICT: 409,
      SENDER_IN_USE: 409,
      WHATSAPP_NOT_CONNECTED: 503,
      PROVIDER_NOT_CONFIGURED: 503,
      PROVIDER_UNAVAILABLE: 503,
      RATE_LIMITED: 429,
      INTERNAL: 500,
      DEPENDENCY_UNAVAILABLE: 503,
      STARTING: 503,
      STOPPING: 503,
    });
  });
});

describe('ApiError and errorBody', () => {
  it('carries code, status and details in the one error shape', () => {
    const err = new ApiError('NO_VALID_RECIPIENTS', 'No valid recipient', [
      { path: 'recipients.0', message: 'not a phone number', input: 'abc', reason: 'invalid_format' },
    ]);
    expect(err).toBeInstanceOf(Error);
    expect(err.status).toBe(400);
    expect(errorBody(err)).toEqual({
      error: {
        code: 'NO_VALID_RECIPIENTS',
        message: 'No valid recipient',
        details: [
          { path: 'recipients.0', message: 'not a phone number', input: 'abc', reason: 'invalid_format' },
        ],
      },
    });
  });

  it('carries headers to the answer (Allow with a 405); other errors have none', () => {
    const err = new ApiError('METHOD_NOT_ALLOWED', 'DELETE is not allowed', [{ message: 'use GET' }], {
      allow: 'GET',
    });
    expect(errorResponse(err)).toMatchObject({ statusCode: 405, headers: { allow: 'GET' } });
    expect(errorResponse(new ApiError('NOT_FOUND', 'x')).headers).toEqual({});
    expect(errorResponse(new Error('boom')).headers).toEqual({});
  });

  it('leaves details out when there are none', () => {
    expect(errorBody(new ApiError('NOT_FOUND', 'Broadcast not found'))).toEqual({
      error: { code: 'NOT_FOUND', message: 'Broadcast not found' },
    });
  });

  it('never leaks an unexpected error: INTERNAL, fixed message, no stack', () => {
    const err = new Error('connect ECONNREFUSED 10.0.0.1:8000 secret-table');
    const { statusCode, body } = errorResponse(err);
    expect(statusCode).toBe(500);
    expect(body).toEqual({ error: { code: 'INTERNAL', message: 'Internal error' } });
    expect(JSON.stringify(body)).not.toContain('ECONNREFUSED');
    expect(statusOf('a string')).toBe(500);
  });
});

describe('fromZodError', () => {
  const schema = z.strictObject({
    template: z.strictObject({ contentSid: z.string().regex(/^HX/, 'must start with HX') }),
    recipients: z.array(z.string()).min(1),
  });

  it('names each field path and its problem', () => {
    const r = schema.safeParse({ template: { contentSid: 'nope' }, recipients: ['ok', 5], extra: 1 });
    expect(r.success).toBe(false);
    const err = fromZodError(r.error as z.ZodError);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.status).toBe(400);
    expect(err.details).toEqual([
      { path: 'template.contentSid', message: 'must start with HX' },
      { path: 'recipients.1', message: expect.stringContaining('expected string') },
      { path: 'extra', message: 'Unknown field' },
    ]);
    expect(err.message).toContain('template.contentSid');
  });

  it('lists at most 100 problems', () => {
    const r = schema.safeParse({
      template: { contentSid: 'HX' },
      recipients: Array.from({ length: 5000 }, (_, i) => i),
    });
    const err = fromZodError(r.error as z.ZodError);
    expect(err.details).toHaveLength(100);
    expect(err.message).toContain('first 100');
  });

  it('says Required for a missing field', () => {
    const r = schema.safeParse({ recipients: ['x'] });
    expect(fromZodError(r.error as z.ZodError).details).toEqual([{ path: 'template', message: 'Required' }]);
  });
});
