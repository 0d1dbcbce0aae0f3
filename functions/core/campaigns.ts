import { z } from 'zod';
import type { Page } from './audience.ts';
import {
  type CreateBroadcastInput,
  MAX_NAME_LENGTH,
  PageQuery,
  parseCreateBroadcast,
  registerRouteQueries,
} from './broadcast-request.ts';
import { ApiError, type FieldProblem } from './errors.ts';
import { firingsAfter, parseSchedule, type Schedule } from './schedule-expressions.ts';
import { schedulerTime } from './schedules.ts';
import { type BroadcastStatus, isFinalBroadcastStatus } from './statuses.ts';

/**
 * Campaigns (API.md "Campaigns"): an audience, a template and options sent on a schedule, each
 * firing one broadcast ("a run"). Domain rules only: the body's checks, the run rules, the views.
 */

/** `active`: its schedule fires; `paused`: it does not (and its run in progress is paused); `completed`: an at() campaign that ran. */
export type CampaignStatus = 'active' | 'paused' | 'completed';

/** What each run passes to acceptBroadcast: the create body without recipients and scheduledAt. */
export type CampaignBroadcast = Omit<CreateBroadcastInput, 'recipients' | 'scheduledAt'>;

export interface Campaign {
  readonly tenantId: string;
  readonly campaignId: string;
  readonly name: string;
  readonly status: CampaignStatus;
  readonly schedule: { readonly expression: string; readonly timeZone: string };
  readonly broadcast: CampaignBroadcast;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly pausedAt?: string;
}

/**
 * One firing's outcome, kept on the campaign (newest first):
 * - `started`: it created `broadcastId` (the view shows that broadcast's own status);
 * - `skipped`: nothing was sent, for `reason` (the previous run still sending, the campaign paused);
 * - `failed`: the broadcast could not be created (`error`: the API error's code and message, such as
 *   NO_VALID_RECIPIENTS when the audience resolved to nobody).
 */
export interface CampaignRun {
  readonly scheduledFor: string;
  readonly outcome: 'started' | 'skipped' | 'failed';
  readonly broadcastId?: string;
  readonly reason?: string;
  readonly error?: { readonly code: string; readonly message: string };
  /** A skipped run: the broadcast it waited for (the next firing waits for the same one). */
  readonly blockedBy?: string;
  readonly recordedAt: string;
}

/** An Idempotency-Key's record: the campaign it created and the body it was created with. */
export interface CampaignKeyRecord {
  readonly campaignId: string;
  readonly fingerprint: string;
}

export interface Campaigns {
  /**
   * Stores a new campaign; with `idempotency`, also the key's record (24 h), in one transaction:
   * `created: false` with the key's record when the key already created one (nothing written).
   */
  create(
    campaign: Campaign,
    idempotency?: { key: string; fingerprint: string; expiresAt: number },
  ): Promise<{ created: true } | { created: false; existing: CampaignKeyRecord }>;
  /** The live record of an Idempotency-Key (hashed: core/idempotency.ts explicitIdempotencyKey). */
  findByIdempotencyKey(tenantId: string, key: string, now: Date): Promise<CampaignKeyRecord | undefined>;
  get(tenantId: string, campaignId: string): Promise<Campaign | undefined>;
  /** Newest first. */
  list(tenantId: string, page: { limit: number; cursor?: string }): Promise<Page<Campaign>>;
  /** Moves the campaign from one of `from` to `to`; false when it is not in one of them (or gone). */
  setStatus(
    tenantId: string,
    campaignId: string,
    from: readonly CampaignStatus[],
    to: CampaignStatus,
    at: Date,
  ): Promise<boolean>;
  /** Deletes the campaign and its runs; false when there was none. */
  delete(tenantId: string, campaignId: string): Promise<boolean>;
  getRun(campaignId: string, scheduledFor: string): Promise<CampaignRun | undefined>;
  /** Records a run once: false (nothing written) when this firing already has one. */
  recordRun(campaignId: string, run: CampaignRun): Promise<boolean>;
  /** The newest `limit` runs, newest first. */
  runs(campaignId: string, limit: number): Promise<CampaignRun[]>;
}

registerRouteQueries({ 'GET /v1/campaigns': PageQuery });

/** Runs shown on GET /v1/campaigns/{id}; next firing times shown with `nextRunAt`. */
export const RUNS_SHOWN = 20;
export const NEXT_RUNS_SHOWN = 5;

/** The pause reason on a run's broadcast paused with its campaign (resume resumes only those). */
export function campaignPauseReason(campaignId: string): string {
  return `campaign ${campaignId} paused`;
}

/** The idempotency key of a firing's broadcast (acceptBroadcast): one broadcast per (campaign, time). */
export function runIdempotencyKey(campaignId: string, scheduledFor: string): string {
  return `campaign-run:${campaignId}:${scheduledFor}`;
}

const ScheduleBody = z.strictObject({
  expression: z.string().min(1).max(256),
  timeZone: z.string().max(64).optional(),
});

/**
 * Checks POST /v1/campaigns's body: `name` (required), `schedule: { expression, timeZone? }` (core/
 * schedule-expressions.ts), `audience` (required: a campaign sends to its audience as it is at each
 * run) and every other field of a broadcast's create body, checked by parseCreateBroadcast itself, so
 * options other helpers add there (quietHours, frequencyCap, canary) are taken and kept as they are.
 * `recipients` and `scheduledAt` are refused (a list frozen at create, and a time, are what a broadcast
 * has; a campaign has an audience and a schedule). An `at()` already past is refused.
 * Throws ApiError VALIDATION_FAILED (details name each field) and whatever parseCreateBroadcast throws.
 */
