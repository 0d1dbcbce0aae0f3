import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeSchedules } from '../functions/adapters/eventbridge-schedules.ts';
import { SCHEDULED_TIME, type ScheduleDefinition } from '../functions/core/schedules.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { type LocalScheduler, startSchedulerLocal } from '../lib/local/scheduler-local.ts';

/**
 * The twin's EventBridge Scheduler (lib/local/scheduler-local.ts), driven through the product's own
 * adapter (the AWS SDK's Scheduler client) with a clock the test moves.
 */
const TARGET = 'arn:aws:lambda:us-east-1:000000000000:function:broadcast-runSchedules';
const DLQ = 'arn:aws:sqs:us-east-1:000000000000:broadcast-schedules-dlq';
const dirs: string[] = [];
let clock = new Date('2026-11-30T05:00:00Z');
let invocations: { arn: string; payload: Record<string, unknown> }[];
let deadLetters: string[];
let failNext = 0;
let scheduler: LocalScheduler;
let client: SchedulerClient;
let schedules: EventBridgeSchedules;

async function start(dataDir: string) {
  scheduler = await startSchedulerLocal({
    dataDir,
    now: () => clock,
    invoke: async (arn, payload) => {
      if (failNext > 0) {
        failNext -= 1;
        throw new Error('the function failed');
      }
      invocations.push({ arn, payload: payload as Record<string, unknown> });
    },
    deadLetter: async (_arn, body) => {
      deadLetters.push(body);
    },
  });
  client = new SchedulerClient({
    endpoint: scheduler.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  schedules = new EventBridgeSchedules(
    client,
    {
      groupName: 'broadcast-schedules',
      targetArn: TARGET,
      roleArn: 'arn:aws:iam::000000000000:role/scheduler-invoke',
      deadLetterArn: DLQ,
      maximumRetryAttempts: 2,
      maximumEventAgeSeconds: 3600,
    },
    () => clock,
  );
}

const weekly: ScheduleDefinition = {
  name: 'cmp_weekly',
  expression: 'cron(0 9 ? * MON *)',
  timeZone: 'Africa/Nairobi',
  input: { kind: 'campaign.run', tenantId: 't1', campaignId: 'cmp_weekly', scheduledFor: SCHEDULED_TIME },
  enabled: true,
  oneTime: false,
};

async function at(iso: string) {
  clock = new Date(iso);
  await scheduler.tick();
}

beforeEach(async () => {
  clock = new Date('2026-11-30T05:00:00Z');
  invocations = [];
  deadLetters = [];
  failNext = 0;
  const dir = mkdtempSync(path.join(tmpdir(), 'scheduler-local-'));
  dirs.push(dir);
  await start(dir);
});
afterEach(async () => {
  client.destroy();
  await scheduler.stop();
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the local EventBridge Scheduler', () => {
  it('fires a weekly Nairobi cron at 09:00 local with the scheduled time in the input, once per firing', async () => {
    await schedules.put(weekly);
    await at('2026-11-30T05:59:59Z');
    expect(invocations).toEqual([]);
    await at('2026-11-30T06:00:20Z');
    await at('2026-11-30T06:00:40Z');
    expect(invocations).toEqual([
      {
        arn: TARGET,
        payload: {
          kind: 'campaign.run',
          tenantId: 't1',
          campaignId: 'cmp_weekly',
          scheduledFor: '2026-11-30T06:00:00Z',
        },
      },
    ]);
    await at('2026-12-07T06:00:05Z');
    expect(invocations.map((i) => i.payload.scheduledFor)).toEqual([
      '2026-11-30T06:00:00Z',
      '2026-12-07T06:00:00Z',
    ]);
  });

  it('a disabled schedule does not fire, and enabling it does not replay what it missed', async () => {
    await schedules.put(weekly);
    expect(await schedules.setEnabled('cmp_weekly', false)).toBe(true);
    await at('2026-11-30T06:01:00Z');
    expect(invocations).toEqual([]);
    expect(await schedules.setEnabled('cmp_weekly', true)).toBe(true);
    await at('2026-11-30T06:02:00Z');
    expect(invocations).toEqual([]);
    await at('2026-12-07T06:00:00Z');
    expect(invocations.map((i) => i.payload.scheduledFor)).toEqual(['2026-12-07T06:00:00Z']);
    expect(await schedules.setEnabled('cmp_missing', true)).toBe(false);
  });

  it('a rate() schedule keeps its grid across a disable and an enable days later (no past StartDate sent back)', async () => {
    await schedules.put({
      ...weekly,
      name: 'cmp_daily',
      expression: 'rate(1 day)',
      timeZone: 'UTC',
      startDate: new Date('2026-11-30T05:00:00Z'),
    });
    await at('2026-11-30T05:00:10Z');
    expect(await schedules.setEnabled('cmp_daily', false)).toBe(true);
    clock = new Date('2026-12-03T12:00:00Z');
    await expect(
      schedules.put({ ...weekly, name: 'cmp_old', startDate: new Date('2026-12-03T11:00:00Z') }),
    ).rejects.toThrow('cannot be earlier than 5 minutes ago');
    expect(await schedules.setEnabled('cmp_daily', true)).toBe(true);
    await at('2026-12-04T05:00:05Z');
    expect(invocations.map((i) => i.payload.scheduledFor)).toEqual([
      '2026-11-30T05:00:00Z',
      '2026-12-04T05:00:00Z',
    ]);
  });

  it('an at() schedule fires once and is deleted after (ActionAfterCompletion DELETE)', async () => {
    await schedules.put({
      name: 'brd_once',
      expression: 'at(2026-12-01T09:00:00)',
      timeZone: 'Africa/Nairobi',
      input: { kind: 'broadcast.start', tenantId: 't1', broadcastId: 'brd_once' },
      enabled: true,
      oneTime: true,
    });
    await at('2026-12-01T06:00:00Z');
    await at('2026-12-01T07:00:00Z');
    expect(invocations.map((i) => i.payload)).toEqual([
      { kind: 'broadcast.start', tenantId: 't1', broadcastId: 'brd_once' },
    ]);
    expect(scheduler.list()).toEqual([]);
    await schedules.delete('brd_once'); // already gone: fine
  });

  it('retries a failing invocation by its RetryPolicy, then sends the input to the DLQ', async () => {
    await schedules.put(weekly);
    failNext = 1;
    await at('2026-11-30T06:00:00Z');
    expect(invocations).toEqual([]);
    await at('2026-11-30T06:00:01Z');
    expect(invocations).toHaveLength(1);

    failNext = 10;
    await at('2026-12-07T06:00:00Z');
    await at('2026-12-07T06:00:01Z');
    await at('2026-12-07T06:00:05Z');
    expect(invocations).toHaveLength(1);
    expect(deadLetters.map((b) => JSON.parse(b).scheduledFor)).toEqual(['2026-12-07T06:00:00Z']);
    // And the schedule goes on.
    failNext = 0;
    await at('2026-12-14T06:00:00Z');
    expect(invocations).toHaveLength(2);
  });

  it('keeps schedules across a restart, and delivers a firing missed while stopped once', async () => {
    await schedules.put(weekly);
    const dir = dirs.at(-1) as string;
    client.destroy();
    await scheduler.stop();
    clock = new Date('2026-12-15T00:00:00Z'); // two firings missed while stopped
    await start(dir);
    await scheduler.tick();
    expect(invocations.map((i) => i.payload.scheduledFor)).toEqual(['2026-11-30T06:00:00Z']);
    await at('2026-12-15T01:00:00Z');
    expect(invocations).toHaveLength(1);
    await at('2026-12-21T06:00:00Z');
    expect(invocations.map((i) => i.payload.scheduledFor)).toEqual([
      '2026-11-30T06:00:00Z',
      '2026-12-21T06:00:00Z',
    ]);
  });

  it('refuses a bad expression as Scheduler does (ValidationException), and updates replace the definition', async () => {
    await expect(schedules.put({ ...weekly, expression: 'cron(0 9 * * MON *)' })).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await schedules.put(weekly);
    await schedules.put({ ...weekly, expression: 'cron(30 9 ? * MON *)' });
    await at('2026-11-30T06:00:00Z');
    expect(invocations).toEqual([]);
    await at('2026-11-30T06:30:00Z');
    expect(invocations).toHaveLength(1);
    const stored = await schedules.get('cmp_weekly');
    expect(stored).toMatchObject({
      ScheduleExpression: 'cron(30 9 ? * MON *)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'NONE',
      Target: { Arn: TARGET, DeadLetterConfig: { Arn: DLQ }, RetryPolicy: { MaximumRetryAttempts: 2 } },
    });
  });
});
