import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { HandlerLogger } from '../functions/commons/powertools.ts';
import type { LifecycleEvent } from '../functions/core/lifecycle-events.ts';
import type { EventPublisher } from '../functions/core/ports.ts';
import { createEventPublication } from '../functions/use-cases/publish-events.ts';

const silent: HandlerLogger = { debug() {}, info() {}, warn() {}, error() {} };

function record(
  sequence: string,
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  keys: { pk: string; sk: string },
  images: { old?: Record<string, unknown>; new?: Record<string, unknown> },
): DynamoDBRecord {
  return {
    eventName,
    dynamodb: {
      SequenceNumber: sequence,
      ApproximateCreationDateTime: 1_764_496_800,
      Keys: marshall(keys) as never,
      ...(images.old ? { OldImage: marshall(images.old, { removeUndefinedValues: true }) as never } : {}),
      ...(images.new ? { NewImage: marshall(images.new, { removeUndefinedValues: true }) as never } : {}),
    },
  };
}

const broadcast = (id: string, status: string, extra: Record<string, unknown> = {}) => ({
  pk: 'TENANT#acme',
  sk: `BROADCAST#${id}`,
  tenantId: 'acme',
  broadcastId: id,
  name: id,
  status,
  createdAt: '2026-11-30T09:00:00.000Z',
  totalRecipients: 2,
  ...extra,
});

/** A bus that refuses the events whose broadcast ids are listed, and keeps the rest. */
function bus(refuse: (e: LifecycleEvent) => boolean): EventPublisher & { taken: LifecycleEvent[] } {
  const taken: LifecycleEvent[] = [];
  return {
    taken,
    async publish(events) {
      const failed = events.filter(refuse);
      taken.push(...events.filter((e) => !refuse(e)));
      return { failedEventIds: failed.map((e) => e.detail.eventId) };
    },
  };
}

const brdOf = (e: LifecycleEvent) => ('broadcastId' in e.detail ? e.detail.broadcastId : '');

describe('publishing a stream batch as lifecycle events', () => {
  const records = [
    record(
      '100',
      'INSERT',
      { pk: 'TENANT#acme', sk: 'BROADCAST#brd_A' },
      { new: broadcast('brd_A', 'queued') },
    ),
    record(
      '200',
      'MODIFY',
      { pk: 'TENANT#acme', sk: 'BROADCAST#brd_B' },
      {
        old: broadcast('brd_B', 'running'),
        new: broadcast('brd_B', 'completed', { completedAt: '2026-11-30T09:10:00.000Z' }),
      },
    ),
    record(
      '300',
      'INSERT',
      { pk: 'TENANT#acme', sk: 'BROADCAST#brd_C' },
      { new: broadcast('brd_C', 'queued') },
    ),
  ];
  const counters = {
    totals: async () => ({ statuses: { delivered: 1, failed: 1 } }) as never,
  };

  it('puts every event, a finished broadcast with its counts as the API shows them', async () => {
    const target = bus(() => false);
    const summary = await createEventPublication({ publisher: target, counters, logger: silent })(records);
    expect(summary.batchItemFailures).toEqual([]);
    expect(target.taken.map((e) => `${e.type} ${brdOf(e)}`)).toEqual([
      'broadcast.created brd_A',
      'broadcast.completed brd_B',
      'broadcast.created brd_C',
    ]);
    expect(target.taken[1]?.detail).toMatchObject({ counts: { delivered: 1, failed: 1, pending: 0 } });
    expect(summary.byType).toEqual({ 'broadcast.created': 2, 'broadcast.completed': 1 });
  });

  it('names the first record whose events the bus refused, so the stream delivers it and the rest again', async () => {
    const target = bus((e) => brdOf(e) === 'brd_B');
    const summary = await createEventPublication({ publisher: target, counters, logger: silent })(records);
    expect(summary.batchItemFailures).toEqual([{ itemIdentifier: '200' }]);
  });

  it('fails the record whose final counts cannot be read, not the batch before it', async () => {
    const target = bus(() => false);
    const summary = await createEventPublication({
      publisher: target,
      counters: {
        totals: async () => {
          throw new Error('ProvisionedThroughputExceededException');
        },
      },
      logger: silent,
    })(records);
    expect(summary.batchItemFailures).toEqual([{ itemIdentifier: '200' }]);
    expect(target.taken.map((e) => brdOf(e))).toEqual(['brd_A', 'brd_C']);
  });

  it('passes over a record that cannot be an event (a broadcast item written by hand), logging it', async () => {
    const errors: unknown[] = [];
    const target = bus(() => false);
    const broken = record(
      '050',
      'INSERT',
      { pk: 'TENANT#acme', sk: 'BROADCAST#brd_X' },
      { new: { ...broadcast('brd_X', 'queued'), totalRecipients: -5 } },
    );
    const summary = await createEventPublication({
      publisher: target,
      counters,
      logger: { ...silent, error: (...args: unknown[]) => errors.push(args) } as HandlerLogger,
    })([broken, ...records]);
    expect(summary.batchItemFailures).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(target.taken).toHaveLength(3);
  });
});
