import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { matchesAnyFilter } from '../lib/local/stream-filter.ts';
import { streamFilterPatterns, topology } from '../lib/topology.ts';

/** A stream record as the Streams API gives it (the twin filters these, as Lambda filters its own). */
const record = (eventName: string, keys: Record<string, string>, newImage?: Record<string, unknown>) => ({
  eventName,
  dynamodb: { Keys: marshall(keys), ...(newImage ? { NewImage: marshall(newImage) } : {}) },
});

describe("the stream consumers' filters (the twin's Lambda event filtering)", () => {
  const consumer = (fn: string) => {
    const found = topology.streamConsumers.find((c) => c.function === fn);
    if (!found) throw new Error(fn);
    return streamFilterPatterns(found);
  };

  it('hands the counts aggregator recipient items only', () => {
    const filters = consumer('aggregateCounts');
    expect(matchesAnyFilter(record('MODIFY', { pk: 'BROADCAST#b#S01', sk: 'R#0000001' }), filters)).toBe(
      true,
    );
    expect(matchesAnyFilter(record('INSERT', { pk: 'TENANT#a', sk: 'BROADCAST#b' }), filters)).toBe(false);
  });

  it('hands the event publisher the changes that can be events, and not the thousands that cannot', () => {
    const filters = consumer('publishEvents');
    const passes = (r: ReturnType<typeof record>) => matchesAnyFilter(r, filters);
    const b = { pk: 'TENANT#acme', sk: 'BROADCAST#brd_1' };
    expect(passes(record('INSERT', b, { status: 'queued' }))).toBe(true);
    expect(passes(record('MODIFY', b, { status: 'completed' }))).toBe(true);
    expect(passes(record('MODIFY', b, { status: 'paused' }))).toBe(true);
    // Progress of a running broadcast (status unchanged), its recipients and counters: not passed.
    expect(passes(record('MODIFY', b, { status: 'running' }))).toBe(false);
    expect(passes(record('MODIFY', { pk: 'BROADCAST#brd_1#S00', sk: 'R#0000001' }, { status: 'sent' }))).toBe(
      false,
    );
    expect(passes(record('MODIFY', { pk: 'BROADCAST#brd_1', sk: 'COUNTS#S00' }))).toBe(false);
    const i = { pk: 'TENANT#acme', sk: 'IMPORT#imp_1' };
    expect(passes(record('MODIFY', i, { status: 'running' }))).toBe(false);
    expect(passes(record('MODIFY', i, { status: 'completed' }))).toBe(true);
    expect(
      passes(record('MODIFY', { pk: 'TENANT#acme', sk: 'IMPORTERRORS#imp_1' }, { status: 'completed' })),
    ).toBe(false);
    expect(passes(record('REMOVE', { pk: 'SUPPRESS#acme', sk: '+972501234567' }))).toBe(true);
    expect(passes(record('INSERT', { pk: 'CONTACT#+972501234567', sk: 'MSG#acme#x' }))).toBe(false);
  });
});
