import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BROADCAST_STATUSES, CANCELLABLE_BROADCAST_STATUSES, RECIPIENT_STATUSES } from './statuses.ts';

/**
 * The lifecycle events the service puts on its EventBridge bus for the user's own integrations
 * (issue 15; DESIGN.md "events"), defined once: these schemas type the publisher's code, and
 * docs/events/<type>.schema.json are generated from them (`npm run events:schemas`; a test fails
 * when the committed files are stale).
 *
 * The envelope is EventBridge's own: `source` is EVENT_SOURCE, `detail-type` the event type
 * (`broadcast.completed`), `detail` the JSON below, which always starts with
 * `{ eventId, tenantId, occurredAt }`. Delivery is at least once, so a consumer drops duplicates by
 * `eventId`: the same state change always gets the same id (eventIdOf), whichever delivery carries it.
 * No event carries a full phone number (phones are masked: `+********4567`).
 */

export const EVENT_SOURCE = 'whatsapp-broadcast';

export const LIFECYCLE_EVENT_TYPES = [
  'broadcast.created',
  'broadcast.completed',
  'broadcast.failed',
  'broadcast.paused',
  'broadcast.cancelled',
  'campaign.run.started',
  'contact.opted_out',
  'contact.opted_in',
  'import.completed',
] as const;
export type LifecycleEventType = (typeof LIFECYCLE_EVENT_TYPES)[number];

const isoTime = (description: string) =>
  z.string().meta({ description: `${description} (ISO 8601, UTC)`, example: '2026-11-30T09:41:07.123Z' });

const envelope = {
  eventId: z
    .string()
    .regex(/^evt_[0-9a-f]{32}$/)
    .meta({
      description:
        'Idempotency key: the same state change always carries the same id (delivery is at least once; drop duplicates by it)',
      example: 'evt_3f2a9c0d1e4b5a6978c1d2e3f4a5b6c7',
    }),
  tenantId: z.string().min(1).meta({ description: 'The tenant whose data changed', example: 'acme' }),
  occurredAt: isoTime('When the change happened'),
};

const broadcastId = z.string().meta({ example: 'brd_01JDZ8Q7W3K2M5N6P7Q8R9S0T1' });
/** Why a person is on a tenant's list as opted out: their own word, or Twilio's. */
const optOutReason = z.enum(['opt_out_keyword', 'opt_out_button', 'provider_error']);
const campaignId = z.string().meta({ example: 'cmp_01JDZ8Q7W3K2M5N6P7Q8R9S0T1' });
const maskedPhone = z
  .string()
  .regex(/^\+?\**\d{0,4}$/)
  .meta({
    description: 'The phone, all but its last 4 digits masked (never a full number)',
    example: '+********4567',
  });

/** Recipients per status, every status present (API.md's counts, as GET /v1/broadcasts/{id} shows them). */
const StatusCountsSchema = z.strictObject(
  Object.fromEntries(RECIPIENT_STATUSES.map((s) => [s, z.int().nonnegative()])) as Record<
    (typeof RECIPIENT_STATUSES)[number],
    z.ZodInt
  >,
);

/** What a broadcast came from: a test send, a campaign's run (every broadcast event but paused). */
const origin = {
  test: z.boolean().meta({ description: 'A test send (POST /v1/broadcasts/test-send)' }),
  campaignId: campaignId.optional().meta({ description: 'The campaign whose run this broadcast is' }),
};

const finished = {
  broadcastId,
  name: z.string(),
  completedAt: isoTime('When the last recipient reached its outcome'),
  totalRecipients: z.int().nonnegative(),
  counts: StatusCountsSchema.meta({
    description:
      'The final counts per recipient status, as GET /v1/broadcasts/{id} shows them when the event was published',
  }),
  ...origin,
};

