import { z } from 'zod';
import { apiSchemas } from './broadcast-request.ts';
import { InvalidRecipientView } from './broadcast-responses.ts';
import { TEMPLATE_CATEGORIES } from './content-templates.ts';
import { countryOfPhone } from './phones.ts';
import type { ChunkEntry } from './ports.ts';
import { type CostEstimate, estimateCost, type PriceTable, type TemplateCategory } from './pricing.ts';
import { WAIT_REASONS } from './send-timing.ts';
import { SKIP_REASONS } from './skips.ts';

/**
 * The dry run's figures (POST /v1/broadcasts/preview) from a broadcast's planned entries: what would
 * be sent, to which countries, how long it takes at the sender's rate, what it costs, and a few
 * recipients' rendered values to check the template by.
 */

/** Rendered examples shown; enough to spot a wrong mapping, few enough to read. */
export const PREVIEW_SAMPLES = 5;

export interface PreviewFigures {
  /** Recipients that would be sent the template (valid, not skipped). */
  readonly sendCount: number;
  /** Seconds from the first send to the last at `senderMps` (pacing only; Twilio's queue adds little at this rate). */
  readonly estimatedSeconds: number;
  readonly estimatedCost: CostEstimate;
  readonly samples: { phone: string; variables: Record<string, string> }[];
}

/**
 * `entries`: the plan's (skipped ones flagged); `senderMps`: the deployment's SENDER_MPS (messages
 * per second, every send consumer together). Skipped recipients cost nothing and take no time.
 */
export function previewFigures(
  entries: readonly ChunkEntry[],
  options: { senderMps: number; category: TemplateCategory | null; prices: PriceTable },
): PreviewFigures {
  const byCountry = new Map<string, number>();
  const samples: PreviewFigures['samples'] = [];
  let sendCount = 0;
  for (const entry of entries) {
    if (entry.skipped) continue;
    sendCount++;
    const country = countryOfPhone(entry.phone);
    byCountry.set(country, (byCountry.get(country) ?? 0) + 1);
    if (samples.length < PREVIEW_SAMPLES)
      samples.push({ phone: entry.phone, variables: { ...entry.contentVariables } });
  }
  return {
    sendCount,
    estimatedSeconds: Math.ceil(sendCount / options.senderMps),
    estimatedCost: estimateCost(options.prices, options.category, byCountry),
    samples,
  };
}

const count = z.number().int().min(0);

/** The dry run's answer, as the OpenAPI document describes it. */
export const BroadcastPreviewView = z
  .object({
    totalRecipients: count.meta({
      description: 'Unique valid recipients, skipped ones included (as a send would count them)',
    }),
    sendCount: count.meta({ description: 'Of those, the ones that would be sent the template' }),
    skippedCount: count,
    skippedByReason: z.record(z.enum(SKIP_REASONS), count).meta({
      description:
        "suppressed: on a suppression list; no_consent: a marketing template, no opt-in (setting); frequency_cap: the broadcast's frequencyCap",
    }),
    waiting: z
      .object({
        count,
        byReason: z.record(z.enum(WAIT_REASONS), count),
        until: z.string().optional().meta({ description: 'The latest release time' }),
      })
      .meta({
        description:
          'Recipients that would wait (not be skipped): inside their quiet hours, or past what the messagingLimit leaves',
      }),
    estimatedFinishAt: z.string().meta({
      description:
        "When the last message would go: each release time plus its recipients at the sender's rate",
    }),
    invalidRecipientsCount: count,
    invalidRecipients: z.array(InvalidRecipientView).meta({ description: 'The first 100' }),
    duplicateRecipientsCount: count,
    estimatedSeconds: count.meta({
      description: "From the first send to the last at the sender's rate (SENDER_MPS)",
    }),
    estimatedCost: z.object({
      currency: z.literal('USD'),
      amount: z
        .number()
        .meta({ description: 'Every send delivered (undelivered messages are free, so an upper bound)' }),
      category: z.enum(TEMPLATE_CATEGORIES).nullable(),
      byCountry: z.array(
        z.object({ country: z.string(), recipients: count, ratePerMessage: z.number(), amount: z.number() }),
      ),
      source: z.string().meta({ description: 'Where the rates come from (WHATSAPP_PRICES replaces them)' }),
    }),
    samples: z
      .array(z.object({ phone: z.string(), variables: z.record(z.string(), z.string()) }))
      .meta({ description: 'The first recipients that would be sent, with their rendered template values' }),
    canary: z
      .object({ size: count, rest: count })
      .optional()
      .meta({ description: 'With a canary: how many go first, and how many wait for its decision' }),
    template: z
      .object({
        contentSid: z.string(),
        friendlyName: z.string(),
        category: z.enum(TEMPLATE_CATEGORIES).nullable(),
        approval: z.string(),
        body: z.string(),
      })
      .meta({ description: "The template as Twilio's Content API has it (checked as at create)" }),
  })
  .register(apiSchemas, { id: 'BroadcastPreview' });
