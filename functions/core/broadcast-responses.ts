import { z } from 'zod';
import {
  apiSchemas,
  BroadcastStatusSchema,
  FollowUp,
  FrequencyCapSchema,
  QuietHoursSchema,
  RecipientStatusSchema,
  TemplateRef,
} from './broadcast-request.ts';
import { CanaryView } from './canary.ts';
import { ERROR_CODES, type ErrorCode } from './errors.ts';
import { FOLLOW_UP_STATUSES } from './follow-up.ts';
import { INVALID_REASONS } from './phones.ts';
import { WAIT_REASONS } from './send-timing.ts';
import { RECIPIENT_SKIP_REASONS } from './skips.ts';
import { PAUSABLE_BROADCAST_STATUSES } from './statuses.ts';

/**
 * The API's answers about broadcasts as zod schemas (API.md's shapes): the OpenAPI document's
 * components (core/openapi.ts) and what the contract tests check answers against. The requests are
 * in broadcast-request.ts.
 */
export const count = z.number().int().min(0);
export const timestamp = z.string().meta({ format: 'date-time', description: 'ISO-8601 UTC' });
/** Twilio error codes are integers (30003); a string is allowed for codes of our own. */
export const providerErrorCode = z.union([z.number().int(), z.string()]);

export const BroadcastId = z
  .string()
  .regex(/^brd_[0-9A-HJKMNP-TV-Z]{26}$/)
  .meta({ description: 'brd_ + ULID', example: 'brd_01JD7X1B2C3D4E5F6G7H8J9K0M' });

export const CountsView = z
  .object({
    pending: count,
    queued: count,
    sending: count,
    sent: count,
    delivered: count,
    read: count,
    failed: count,
    undelivered: count,
    cancelled: count,
    skipped: count,
  })
  .meta({ description: 'Every recipient status; the values add up to totalRecipients' })
  .register(apiSchemas, { id: 'Counts' });

export const SkipReasonSchema = z
  .enum(RECIPIENT_SKIP_REASONS)
  .meta({
    description:
      'Why a skipped recipient is not sent: suppressed (opted out or on the suppression list), marketing_not_delivered_us (Meta does not deliver marketing templates to US numbers)',
  })
  .register(apiSchemas, { id: 'SkipReason' });

export const InvalidRecipientView = z
  .object({
    input: z.string(),
    reason: z.enum(INVALID_REASONS),
    index: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Position in the request recipients array' }),
    missing: z
      .array(z.string())
      .optional()
      .meta({
        description: 'missing_variables: the recipient variable keys that found no value',
        example: ['city'],
      }),
    variable: z.string().optional().meta({
      description: 'invalid_variable: the template variable whose value WhatsApp would refuse',
      example: '1',
    }),
    message: z
      .string()
      .optional()
      .meta({ description: 'invalid_variable: why', example: 'contains a newline' }),
  })
  .register(apiSchemas, { id: 'InvalidRecipient' });

/** Recipients that wait (quiet hours, the messaging limit): queued, released when their time comes. */
export const WaitingView = z
  .object({
    count,
    byReason: z.record(z.enum(WAIT_REASONS), count).optional(),
    until: timestamp.optional().meta({ description: 'The latest release time planned at create' }),
  })
  .meta({
    description:
      'Recipients waiting (not failed, not skipped): inside their quiet hours, or past the messagingLimit',
  })
  .register(apiSchemas, { id: 'Waiting' });

export const CreateBroadcastResponse = z
  .object({
    broadcastId: BroadcastId,
    status: BroadcastStatusSchema,
    idempotent: z.boolean(),
    totalRecipients: count,
    queuedCount: count,
    skippedCount: count.optional().meta({
      description:
        "Recipients counted but never sent (status skipped): on the tenant's suppression list, or a marketing template to a US number",
    }),
    invalidRecipientsCount: count,
    invalidRecipients: z.array(InvalidRecipientView),
    duplicateRecipientsCount: count,
    waiting: WaitingView.optional(),
    estimatedFinishAt: timestamp.optional(),
    items: z
      .array(
        z.object({
          phone: z.string(),
          status: RecipientStatusSchema,
          skipReason: SkipReasonSchema.optional(),
          notBefore: timestamp
            .optional()
            .meta({ description: 'A waiting recipient: sent no earlier than this' }),
        }),
      )
      .meta({ description: 'At most the first 100 accepted recipients' }),
  })
  .register(apiSchemas, { id: 'CreateBroadcastResponse' });

