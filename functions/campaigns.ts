import { createHash } from 'node:crypto';
import { adminRoute } from './commons/admin-route.ts';
import { acceptTestSend, pauseBroadcast, resumeBroadcast } from './commons/broadcast-control.ts';
import { maxRecipients } from './commons/broadcast-planning.ts';
import { json, parseJson } from './commons/http.ts';
import { logger } from './commons/powertools.ts';
import { templateRegistry } from './commons/template-wiring.ts';
import { senderForNewBroadcast } from './commons/tenant-twilio-wiring.ts';
import { broadcasts, campaigns, groups, schedules } from './commons/wiring.ts';
import { PageQuery, parseIdempotencyKey, parseListQuery } from './core/broadcast-request.ts';
import {
  type Campaign,
  type CampaignKeyRecord,
  type CampaignStatus,
  campaignPauseReason,
  campaignView,
  parseCreateCampaign,
  RUNS_SHOWN,
  runView,
} from './core/campaigns.ts';
import { ApiError } from './core/errors.ts';
import {
  canonicalJson,
  EXPLICIT_IDEMPOTENCY_WINDOW_SECONDS,
  explicitIdempotencyKey,
} from './core/idempotency.ts';
import { isCampaignId, newCampaignId } from './core/ids.ts';
import { isOneTime } from './core/schedule-expressions.ts';
import { SCHEDULED_TIME } from './core/schedules.ts';
import { isFinalBroadcastStatus } from './core/statuses.ts';
import { checkTemplateInRegistry } from './core/template-check.ts';
import { parseCampaignTestSend } from './core/test-send.ts';

/**
 * Campaigns (API.md "Campaigns"): POST/GET /v1/campaigns, GET/DELETE /v1/campaigns/{id}, POST
 * /v1/campaigns/{id}/pause, /resume and /test-send. Each campaign is one EventBridge Scheduler schedule named
 * after it (its id), in the stack's schedule group, invoking functions/run-schedules.ts at each
 * firing. Another tenant's campaign is a 404, never read or changed.
 *
 * The campaign's status is the truth, its schedule follows it: pause marks the campaign paused, then
 * disables the schedule (a firing already on its way finds it paused and records a skipped run);
 * resume marks it active, then enables the schedule. Firings missed while paused are not replayed
 * (Scheduler does not deliver a disabled schedule's firings, and enabling it does not bring them
 * back). Pause also pauses the campaign's run still sending, and resume resumes it (runInProgress).
 * Pause and resume are idempotent (a paused campaign paused again answers 200).
 */
