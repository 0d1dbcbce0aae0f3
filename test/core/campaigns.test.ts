import { describe, expect, it } from 'vitest';
import {
  type Campaign,
  decideRun,
  nextRuns,
  parseCreateCampaign,
  runView,
} from '../../functions/core/campaigns.ts';
import { ApiError } from '../../functions/core/errors.ts';

const NOW = new Date('2026-11-30T10:00:00Z');
const TEMPLATE = { contentSid: 'HX880b0d228b6b512bae0f14a67c858ce4', variables: { '1': 'a', '2': 'b' } };
const body = {
  name: 'Weekly',
  audience: { groupIds: ['grp_01M8NZPCVJCPHA6FKF53QKD195'] },
  template: TEMPLATE,
  schedule: { expression: 'cron(0 9 ? * MON *)', timeZone: 'Africa/Nairobi' },
};
const parse = (b: unknown) => parseCreateCampaign(b, { now: NOW, maxRecipients: 100_000 });
const problems = (b: unknown) => {
  try {
    parse(b);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return (error as ApiError).details?.map((d) => d.path);
  }
  throw new Error('accepted');
};

describe('parseCreateCampaign', () => {
  it("keeps the broadcast-shaped part, checked by the broadcast's own schema", () => {
    const parsed = parse({ ...body, defaultCountry: 'KE' });
    expect(parsed.name).toBe('Weekly');
    expect(parsed.schedule).toMatchObject({ kind: 'cron', timeZone: 'Africa/Nairobi' });
    expect(parsed.broadcast).toEqual({
      name: 'Weekly',
      audience: body.audience,
      template: TEMPLATE,
      defaultCountry: 'KE',
    });
  });

  it('refuses recipients, scheduledAt, no audience, no name, no schedule, each named', () => {
    expect(problems({ ...body, recipients: ['+254712345601'], scheduledAt: '2027-01-01T00:00:00Z' })).toEqual(
      ['recipients', 'scheduledAt'],
    );
    const { audience: _a, name: _n, schedule: _s, ...bare } = body;
    expect(problems(bare)).toEqual(['audience', 'name', 'schedule']);
    expect(
      problems({ ...body, schedule: { expression: 'at(2026-11-30T12:00:00)', timeZone: 'Africa/Nairobi' } }),
    ).toEqual(['schedule.expression']);
    expect(problems({ ...body, typo: 1 })).toEqual(['typo']);
  });
});

describe('the overlap rule', () => {
  it('runs when there is no previous run or it is final; skips while it sends or is paused, or when the campaign is not active', () => {
    const active = { status: 'active' as const };
    expect(decideRun(active, undefined)).toEqual({ action: 'run' });
    expect(decideRun(active, { broadcastId: 'brd_1', status: 'partial' })).toEqual({ action: 'run' });
    for (const status of ['scheduled', 'accepted', 'queued', 'running', 'paused'] as const)
      expect(decideRun(active, { broadcastId: 'brd_1', status })).toEqual({
        action: 'skip',
        reason: `the previous run's broadcast brd_1 is still ${status}`,
      });
    expect(decideRun({ status: 'paused' }, undefined)).toEqual({
      action: 'skip',
      reason: 'the campaign is paused',
    });
  });
});

describe('views', () => {
  const campaign: Campaign = {
    tenantId: 't',
    campaignId: 'cmp_01M8NZPDMXG2ZFGYRV4453S491',
    name: 'Weekly',
    status: 'active',
    schedule: { expression: 'cron(0 9 ? * MON *)', timeZone: 'Africa/Nairobi' },
    broadcast: { name: 'Weekly', template: TEMPLATE },
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
  };
  it('shows next runs while active only', () => {
    // Written as Scheduler writes a firing's time, so a run's scheduledFor is the same text.
    expect(nextRuns(campaign, NOW, 2)).toEqual(['2026-12-07T06:00:00Z', '2026-12-14T06:00:00Z']);
    expect(nextRuns({ ...campaign, status: 'paused' }, NOW)).toEqual([]);
  });
  it("shows a started run with its broadcast's status, a skipped or failed one as such", () => {
    const at = '2026-12-07T06:00:00Z';
    expect(
      runView({ scheduledFor: at, outcome: 'started', broadcastId: 'brd_1', recordedAt: at }, 'running'),
    ).toEqual({
      scheduledFor: at,
      broadcastId: 'brd_1',
      status: 'running',
    });
    expect(
      runView(
        { scheduledFor: at, outcome: 'skipped', reason: 'r', blockedBy: 'brd_1', recordedAt: at },
        undefined,
      ),
    ).toEqual({ scheduledFor: at, status: 'skipped', reason: 'r' });
  });
});