export const BroadcastView = z
  .object({
    broadcastId: BroadcastId,
    name: z.string(),
    status: BroadcastStatusSchema,
    createdAt: timestamp,
    scheduledAt: timestamp.optional(),
    startedAt: timestamp.optional(),
    completedAt: timestamp.optional(),
    cancelledAt: timestamp.optional(),
    pausedAt: timestamp.optional(),
    test: z.literal(true).optional().meta({ description: 'A test send (POST /v1/broadcasts/test-send)' }),
    canary: CanaryView.optional(),
    pauseReason: z.string().optional().meta({
      description: "While paused: why ('paused by an admin', a campaign's pause, or the canary's finding)",
    }),
    template: TemplateRef,
    sender: z
      .object({
        source: z.enum(['tenant', 'deployment']),
        from: z.string().optional(),
        messagingServiceSid: z.string().optional(),
        accountSid: z
          .string()
          .optional()
          .meta({ description: "The tenant's own Twilio account, when it has one" }),
        senderMps: z.number().positive().optional(),
      })
      .meta({
        description:
          "What it sends from, fixed at create: the tenant's own sender as set then (PUT /v1/settings/twilio), or the deployment's",
      }),
    followUp: FollowUp.optional(),
    campaign: z
      .object({ campaignId: z.string(), scheduledFor: timestamp })
      .optional()
      .meta({ description: "A campaign's run: the campaign and the firing that created it" }),
    audience: z
      .object({
        groupIds: z.array(z.string()).optional(),
        tags: z.array(z.string()).optional(),
        phonesCount: count.optional().meta({ description: 'How many phones audience.phones listed' }),
      })
      .optional()
      .meta({ description: 'The audience it was sent to, as asked; its members were read once, at create' }),
    totalRecipients: count,
    counts: CountsView,
    progressPct: z.number().int().min(0).max(100),
    quietHours: QuietHoursSchema.optional(),
    frequencyCap: FrequencyCapSchema.optional(),
    waiting: WaitingView.optional(),
    estimatedFinishAt: timestamp
      .optional()
      .meta({ description: 'When the last message should go, as estimated at create' }),
  })
  .register(apiSchemas, { id: 'Broadcast' });
export type BroadcastViewShape = z.infer<typeof BroadcastView>;

export const ErrorSummaryItem = z
  .object({ code: providerErrorCode, message: z.string(), count })
  .register(apiSchemas, { id: 'ErrorSummaryItem' });

export const FollowUpStatusSchema = z
  .enum(FOLLOW_UP_STATUSES)
  .meta({ description: 'A follow-up status; `expired`: the tap came after the 24-hour window' });

export const FollowUpCountsView = z
  .object({
    awaitingConfirmation: count.meta({ description: 'Template sent (or beyond), not tapped yet' }),
    confirmed: count,
    ...Object.fromEntries(FOLLOW_UP_STATUSES.map((status) => [status, count])),
  })
  .meta({ description: 'Confirmations, and follow-ups per status' })
  .register(apiSchemas, { id: 'FollowUpCounts' });

export const ProgressView = z
  .object({
    broadcastId: BroadcastId,
    status: BroadcastStatusSchema,
    totalRecipients: count,
    counts: CountsView,
    processedCount: count,
    pendingCount: count,
    progressPct: z.number().int().min(0).max(100),
    errorSummary: z.array(ErrorSummaryItem),
    followUp: FollowUpCountsView.optional().meta({
      description: 'Only for a broadcast with a followUp: the two-step flow',
    }),
    waiting: WaitingView.optional(),
    estimatedFinishAt: timestamp.optional(),
    updatedAt: timestamp.meta({
      description:
        "When this progress last changed: its counts (their latest update from the ledger), or the broadcast's latest status time (a resume included)",
    }),
  })
  .register(apiSchemas, { id: 'Progress' });
export type ProgressViewShape = z.infer<typeof ProgressView>;

