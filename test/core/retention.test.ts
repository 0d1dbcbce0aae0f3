import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import {
  expiresAfter,
  isTimeToLiveRemoval,
  minimumRecipientDays,
  recipientsExpireAt,
  retentionSettings,
} from '../../functions/core/retention.ts';
import { createAggregator } from '../../functions/use-cases/aggregate-counts.ts';
import { retentionEnvironment } from '../../lib/retention-settings.ts';

const BACKOFF = [300, 900, 3600];

describe('retention settings', () => {
  it('defaults to 90 days of recipients and 180 of history', () => {
    expect(retentionSettings({}, BACKOFF)).toEqual({ recipientDays: 90, historyDays: 180 });
  });

  it('refuses recipients kept shorter than the retry window plus the backoff, naming the variable', () => {
    expect(minimumRecipientDays(BACKOFF)).toBe(32);
    expect(minimumRecipientDays([604_800, 604_800])).toBe(45);
    expect(retentionSettings({ RECIPIENT_RETENTION_DAYS: '32' }, BACKOFF).recipientDays).toBe(32);
    expect(() => retentionSettings({ RECIPIENT_RETENTION_DAYS: '31' }, BACKOFF)).toThrow(
      /RECIPIENT_RETENTION_DAYS must be a whole number of days from 32 to 3650; got '31'. Recipients must outlive/,
    );
    expect(() => retentionSettings({ HISTORY_RETENTION_DAYS: '7.5' }, BACKOFF)).toThrow(
      /HISTORY_RETENTION_DAYS/,
    );
    expect(() => retentionSettings({ HISTORY_RETENTION_DAYS: '0' }, BACKOFF)).toThrow(/from 1 to 3650/);
  });

  it('counts expiry in epoch seconds from the write, and a broadcast from its start', () => {
    expect(expiresAfter('2026-01-01T00:00:00.000Z', 2)).toBe(Date.parse('2026-01-03T00:00:00Z') / 1000);
    expect(
      recipientsExpireAt(
        { createdAt: '2026-01-01T00:00:00Z', scheduledAt: '2026-01-10T00:00:00Z' },
        90,
      ).toISOString(),
    ).toBe('2026-04-10T00:00:00.000Z');
  });
});

describe("the stack's retention settings (-c recipientRetentionDays, -c historyRetentionDays)", () => {
  it('hands the functions the defaults, or the days given, and refuses too short a recipient retention at synth', () => {
    expect(retentionEnvironment({})).toEqual({
      RECIPIENT_RETENTION_DAYS: '90',
      HISTORY_RETENTION_DAYS: '180',
    });
    expect(retentionEnvironment({ recipientRetentionDays: 45, historyRetentionDays: 30 })).toEqual({
      RECIPIENT_RETENTION_DAYS: '45',
      HISTORY_RETENTION_DAYS: '30',
    });
    // Two retry windows of 7 days: recipients must be kept 30 + 14 + 1 days at least.
    expect(() =>
      retentionEnvironment({ recipientRetentionDays: 40, retryBackoffSeconds: '604800,604800' }),
    ).toThrow(/RECIPIENT_RETENTION_DAYS must be a whole number of days from 45/);
  });
});

const ttlRemove = {
  eventName: 'REMOVE',
  userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
  dynamodb: {
    Keys: { pk: { S: 'BROADCAST#brd_1#S00' }, sk: { S: 'R#0000000' } },
    OldImage: {
      pk: { S: 'BROADCAST#brd_1#S00' },
      sk: { S: 'R#0000000' },
      tenantId: { S: 'acme' },
      status: { S: 'delivered' },
    },
    SequenceNumber: '100',
  },
} as unknown as DynamoDBRecord;

describe('a TTL deletion on the stream', () => {
  it('is told apart by its service identity (AWS: DynamoDB Streams and Time to Live)', () => {
    expect(isTimeToLiveRemoval(ttlRemove)).toBe(true);
    expect(isTimeToLiveRemoval({ ...ttlRemove, userIdentity: undefined })).toBe(false);
    expect(isTimeToLiveRemoval({ ...ttlRemove, eventName: 'MODIFY' })).toBe(false);
  });

  it('changes no counter and no history', async () => {
    const apply = vi.fn();
    const recordMessages = vi.fn();
    const aggregate = createAggregator({
      broadcasts: { get: vi.fn() } as never,
      counters: { apply, addActivity: vi.fn() } as never,
      contacts: { recordMessages },
      logger: { info: vi.fn(), warn: vi.fn(), error: vi.fn(), debug: vi.fn() } as never,
    } as never);
    expect(await aggregate([ttlRemove])).toEqual({ records: 1, broadcasts: 0, applied: {} });
    expect(apply).not.toHaveBeenCalled();
    expect(recordMessages).not.toHaveBeenCalled();
  });
});
