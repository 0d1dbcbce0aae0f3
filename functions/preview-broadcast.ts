import { adminRoute } from './commons/admin-route.ts';
import { maxRecipients, timedPlanFor } from './commons/broadcast-planning.ts';
import { intEnv, optionalEnv } from './commons/config.ts';
import { json, parseJson } from './commons/http.ts';
import { templateRegistry } from './commons/template-wiring.ts';
import { currentSenderOf } from './commons/tenant-twilio-wiring.ts';
import { parseCreateBroadcast } from './core/broadcast-request.ts';
import { planCanary } from './core/canary.ts';
import { DEFAULT_SENDER_MPS } from './core/pacing.ts';
import { previewFigures } from './core/preview.ts';
import { priceTableFrom } from './core/pricing.ts';
import { checkTemplateInRegistry } from './core/template-check.ts';

/** Invalid recipients listed in the answer (their count is always whole). */
const INVALID_SHOWN = 100;

/**
 * POST /v1/broadcasts/preview: the dry run. The same body as POST /v1/broadcasts, checked and planned
 * the same way (core/broadcast-request.ts, use-cases/plan-broadcast.ts), answered with what a send
 * would do: recipients after dedupe, suppression, consent and the frequency cap, the invalid ones,
 * who would wait (quiet hours, the messaging limit) and when the last would go, the time at the
 * sender's rate, the cost (core/pricing.ts), a few rendered samples. Reads only: nothing is stored,
 * nothing sent, and the Idempotency-Key header is ignored.
 */
export const handler = adminRoute(async (event, tenantId) => {
  const input = parseCreateBroadcast(parseJson(event), { maxRecipients: maxRecipients() });
  // The registry's answer decides as at create: an unknown or unapproved template is refused the same way.
  const template = await checkTemplateInRegistry(await templateRegistry(tenantId), input.template);
  const now = new Date();
  const plan = await timedPlanFor(tenantId, input, template, {
    now: input.scheduledAt ? new Date(input.scheduledAt) : now,
  });
  const waitingCount = plan.timing.waiting.quiet_hours + plan.timing.waiting.messaging_limit;
  const figures = previewFigures(plan.entries, {
    senderMps: (await currentSenderOf(tenantId))?.mps ?? intEnv('SENDER_MPS', DEFAULT_SENDER_MPS),
    category: template.category,
    prices: priceTableFrom(optionalEnv('WHATSAPP_PRICES')),
  });
  return json(200, {
    totalRecipients: plan.entries.length,
    sendCount: figures.sendCount,
    skippedCount: plan.entries.length - figures.sendCount,
    skippedByReason: plan.skipped,
    waiting: {
      count: waitingCount,
      byReason: plan.timing.waiting,
      ...(plan.timing.waitingUntil ? { until: plan.timing.waitingUntil.toISOString() } : {}),
    },
    estimatedFinishAt: plan.timing.estimatedFinishAt.toISOString(),
    invalidRecipientsCount: plan.invalid.length,
    invalidRecipients: plan.invalid.slice(0, INVALID_SHOWN),
    duplicateRecipientsCount: plan.duplicateCount,
    estimatedSeconds: figures.estimatedSeconds,
    estimatedCost: figures.estimatedCost,
    samples: figures.samples,
    ...(input.canary ? { canary: canaryPreview(planCanary(input.canary, plan.entries)) } : {}),
    template: {
      contentSid: template.contentSid,
      friendlyName: template.friendlyName,
      category: template.category,
      approval: template.approval,
      body: template.body,
    },
  });
});

function canaryPreview(canary: ReturnType<typeof planCanary>) {
  return { size: canary.size, rest: canary.rest };
}