export function parseCreateCampaign(
  body: unknown,
  options: { now: Date; maxRecipients: number },
): { name: string; schedule: Schedule; broadcast: CampaignBroadcast } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError('VALIDATION_FAILED', 'The request body must be a JSON object', [
      { path: '', message: 'Expected a JSON object' },
    ]);
  const { schedule, recipients, scheduledAt, ...rest } = body as Record<string, unknown>;
  const problems: FieldProblem[] = [];
  if (recipients !== undefined)
    problems.push({
      path: 'recipients',
      message: 'a campaign sends to its audience as it is at each run: use audience (groupIds, tags, phones)',
    });
  if (scheduledAt !== undefined)
    problems.push({
      path: 'scheduledAt',
      message: 'a campaign has a schedule: use schedule.expression, e.g. at(2026-12-01T09:00:00)',
    });
  if (rest.audience === undefined)
    problems.push({ path: 'audience', message: 'required: the groups, tags or phones each run sends to' });
  if (typeof rest.name !== 'string' || rest.name.trim() === '')
    problems.push({
      path: 'name',
      message: 'required: a name for the campaign (its runs are named after it)',
    });
  else if (rest.name.length > MAX_NAME_LENGTH)
    problems.push({ path: 'name', message: `at most ${MAX_NAME_LENGTH} characters` });
  const scheduleBody = ScheduleBody.safeParse(schedule);
  if (!scheduleBody.success)
    problems.push({
      path: 'schedule',
      message:
        'required: { expression, timeZone? }, e.g. { "expression": "cron(0 9 ? * MON *)", "timeZone": "Africa/Nairobi" }',
    });
  if (problems.length > 0)
    throw new ApiError(
      'VALIDATION_FAILED',
      `Invalid campaign: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      problems,
    );
  const parsedSchedule = parseSchedule(scheduleBody.data as { expression: string; timeZone?: string });
  if (parsedSchedule.kind === 'at' && parsedSchedule.at.getTime() <= options.now.getTime())
    throw new ApiError(
      'VALIDATION_FAILED',
      'Invalid campaign: schedule.expression: the at() time has passed',
      [
        {
          path: 'schedule.expression',
          message: `${parsedSchedule.at.toISOString()} (${parsedSchedule.expression} in ${parsedSchedule.timeZone}) has passed; give a future time`,
        },
      ],
    );
  const {
    recipients: _r,
    scheduledAt: _s,
    ...broadcast
  } = parseCreateBroadcast(rest, {
    maxRecipients: options.maxRecipients,
  });
  return { name: (rest.name as string).trim(), schedule: parsedSchedule, broadcast };
}

/** What a firing does, given the campaign and the latest recorded run's broadcast status. */
export type RunDecision = { readonly action: 'run' } | { readonly action: 'skip'; readonly reason: string };

/**
 * The overlap rule: a firing while the campaign's previous run is still sending (its broadcast not
 * final: scheduled, accepted, queued, running, paused) is skipped, with the reason on the run, and
 * nothing is sent: two runs of one campaign never send at once, and a slow run is not followed by a
 * pile of late ones. A firing of a campaign that is not active (paused, or deleted while the firing
 * was in flight) is skipped too.
 */
export function decideRun(
  campaign: Pick<Campaign, 'status'>,
  previous: { readonly broadcastId: string; readonly status: BroadcastStatus } | undefined,
): RunDecision {
  if (campaign.status !== 'active') return { action: 'skip', reason: `the campaign is ${campaign.status}` };
  if (previous && !isFinalBroadcastStatus(previous.status))
    return {
      action: 'skip',
      reason: `the previous run's broadcast ${previous.broadcastId} is still ${previous.status}`,
    };
  return { action: 'run' };
}

/** The campaign's next firing times after `now`, as Scheduler writes them (none for a paused or completed one). */
export function nextRuns(campaign: Campaign, now: Date, count = NEXT_RUNS_SHOWN): string[] {
  if (campaign.status !== 'active') return [];
  const schedule = parseSchedule(campaign.schedule);
  return firingsAfter(schedule, now, count, { startDate: new Date(campaign.createdAt) }).map(schedulerTime);
}

/** A run as API.md shows it: `{ scheduledFor, broadcastId, status }` (+ reason or error). */
export function runView(run: CampaignRun, broadcastStatus: BroadcastStatus | undefined) {
  return {
    scheduledFor: run.scheduledFor,
    ...(run.broadcastId ? { broadcastId: run.broadcastId } : {}),
    status: run.outcome === 'started' ? (broadcastStatus ?? 'accepted') : run.outcome,
    ...(run.reason ? { reason: run.reason } : {}),
    ...(run.error ? { error: run.error } : {}),
  };
}

/** GET /v1/campaigns/{id} (with runs) and the list's items (without). */
export function campaignView(campaign: Campaign, now: Date, runs?: ReturnType<typeof runView>[]) {
  const upcoming = nextRuns(campaign, now);
  const { name: _name, ...options } = campaign.broadcast;
  return {
    campaignId: campaign.campaignId,
    name: campaign.name,
    status: campaign.status,
    schedule: { expression: campaign.schedule.expression, timeZone: campaign.schedule.timeZone },
    ...(upcoming[0] ? { nextRunAt: upcoming[0] } : {}),
    nextRuns: upcoming,
    ...options,
    createdAt: campaign.createdAt,
    updatedAt: campaign.updatedAt,
    ...(campaign.pausedAt ? { pausedAt: campaign.pausedAt } : {}),
    ...(runs ? { runs } : {}),
  };
}
