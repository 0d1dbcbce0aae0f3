import { z } from 'zod';
import {
  apiSchemas,
  type CreateBroadcastInput,
  createBroadcastRequestSchema,
  type ParseCreateBroadcastOptions,
  parseCreateBroadcast,
} from './broadcast-request.ts';
import { CreateBroadcastResponse } from './broadcast-responses.ts';
import { ApiError, fromZodError } from './errors.ts';

/** Most test phones in one test send: a seed list for a person to look at, not an audience. */
export const MAX_TEST_PHONES = 10;

export const TestPhones = z
  .array(z.string().min(1).max(100))
  .min(1, 'must list at least one test phone')
  .max(MAX_TEST_PHONES, `must list at most ${MAX_TEST_PHONES} test phones`)
  .meta({
    description: `1 to ${MAX_TEST_PHONES} phones (E.164, or national with defaultCountry) that get the message instead of the audience`,
  });

/** POST /v1/broadcasts/test-send: the create body plus testPhones (scheduledAt and canary are ignored: a test goes now, whole). */
export const TestSendRequest = createBroadcastRequestSchema()
  .safeExtend({ testPhones: TestPhones })
  .register(apiSchemas, { id: 'TestSendRequest' });

export const TestSendResponse = CreateBroadcastResponse.safeExtend({
  test: z.literal(true),
  testPhones: z
    .array(
      z.object({
        phone: z.string(),
        valuesFrom: z.enum(['contact', 'sample']).meta({
          description:
            "contact: the test phone is a contact, its own name and attributes filled the template; sample: the audience's first member's values did",
        }),
      }),
    )
    .meta({ description: 'Each valid test phone, normalized, and whose values it was sent' }),
  sample: z
    .object({ phone: z.string() })
    .optional()
    .meta({ description: "The audience's first member, whose values the non-contact test phones got" }),
}).register(apiSchemas, { id: 'TestSendResponse' });

/**
 * Validates a test send's body: `testPhones` (1–10 strings; normalized later, like recipients), and
 * the rest as POST /v1/broadcasts' body (parseCreateBroadcast: 413 and 400 as there). `scheduledAt`
 * and `canary` are dropped: a test goes now, to every test phone. Throws ApiError VALIDATION_FAILED.
 */
export function parseTestSend(
  body: unknown,
  options: ParseCreateBroadcastOptions,
): { input: CreateBroadcastInput; testPhones: string[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError('VALIDATION_FAILED', 'The request body must be a JSON object', [
      { path: '', message: 'Expected a JSON object' },
    ]);
  const { testPhones, ...rest } = body as Record<string, unknown>;
  const phones = checkedTestPhones(testPhones);
  return { input: withoutScheduleOrCanary(parseCreateBroadcast(rest, options)), testPhones: phones };
}

/**
 * Validates POST /v1/campaigns/{id}/test-send's body: `{ testPhones }` (1–10 strings), the message
 * being the campaign's. Throws ApiError VALIDATION_FAILED naming `testPhones.<n>` or the unknown field.
 */
export function parseCampaignTestSend(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError('VALIDATION_FAILED', 'The request body must be a JSON object with testPhones', [
      { path: '', message: 'Expected a JSON object' },
    ]);
  const { testPhones, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0)
    throw new ApiError(
      'VALIDATION_FAILED',
      `Only testPhones is taken here: the message is the campaign's (${unknown.join(', ')} not allowed)`,
      unknown.map((key) => ({ path: key, message: 'not allowed: the campaign gives the message' })),
    );
  return checkedTestPhones(testPhones);
}

function withoutScheduleOrCanary(input: CreateBroadcastInput): CreateBroadcastInput {
  const { scheduledAt: _scheduledAt, canary: _canary, ...rest } = input;
  return rest;
}

function checkedTestPhones(testPhones: unknown): string[] {
  const phones = TestPhones.safeParse(testPhones);
  if (!phones.success) {
    const details = (fromZodError(phones.error).details ?? []).map((d) => ({
      ...d,
      path: `testPhones${d.path ? `.${d.path}` : ''}`,
    }));
    const first = details[0];
    throw new ApiError(
      'VALIDATION_FAILED',
      testPhones === undefined
        ? 'testPhones is required: the phones to send the test to'
        : `The request body is invalid: ${first?.path ?? 'testPhones'}: ${first?.message ?? 'invalid'}`,
      details,
    );
  }
  return phones.data;
}
