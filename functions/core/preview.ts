import { countryOfPhone } from './phones.ts';
import type { ChunkEntry } from './ports.ts';
import { type CostEstimate, estimateCost, type PriceTable, type TemplateCategory } from './pricing.ts';

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