export const handler = adminRoute(async (event, tenantId) => {
  const store = campaigns();
  const now = new Date();
  switch (event.routeKey) {
    case 'POST /v1/campaigns': {
      const header = parseIdempotencyKey(event.headers?.['idempotency-key']);
      const body = parseJson(event);
      const { name, schedule, broadcast } = parseCreateCampaign(body, {
        now,
        maxRecipients: maxRecipients(),
      });
      // Idempotency-Key (24 h): the same key and body answer with the first campaign; a retried
      // create never makes two campaigns, which would each send every week.
      const key = header ? explicitIdempotencyKey(tenantId, header) : undefined;
      const fingerprint = createHash('sha256').update(canonicalJson(body)).digest('base64url');
      if (key) {
        const earlier = await store.findByIdempotencyKey(tenantId, key, now);
        if (earlier) return repeated(tenantId, earlier, fingerprint, now);
      }
      if (!(await senderForNewBroadcast(tenantId)).configured)
        throw new ApiError(
          'PROVIDER_NOT_CONFIGURED',
          'Twilio is not configured: set the account SID, the auth token and a sender (TWILIO_FROM or a messaging service).',
        );
      // The template and the groups are checked now, as a broadcast's create checks them: not at the
      // first run, next week. (Members are read at each run.)
      await checkTemplateInRegistry(await templateRegistry(tenantId), broadcast.template);
      await checkGroups(tenantId, broadcast.audience?.groupIds ?? []);
      const campaign: Campaign = {
        tenantId,
        campaignId: newCampaignId(now.getTime()),
        name,
        status: 'active',
        schedule: { expression: schedule.expression, timeZone: schedule.timeZone },
        broadcast,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
      };
      // The schedule first: one that fires before the campaign is stored finds nothing and does nothing.
      await schedules().put({
        name: campaign.campaignId,
        expression: schedule.expression,
        timeZone: schedule.timeZone,
        input: {
          kind: 'campaign.run',
          tenantId,
          campaignId: campaign.campaignId,
          scheduledFor: SCHEDULED_TIME,
        },
        enabled: true,
        // rate() counts from the campaign's creation (Scheduler's StartDate), as nextRunAt does.
        startDate: now,
        oneTime: isOneTime(schedule),
      });
      let outcome: Awaited<ReturnType<typeof store.create>>;
      try {
        outcome = await store.create(
          campaign,
          key
            ? {
                key,
                fingerprint,
                expiresAt: Math.floor(now.getTime() / 1000) + EXPLICIT_IDEMPOTENCY_WINDOW_SECONDS,
              }
            : undefined,
        );
      } catch (error) {
        await schedules().delete(campaign.campaignId);
        throw error;
      }
      if (!outcome.created) {
        // The same key won a race meanwhile: this request's schedule goes, the first campaign answers.
        await schedules().delete(campaign.campaignId);
        return repeated(tenantId, outcome.existing, fingerprint, now);
      }
      logger.info('campaign created', { campaignId: campaign.campaignId, expression: schedule.expression });
      // Its next runs as of now that its schedule exists: the Scheduler fires no time that passed before
      // (a request begun at 09:59:59.9 whose schedule was made at 10:00:00.2 first runs at 10:01).
      return json(201, campaignView(campaign, new Date(), []));
    }
    case 'GET /v1/campaigns': {
      const query = parseListQuery(PageQuery, event.queryStringParameters);
      const page = await store.list(tenantId, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
      return json(200, {
        items: page.items.map((c) => campaignView(c, now)),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    }
    case 'GET /v1/campaigns/{id}': {
      const campaign = await owned(tenantId, event.pathParameters?.id);
      return json(200, await withRuns(campaign, now));
    }
    case 'DELETE /v1/campaigns/{id}': {
      const campaign = await owned(tenantId, event.pathParameters?.id);
      await schedules().delete(campaign.campaignId);
      await store.delete(tenantId, campaign.campaignId);
      logger.info('campaign deleted', { campaignId: campaign.campaignId });
      return { statusCode: 204 };
    }
    case 'POST /v1/campaigns/{id}/pause':
    case 'POST /v1/campaigns/{id}/resume': {
      const campaign = await owned(tenantId, event.pathParameters?.id);
      const pause = event.routeKey.endsWith('/pause');
      const to: CampaignStatus = pause ? 'paused' : 'active';
      if (
        campaign.status !== to &&
        !(await store.setStatus(tenantId, campaign.campaignId, ['active', 'paused'], to, now))
      ) {
        const current = (await store.get(tenantId, campaign.campaignId))?.status ?? 'deleted';
        throw new ApiError(
          'INVALID_STATE',
          `Campaign ${campaign.campaignId} is ${current}: it cannot be ${pause ? 'paused' : 'resumed'}.`,
          [{ path: 'status', message: `is ${current}`, status: current }],
        );
      }
      // Also when the status was already `to`: a pause or resume cut short before this is completed.
      await schedules().setEnabled(campaign.campaignId, !pause);
      const run = await runInProgress(campaign, pause);
      logger.info(pause ? 'campaign paused' : 'campaign resumed', { campaignId: campaign.campaignId, run });
      const updated = (await store.get(tenantId, campaign.campaignId)) ?? campaign;
      return json(200, await withRuns(updated, now));
    }
    case 'POST /v1/campaigns/{id}/test-send': {
      // The campaign's message, now, to 1–10 test phones only (commons/broadcast-control.ts): what a
      // run would send, checked on a phone before the schedule sends it to everyone.
      const campaign = await owned(tenantId, event.pathParameters?.id);
      const testPhones = parseCampaignTestSend(parseJson(event));
      const idempotencyKey = parseIdempotencyKey(event.headers?.['idempotency-key']);
      const proof = await acceptTestSend(
        tenantId,
        { ...campaign.broadcast, name: campaign.name },
        testPhones,
        idempotencyKey ? { idempotencyKey } : {},
      );
      logger.info('campaign test sent', { campaignId: campaign.campaignId, broadcastId: proof.broadcastId });
      return json(202, { ...proof, campaignId: campaign.campaignId });
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});

/** A repeat of a keyed create: the first campaign (`Idempotent-Replayed: true`), or 409 for another body. */
async function repeated(tenantId: string, earlier: CampaignKeyRecord, fingerprint: string, now: Date) {
  if (earlier.fingerprint !== fingerprint)
    throw new ApiError(
      'IDEMPOTENCY_CONFLICT',
      `This Idempotency-Key created campaign ${earlier.campaignId} with another body; use a new key for a new campaign.`,
      [{ path: 'Idempotency-Key', message: 'used before with another body', campaignId: earlier.campaignId }],
    );
  const campaign = await campaigns().get(tenantId, earlier.campaignId);
  // Deleted since: the key's campaign is gone, and the answer says so rather than creating another.
  if (!campaign)
    throw new ApiError(
      'NOT_FOUND',
      `This Idempotency-Key created campaign ${earlier.campaignId}, since deleted.`,
    );
  return json(201, await withRuns(campaign, now), { 'idempotent-replayed': 'true' });
}

/**
 * The campaign's latest run's broadcast follows the campaign: a pause pauses it while it still sends
 * (P's pauseBroadcast, with the campaign as the reason); a resume resumes it when it was this
 * campaign's pause that paused it (one an admin or the canary paused stays paused). A broadcast that
 * ended or moved on meanwhile (INVALID_STATE) is left as it is. Returns what it did, for the log.
 */
async function runInProgress(campaign: Campaign, pause: boolean): Promise<string | undefined> {
  const [latest] = (await campaigns().runs(campaign.campaignId, RUNS_SHOWN)).filter((r) => r.broadcastId);
  if (!latest?.broadcastId) return undefined;
  const broadcast = await broadcasts().get(campaign.tenantId, latest.broadcastId);
  if (!broadcast || isFinalBroadcastStatus(broadcast.status)) return undefined;
  const reason = campaignPauseReason(campaign.campaignId);
  try {
    if (pause && broadcast.status !== 'paused' && broadcast.status !== 'scheduled') {
      await pauseBroadcast(campaign.tenantId, broadcast.broadcastId, reason);
      return `paused ${broadcast.broadcastId}`;
    }
    if (!pause && broadcast.status === 'paused' && broadcast.pauseReason === reason) {
      await resumeBroadcast(campaign.tenantId, broadcast.broadcastId);
      return `resumed ${broadcast.broadcastId}`;
    }
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'INVALID_STATE') throw error;
  }
  return undefined;
}

/** 400 as POST /v1/broadcasts answers (use-cases/plan-broadcast.ts) for a group that is not the tenant's. */
async function checkGroups(tenantId: string, groupIds: readonly string[]): Promise<void> {
  const found = await Promise.all(groupIds.map((id) => groups().get(tenantId, id)));
  const missing = groupIds.filter((_, n) => !found[n]);
  if (missing.length > 0)
    throw new ApiError(
      'VALIDATION_FAILED',
      `No such group: ${missing.join(', ')} (GET /v1/groups lists this tenant's groups).`,
      missing.map((id) => ({
        path: `audience.groupIds.${groupIds.indexOf(id)}`,
        message: 'no such group',
        groupId: id,
      })),
    );
}

async function owned(tenantId: string, id: string | undefined): Promise<Campaign> {
  const campaign = isCampaignId(id) ? await campaigns().get(tenantId, id) : undefined;
  if (!campaign)
    throw new ApiError('NOT_FOUND', `No campaign ${id ?? ''}`, [{ path: 'id', message: 'no such campaign' }]);
  return campaign;
}

/** The campaign's view with its newest runs, each started run with its broadcast's status now. */
async function withRuns(campaign: Campaign, now: Date) {
  const runs = await campaigns().runs(campaign.campaignId, RUNS_SHOWN);
  const views = await Promise.all(
    runs.map(async (run) =>
      runView(
        run,
        run.broadcastId ? (await broadcasts().get(campaign.tenantId, run.broadcastId))?.status : undefined,
      ),
    ),
  );
  return campaignView(campaign, now, views);
}
