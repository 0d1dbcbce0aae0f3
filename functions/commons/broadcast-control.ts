import { type CreateBroadcastInput, MAX_NAME_LENGTH } from '../core/broadcast-request.ts';
import { ApiError } from '../core/errors.ts';
import { INVALID_REASON_TEXT, normalizeRecipients } from '../core/phones.ts';
import { audienceReads } from '../use-cases/audience-source.ts';
import { acceptBroadcast, type BroadcastProof } from './broadcast-creation.ts';
import { sampleOf } from './broadcast-planning.ts';
import { contacts } from './wiring.ts';

/**
 * A broadcast's course, for every caller (the broadcast routes, campaigns): pause and resume
 * (broadcast-pause.ts, kept apart so the routes that only pause and resume bundle small) and the test
 * send.
 */
export {
  ADMIN_PAUSE_REASON,
  type PauseAnswer,
  pauseBroadcast,
  type ResumeAnswer,
  resumeBroadcast,
} from './broadcast-pause.ts';

/** What POST /v1/broadcasts/test-send answers (202): the proof of the test broadcast, and whose values each phone got. */
export type TestSendProof = BroadcastProof & {
  readonly test: true;
  readonly testPhones: readonly { readonly phone: string; readonly valuesFrom: 'contact' | 'sample' }[];
  readonly sample?: { readonly phone: string };
};

/**
 * A test send: the broadcast's template to `testPhones` only (1–10, normalized like recipients with
 * the input's defaultCountry), as a broadcast marked `test: true` (left out of the tenant's metrics,
 * frequency caps and daily limit; GET /v1/broadcasts?test=false hides it). Each test phone that is one
 * of the tenant's contacts gets its own values (name, attributes); any other gets the values of the
 * audience's first member as a sample (broadcast-planning.ts sampleOf), and the answer says which.
 * The input's audience, scheduledAt and canary are not used: a test goes now, to the test phones.
 * Suppressed test phones are skipped, as in any broadcast (an opt-out holds for tests too).
 * Throws ApiError VALIDATION_FAILED (`testPhones.<n>`: not a valid phone), and whatever
 * acceptBroadcast throws (template, provider, idempotency); nothing is written then.
 */
export async function acceptTestSend(
  tenantId: string,
  input: CreateBroadcastInput,
  testPhones: readonly string[],
  options: { idempotencyKey?: string; now?: Date } = {},
): Promise<TestSendProof> {
  const normalized = normalizeRecipients(testPhones, input.defaultCountry);
  if (normalized.invalid.length > 0)
    throw new ApiError(
      'VALIDATION_FAILED',
      `${normalized.invalid.length} test phone(s) are not valid phones: testPhones.${normalized.invalid[0]?.index}: ${INVALID_REASON_TEXT[normalized.invalid[0]?.reason ?? 'invalid_format']}`,
      normalized.invalid.map((r) => ({
        path: `testPhones.${r.index}`,
        message: INVALID_REASON_TEXT[r.reason],
        input: r.input,
        reason: r.reason,
      })),
    );
  const phones = normalized.accepted.map((r) => r.phone);
  const [known, sample] = await Promise.all([
    audienceReads(contacts()).contactsAmong(tenantId, phones),
    sampleOf(tenantId, input),
  ]);
  const { audience: _audience, scheduledAt: _scheduledAt, canary: _canary, ...rest } = input;
  const name = `Test: ${input.name ?? input.template.contentSid}`.slice(0, MAX_NAME_LENGTH);
  const proof = await acceptBroadcast(
    tenantId,
    {
      ...rest,
      name,
      // A contact's own values come from the plan (its attributes and name); the others get the sample's.
      recipients: phones.map((phone) =>
        known.has(phone) ? phone : { phone, variables: sample?.variables ?? {} },
      ),
    },
    { ...options, test: true },
  );
  return {
    ...proof,
    test: true,
    testPhones: phones.map((phone) => ({ phone, valuesFrom: known.has(phone) ? 'contact' : 'sample' })),
    ...(sample ? { sample: { phone: sample.phone } } : {}),
  };
}
