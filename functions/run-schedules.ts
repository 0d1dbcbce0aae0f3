import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { z } from 'zod';
import { acceptBroadcast, enqueueFanOut } from './commons/broadcast-creation.ts';
import { log, logger } from './commons/powertools.ts';
import { broadcasts, campaigns } from './commons/wiring.ts';
import { createCampaignRun } from './use-cases/campaign-run.ts';
import { createScheduledStart } from './use-cases/scheduled-start.ts';

const Invocation = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('campaign.run'),
    tenantId: z.string().min(1),
    campaignId: z.string().min(1),
    scheduledFor: z.iso.datetime(),
  }),
  z.object({
    kind: z.literal('broadcast.start'),
    tenantId: z.string().min(1),
    broadcastId: z.string().min(1),
  }),
]);

let run: ReturnType<typeof createCampaignRun> | undefined;
let start: ReturnType<typeof createScheduledStart> | undefined;

/**
 * EventBridge Scheduler's target for the stack's schedules (core/schedules.ts ScheduleInvocation): a
 * campaign's firing (use-cases/campaign-run.ts) or a scheduled broadcast's start
 * (use-cases/scheduled-start.ts). A throw makes Scheduler retry (its RetryPolicy), then the firing
 * goes to the schedules' dead-letter queue; an input no retry can fix is logged and dropped.
 */
export const handler = middy(async (event: unknown): Promise<unknown> => {
  const parsed = Invocation.safeParse(event);
  if (!parsed.success) {
    logger.error('malformed schedule input dropped', { issues: parsed.error.issues.length });
    return { ok: false };
  }
  const firing = parsed.data;
  logger.appendKeys({ tenantId: firing.tenantId });
  if (firing.kind === 'campaign.run') {
    run ??= createCampaignRun({
      campaigns: campaigns(),
      broadcastStatus: async (tenantId, broadcastId) =>
        (await broadcasts().get(tenantId, broadcastId))?.status,
      accept: acceptBroadcast,
      logger: log,
    });
    return run(firing);
  }
  start ??= createScheduledStart({ broadcasts: broadcasts(), enqueueFanOut, logger: log });
  return start(firing);
}).use(injectLambdaContext(logger, { resetKeys: true }));
