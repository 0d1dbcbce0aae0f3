import type { HandlerLogger } from '../commons/powertools.ts';
import type { CreateBroadcastInput } from '../core/broadcast-request.ts';
import {
  type CampaignRun,
  type Campaigns,
  decideRun,
  RUNS_SHOWN,
  runIdempotencyKey,
} from '../core/campaigns.ts';
import { ApiError } from '../core/errors.ts';
import { localParts, parseSchedule } from '../core/schedule-expressions.ts';
import type { BroadcastStatus } from '../core/statuses.ts';

export interface CampaignRunDeps {
  readonly campaigns: Campaigns;
  /** The broadcast's current status (undefined when it is gone). */
  readonly broadcastStatus: (tenantId: string, broadcastId: string) => Promise<BroadcastStatus | undefined>;
  /** functions/commons/broadcast-creation.ts acceptBroadcast. */
  readonly accept: (
    tenantId: string,
    input: CreateBroadcastInput,
    options: { idempotencyKey: string; now: Date; campaign: { campaignId: string; scheduledFor: string } },
  ) => Promise<{ broadcastId: string }>;
  readonly now?: () => Date;
  readonly logger: HandlerLogger;
}

/**
 * One firing of a campaign's schedule (EventBridge Scheduler delivers each at least once):
 *
 * 1. a firing that already has its run recorded is done (a duplicate delivery creates nothing);
 * 2. the overlap rule (core/campaigns.ts decideRun): while the previous run's broadcast is not final,
 *    the firing is recorded `skipped` with the reason, and nothing is sent;
 * 3. one broadcast is created through acceptBroadcast from the campaign's stored body, its audience
 *    resolved now, with the idempotency key of (campaign, scheduled time): a delivery after a crash
 *    between the create and step 4 gets the same broadcast back, not a second one;
 * 4. the run is recorded `{ scheduledFor, broadcastId }` (once: a conditional write).
 *
 * A refusal of the create (an audience that resolves to nobody, a template no longer approved: an
 * ApiError under 500) is recorded as a `failed` run with its code and message, and the firing is
 * done; anything else (DynamoDB, SQS, Twilio unavailable) is thrown, so Scheduler retries it.
 */
export function createCampaignRun(deps: CampaignRunDeps) {
  const clock = deps.now ?? (() => new Date());
  return async (firing: {
    tenantId: string;
    campaignId: string;
    scheduledFor: string;
  }): Promise<CampaignRun | undefined> => {
    const { tenantId, campaignId, scheduledFor } = firing;
    const campaign = await deps.campaigns.get(tenantId, campaignId);
    if (!campaign) {
      deps.logger.warn('firing of a campaign that no longer exists: nothing to do', {
        campaignId,
        scheduledFor,
      });
      return undefined;
    }
    const recorded = await deps.campaigns.getRun(campaignId, scheduledFor);
    if (recorded) {
      deps.logger.info('firing delivered again: its run is already recorded', { campaignId, scheduledFor });
      return recorded;
    }
    const record = async (run: Omit<CampaignRun, 'scheduledFor' | 'recordedAt'>): Promise<CampaignRun> => {
      const full: CampaignRun = { scheduledFor, recordedAt: clock().toISOString(), ...run };
      const stored = (await deps.campaigns.recordRun(campaignId, full))
        ? full
        : ((await deps.campaigns.getRun(campaignId, scheduledFor)) ?? full);
      // An at() campaign has had its one firing (Scheduler deletes its schedule after it).
      if (campaign.status === 'active' && parseSchedule(campaign.schedule).kind === 'at')
        await deps.campaigns.setStatus(tenantId, campaignId, ['active'], 'completed', clock());
      return stored;
    };

    const previous = await previousBroadcast(tenantId, campaignId);
    const decision = decideRun(campaign, previous);
    if (decision.action === 'skip') {
      deps.logger.info('campaign run skipped', { campaignId, scheduledFor, reason: decision.reason });
      return record({
        outcome: 'skipped',
        reason: decision.reason,
        ...(previous && campaign.status === 'active' ? { blockedBy: previous.broadcastId } : {}),
      });
    }
    const local = localParts(new Date(scheduledFor), campaign.schedule.timeZone);
    const input: CreateBroadcastInput = {
      ...campaign.broadcast,
      // "Weekly digest · 2026-12-07 09:00 Africa/Nairobi": each run's broadcast says which firing it is.
      name: `${campaign.name} · ${local.slice(0, 3).join('-')} ${local.slice(3, 5).join(':')} ${campaign.schedule.timeZone}`,
    };
    let broadcastId: string;
    try {
      ({ broadcastId } = await deps.accept(tenantId, input, {
        idempotencyKey: runIdempotencyKey(campaignId, scheduledFor),
        now: clock(),
        campaign: { campaignId, scheduledFor },
      }));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      deps.logger.warn('campaign run failed: the broadcast was refused', {
        campaignId,
        scheduledFor,
        code: error.code,
      });
      return record({ outcome: 'failed', error: { code: error.code, message: error.message } });
    }
    deps.logger.info('campaign run started', { campaignId, scheduledFor, broadcastId });
    return record({ outcome: 'started', broadcastId });
  };

  /** The broadcast the campaign last started or last waited for, and its status now. */
  async function previousBroadcast(tenantId: string, campaignId: string) {
    const runs = await deps.campaigns.runs(campaignId, RUNS_SHOWN);
    const latest = runs.find((r) => r.broadcastId || r.blockedBy);
    const broadcastId = latest?.broadcastId ?? latest?.blockedBy;
    if (!broadcastId) return undefined;
    const status = await deps.broadcastStatus(tenantId, broadcastId);
    return status ? { broadcastId, status } : undefined;
  }
}