export const LIFECYCLE_EVENT_SCHEMAS = {
  'broadcast.created': z.strictObject({
    ...envelope,
    broadcastId,
    name: z.string(),
    status: z.enum(BROADCAST_STATUSES).meta({
      description:
        'Its status when it was stored (`scheduled` when it waits for its scheduledAt, else `queued`…)',
    }),
    totalRecipients: z.int().nonnegative(),
    skippedCount: z
      .int()
      .nonnegative()
      .meta({ description: 'Recipients skipped at creation (suppressed, capped…)' }),
    scheduledAt: isoTime('When it is due to start').optional(),
    ...origin,
  }),
  'broadcast.completed': z.strictObject({
    ...envelope,
    ...finished,
    status: z.enum(['completed', 'partial']).meta({
      description: 'completed: no recipient failed; partial: some failed, some were sent',
    }),
  }),
  'broadcast.failed': z.strictObject({
    ...envelope,
    ...finished,
    status: z.literal('failed').meta({ description: 'No recipient was sent' }),
  }),
  'broadcast.paused': z.strictObject({
    ...envelope,
    broadcastId,
    name: z.string(),
    pausedAt: isoTime('When it was paused'),
    pauseReason: z.string().meta({
      description: 'Why: an admin (POST /v1/broadcasts/{id}/pause) or the canary’s finding',
    }),
    pausedFrom: z
      .enum(['accepted', 'queued', 'running'])
      .meta({ description: 'The status a resume returns to' }),
  }),
  'broadcast.cancelled': z.strictObject({
    ...envelope,
    broadcastId,
    name: z.string(),
    cancelledAt: isoTime('When it was cancelled (POST /v1/broadcasts/{id}/cancel)'),
    cancelledFrom: z
      .enum(CANCELLABLE_BROADCAST_STATUSES)
      .meta({ description: 'Its status when it was cancelled' }),
    totalRecipients: z.int().nonnegative(),
    ...origin,
  }),
  'campaign.run.started': z.strictObject({
    ...envelope,
    campaignId,
    scheduledFor: isoTime("The firing's scheduled time"),
    broadcastId: broadcastId.meta({ description: 'The broadcast this run created' }),
  }),
  'contact.opted_out': z.strictObject({
    ...envelope,
    phone: maskedPhone,
    reason: optOutReason.meta({
      description:
        'opt_out_keyword: the person wrote STOP or the like; opt_out_button: tapped an opt-out button; provider_error: Twilio reported that the person unsubscribed (21610, at the send) or blocked the sender (63014, in a status callback)',
    }),
    keyword: z
      .string()
      .optional()
      .meta({ description: 'The word or button payload, normalized', example: 'stop' }),
    errorCode: z
      .int()
      .positive()
      .optional()
      .meta({ description: "For provider_error: Twilio's error code", example: 21610 }),
  }),
  'contact.opted_in': z.strictObject({
    ...envelope,
    phone: maskedPhone,
    optedOutAt: isoTime('When the opt-out now lifted was made'),
    optedOutReason: optOutReason.meta({
      description:
        "The lifted opt-out's reason, as its contact.opted_out said. provider_error: the tenant's entry for Twilio's refusal was removed (an admin's DELETE, or START); Twilio may refuse the number again",
    }),
  }),
  'import.completed': z.strictObject({
    ...envelope,
    importId: z.string(),
    status: z.enum(['completed', 'failed']).meta({
      description:
        'completed: every row was handled (some may be invalid); failed: the import stopped (see failure)',
    }),
    completedAt: isoTime('When it finished'),
    totalRows: z.int().nonnegative().optional(),
    processedRows: z.int().nonnegative(),
    createdCount: z.int().nonnegative(),
    updatedCount: z.int().nonnegative(),
    duplicateCount: z.int().nonnegative(),
    invalidCount: z.int().nonnegative(),
    failure: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  }),
} as const satisfies Record<LifecycleEventType, z.ZodType>;

export type LifecycleEventDetail<T extends LifecycleEventType = LifecycleEventType> = z.output<
  (typeof LIFECYCLE_EVENT_SCHEMAS)[T]
>;

/** One event: its type (EventBridge's DetailType) and its detail. */
export type LifecycleEvent = {
  [T in LifecycleEventType]: { readonly type: T; readonly detail: LifecycleEventDetail<T> };
}[LifecycleEventType];

/**
 * The idempotency key of a state change: `evt_` and 32 hex digits of the SHA-256 of the event type,
 * the tenant and what identifies the change (the broadcast and its completedAt, …). Deterministic, so
 * a record delivered twice by the stream, or a batch retried after a partial PutEvents, yields the
 * same id.
 */
export function eventIdOf(type: LifecycleEventType, tenantId: string, ...parts: readonly string[]): string {
  const digest = createHash('sha256')
    .update([type, tenantId, ...parts].join('\n'))
    .digest('hex');
  return `evt_${digest.slice(0, 32)}`;
}

/** The JSON Schema document of one event type's detail (docs/events/<type>.schema.json). */
export function eventJsonSchema(type: LifecycleEventType): Record<string, unknown> {
  const schema = z.toJSONSchema(LIFECYCLE_EVENT_SCHEMAS[type], { target: 'draft-2020-12', io: 'output' });
  return {
    ...schema,
    title: type,
    description: `The detail of the \`${type}\` event (EventBridge source \`${EVENT_SOURCE}\`, detail-type \`${type}\`).`,
  };
}

/** Each docs/events file: its name and its text (formatted JSON, a final newline). */
export function eventSchemaFiles(): { file: string; text: string }[] {
  return LIFECYCLE_EVENT_TYPES.map((type) => ({
    file: `${type}.schema.json`,
    text: `${JSON.stringify(eventJsonSchema(type), null, 2)}\n`,
  }));
}