export const RecipientView = z
  .object({
    phone: z.string(),
    status: RecipientStatusSchema,
    skipReason: SkipReasonSchema.optional(),
    attempts: count,
    messageSid: z.string().optional(),
    errorCode: providerErrorCode.optional(),
    errorMessage: z.string().optional(),
    queuedAt: timestamp.optional(),
    sentAt: timestamp.optional(),
    deliveredAt: timestamp.optional(),
    readAt: timestamp.optional(),
    confirmedAt: timestamp.optional(),
    erasedAt: timestamp.optional().meta({
      description: "The person was erased (POST /v1/erasures): phone is 'erased', the rest is kept",
    }),
    followUp: z
      .object({
        status: FollowUpStatusSchema,
        messageSid: z.string().optional(),
        errorCode: providerErrorCode.optional(),
        errorMessage: z.string().optional(),
        sentAt: timestamp.optional(),
        deliveredAt: timestamp.optional(),
        readAt: timestamp.optional(),
      })
      .optional(),
    nextRetryAt: timestamp
      .optional()
      .meta({ description: 'A retry, or (with waitReason) a waiting recipient: when it goes' }),
    waitReason: z.enum(WAIT_REASONS).optional(),
    updatedAt: timestamp,
  })
  .register(apiSchemas, { id: 'Recipient' });
export type RecipientViewShape = z.infer<typeof RecipientView>;

/** A page of a list route: `nextCursor` is absent on the last page. */
export function Page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().optional() });
}

export const BroadcastPage = Page(BroadcastView).register(apiSchemas, { id: 'BroadcastPage' });
export const RecipientPage = Page(RecipientView)
  .extend({
    recipientsExpireAt: timestamp.meta({
      description:
        "From then on the broadcast's recipients are deleted (RECIPIENT_RETENTION_DAYS after its start; each recipient that many days after its first write). The broadcast, its counts and its error summary stay.",
    }),
    recipientsExpired: z
      .literal(true)
      .optional()
      .meta({ description: 'Present once recipientsExpireAt has passed: the list is empty, or emptying' }),
  })
  .register(apiSchemas, { id: 'RecipientPage' });

export const CancelResponse = z
  .object({ broadcastId: BroadcastId, status: z.literal('cancelled'), cancelledCount: count })
  .register(apiSchemas, { id: 'CancelResponse' });

export const PauseResponse = z
  .object({
    broadcastId: BroadcastId,
    status: z.literal('paused'),
    pausedAt: timestamp,
    pauseReason: z.string().meta({ example: 'paused by an admin' }),
  })
  .register(apiSchemas, { id: 'PauseResponse' });

export const ResumeResponse = z
  .object({
    broadcastId: BroadcastId,
    status: z.enum(PAUSABLE_BROADCAST_STATUSES).meta({ description: 'The status it went back to' }),
    releasedChunks: count.meta({
      description:
        'Chunks of its list (up to 1,000 recipients each) whose unsent recipients the fan-out enqueues again, within seconds',
    }),
  })
  .register(apiSchemas, { id: 'ResumeResponse' });

export const RetryResponse = z
  .object({ broadcastId: BroadcastId, retriedCount: count })
  .register(apiSchemas, { id: 'RetryResponse' });

export const MetricsView = z
  .object({
    pendingCount: count,
    sentLast5m: count.meta({ description: 'Messages that reached sent (or beyond) in the last 5 minutes' }),
    failedLast5m: count.meta({
      description: 'Recipients that failed or were undelivered in the last 5 minutes',
    }),
    activeBroadcasts: count,
    deadLetterCount: count
      .optional()
      .meta({ description: 'Messages in the dead-letter queues (deployment-wide, not per tenant)' }),
  })
  .register(apiSchemas, { id: 'Metrics' });

export const HealthView = z
  .object({
    ok: z.literal(true),
    checks: z
      .object({ dynamodb: z.literal('ok'), sqs: z.literal('ok') })
      .meta({ description: 'Each dependency that answered a read: the main table, the send queue' }),
  })
  .register(apiSchemas, { id: 'Health' });

export const ErrorDetailSchema = z
  .looseObject({
    message: z.string().meta({ description: 'What is wrong, in words a person can act on' }),
    path: z.string().optional().meta({
      description:
        "What it is about: a body field ('template.contentSid', 'recipients.3'; '' for the body), a query parameter ('limit', 'cursor') or a header ('Content-Type', 'Idempotency-Key')",
    }),
  })
  .meta({
    description: 'One problem; further fields carry data (reason, input, index, broadcastId, status, …)',
  })
  .register(apiSchemas, { id: 'ErrorDetail' });

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      details: z.array(ErrorDetailSchema).optional().meta({ description: 'Always an array when present' }),
    }),
  })
  .register(apiSchemas, { id: 'Error' });
