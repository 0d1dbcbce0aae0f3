import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { emptyCounts } from '../../functions/core/counts.ts';
import {
  type DerivedEvent,
  eventsOfChange,
  type FinishedBroadcast,
  type ItemChange,
  withCounts,
} from '../../functions/core/lifecycle-changes.ts';
import {
  eventSchemaFiles,
  LIFECYCLE_EVENT_SCHEMAS,
  LIFECYCLE_EVENT_TYPES,
  type LifecycleEvent,
} from '../../functions/core/lifecycle-events.ts';

const at = new Date('2026-11-30T10:00:00.000Z');
const broadcast = {
  pk: 'TENANT#acme',
  sk: 'BROADCAST#brd_01JDZ8Q7W3K2M5N6P7Q8R9S0T1',
  tenantId: 'acme',
  broadcastId: 'brd_01JDZ8Q7W3K2M5N6P7Q8R9S0T1',
  name: 'November promo',
  status: 'queued',
  createdAt: '2026-11-30T09:00:00.000Z',
  totalRecipients: 3,
  skippedCount: 1,
};
const change = (c: Omit<ItemChange, 'at' | 'pk' | 'sk'> & Partial<ItemChange>): ItemChange => ({
  pk: broadcast.pk,
  sk: broadcast.sk,
  at,
  ...c,
});
const events = (derived: DerivedEvent[]) =>
  derived.map((d) => ('event' in d ? d.event : withCounts(d.finished, emptyCounts())));
const PHONE = '+972501234567';
/** Tenant acme's suppression item for PHONE, as the table keeps it. */
const suppression = (reason: string, detail?: string) => ({
  pk: 'SUPPRESS#acme',
  sk: PHONE,
  tenantId: 'acme',
  phone: PHONE,
  reason,
  ...(detail ? { detail } : {}),
  createdAt: '2026-11-30T09:30:00.000Z',
});
/** What one change of that item means. */
const ofSuppression = (c: Pick<ItemChange, 'eventName' | 'oldImage' | 'newImage'>) =>
  eventsOfChange(change({ ...c, pk: 'SUPPRESS#acme', sk: PHONE }));
const finished = (derived: DerivedEvent[]): FinishedBroadcast => {
  const found = derived.find((d): d is { finished: FinishedBroadcast } => 'finished' in d);
  if (!found) throw new Error('no finished broadcast');
  return found.finished;
};

describe('lifecycle events from item changes', () => {
  it('a broadcast stored is broadcast.created; a campaign run’s broadcast also campaign.run.started', () => {
    const created = events(eventsOfChange(change({ eventName: 'INSERT', newImage: broadcast })));
    expect(created).toEqual([
      {
        type: 'broadcast.created',
        detail: expect.objectContaining({
          tenantId: 'acme',
          broadcastId: broadcast.broadcastId,
          occurredAt: broadcast.createdAt,
          status: 'queued',
          totalRecipients: 3,
          skippedCount: 1,
          test: false,
          eventId: expect.stringMatching(/^evt_[0-9a-f]{32}$/),
        }),
      },
    ]);
    const run = { campaignId: 'cmp_01JDZ8Q7W3K2M5N6P7Q8R9S0T1', scheduledFor: '2026-11-30T09:00:00.000Z' };
    const fromCampaign = events(
      eventsOfChange(change({ eventName: 'INSERT', newImage: { ...broadcast, campaign: run } })),
    );
    expect(fromCampaign.map((e) => e.type)).toEqual(['broadcast.created', 'campaign.run.started']);
    expect(fromCampaign[1]?.detail).toMatchObject({
      ...run,
      broadcastId: broadcast.broadcastId,
      tenantId: 'acme',
    });
  });

  it('the same change always has the same eventId; another completion of the same broadcast another', () => {
    const done = { ...broadcast, status: 'completed', completedAt: '2026-11-30T09:10:00.000Z' };
    const once = finished(
      eventsOfChange(change({ eventName: 'MODIFY', oldImage: broadcast, newImage: done })),
    );
    const again = finished(
      eventsOfChange(change({ eventName: 'MODIFY', oldImage: broadcast, newImage: done })),
    );
    expect(once.detail.eventId).toBe(again.detail.eventId);
    // Reopened by a late failure, then done again: a new completion.
    const later = { ...done, status: 'partial', completedAt: '2026-11-30T09:20:00.000Z' };
    const second = finished(
      eventsOfChange(
        change({ eventName: 'MODIFY', oldImage: { ...done, status: 'running' }, newImage: later }),
      ),
    );
    expect(second.type).toBe('broadcast.completed');
    expect(second.detail.eventId).not.toBe(once.detail.eventId);
    // Created is keyed by the broadcast alone: a created event is never two different ids.
    const a = events(eventsOfChange(change({ eventName: 'INSERT', newImage: broadcast })))[0];
    const b = events(
      eventsOfChange(change({ eventName: 'INSERT', newImage: { ...broadcast, name: 'x' } })),
    )[0];
    expect(a?.detail.eventId).toBe(b?.detail.eventId);
  });

  it('completed and partial are broadcast.completed with the counts given; failed is broadcast.failed', () => {
    const counts = { ...emptyCounts(), delivered: 2, skipped: 1 };
    const completed = withCounts(
      finished(
        eventsOfChange(
          change({
            eventName: 'MODIFY',
            oldImage: { ...broadcast, status: 'running' },
            newImage: { ...broadcast, status: 'completed', completedAt: '2026-11-30T09:10:00.000Z' },
          }),
        ),
      ),
      counts,
    );
    expect(completed).toMatchObject({
      type: 'broadcast.completed',
      detail: {
        status: 'completed',
        counts,
        completedAt: '2026-11-30T09:10:00.000Z',
        occurredAt: '2026-11-30T09:10:00.000Z',
      },
    });
    const failed = finished(
      eventsOfChange(
        change({
          eventName: 'MODIFY',
          oldImage: { ...broadcast, status: 'running' },
          newImage: { ...broadcast, status: 'failed', completedAt: '2026-11-30T09:10:00.000Z' },
        }),
      ),
    );
    expect(failed.type).toBe('broadcast.failed');
  });

  it('paused says when, why and from where; a change that keeps the status is no event', () => {
    const paused = events(
      eventsOfChange(
        change({
          eventName: 'MODIFY',
          oldImage: { ...broadcast, status: 'running' },
          newImage: {
            ...broadcast,
            status: 'paused',
            pausedAt: '2026-11-30T09:05:00.000Z',
            pauseReason: 'canary: failure rate 40 %',
            pausedFrom: 'running',
          },
        }),
      ),
    );
    expect(paused).toEqual([
      {
        type: 'broadcast.paused',
        detail: expect.objectContaining({ pauseReason: 'canary: failure rate 40 %', pausedFrom: 'running' }),
      },
    ]);
    const done = { ...broadcast, status: 'completed', completedAt: '2026-11-30T09:10:00.000Z' };
    expect(
      eventsOfChange(change({ eventName: 'MODIFY', oldImage: done, newImage: { ...done, sweepSince: 'x' } })),
    ).toEqual([]);
    expect(
      eventsOfChange(
        change({ eventName: 'MODIFY', oldImage: broadcast, newImage: { ...broadcast, status: 'running' } }),
      ),
    ).toEqual([]);
  });

  it('a cancel is broadcast.cancelled, once, saying when and from what status, without counts', () => {
    const cancelled = {
      ...broadcast,
      status: 'cancelled',
      cancelledAt: '2026-11-30T09:07:00.000Z',
      completedAt: '2026-11-30T09:07:00.000Z',
      campaign: { campaignId: 'cmp_01JDZ8Q7W3K2M5N6P7Q8R9S0T1', scheduledFor: '2026-11-30T09:00:00Z' },
    };
    const out = events(
      eventsOfChange(
        change({ eventName: 'MODIFY', oldImage: { ...broadcast, status: 'paused' }, newImage: cancelled }),
      ),
    );
    expect(out).toEqual([
      {
        type: 'broadcast.cancelled',
        detail: {
          eventId: expect.stringMatching(/^evt_[0-9a-f]{32}$/),
          tenantId: 'acme',
          occurredAt: '2026-11-30T09:07:00.000Z',
          broadcastId: broadcast.broadcastId,
          name: 'November promo',
          cancelledAt: '2026-11-30T09:07:00.000Z',
          cancelledFrom: 'paused',
          totalRecipients: 3,
          test: false,
          campaignId: 'cmp_01JDZ8Q7W3K2M5N6P7Q8R9S0T1',
        },
      },
    ]);
    // The sends claimed before it settle afterwards, each a change of the item: no second event.
    expect(
      eventsOfChange(
        change({ eventName: 'MODIFY', oldImage: cancelled, newImage: { ...cancelled, sweepSince: 'x' } }),
      ),
    ).toEqual([]);
  });

  it('an opt-out on a tenant’s list is contact.opted_out with the phone masked; a second STOP is none', () => {
    const item = suppression('opt_out_keyword', 'stop');
    const out = events(ofSuppression({ eventName: 'INSERT', newImage: item }));
    expect(out).toEqual([
      {
        type: 'contact.opted_out',
        detail: expect.objectContaining({
          tenantId: 'acme',
          phone: '+********4567',
          reason: 'opt_out_keyword',
          keyword: 'stop',
        }),
      },
    ]);
    expect(JSON.stringify(out)).not.toContain('501234567');
    const again = { ...item, createdAt: '2026-11-30T09:31:00.000Z' };
    expect(ofSuppression({ eventName: 'MODIFY', oldImage: item, newImage: again })).toEqual([]);
    // An admin's suppression turned into the person's own opt-out is one.
    const byAdmin = suppression('admin', 'complained');
    expect(
      events(ofSuppression({ eventName: 'MODIFY', oldImage: byAdmin, newImage: item })).map((e) => e.type),
    ).toEqual(['contact.opted_out']);
    // An admin's own suppression and the sender-wide item are not opt-outs.
    expect(ofSuppression({ eventName: 'INSERT', newImage: byAdmin })).toEqual([]);
    expect(
      eventsOfChange(
        change({ eventName: 'INSERT', pk: 'SUPPRESS#*', sk: PHONE, newImage: { ...item, scope: 'sender' } }),
      ),
    ).toEqual([]);
  });

  it('Twilio’s word that the person unsubscribed or blocked the sender is contact.opted_out with its code, once; lifted, contact.opted_in', () => {
    const item = suppression('provider_error', '21610');
    const out = events(ofSuppression({ eventName: 'INSERT', newImage: item }));
    expect(out).toEqual([
      {
        type: 'contact.opted_out',
        detail: expect.objectContaining({
          tenantId: 'acme',
          phone: '+********4567',
          reason: 'provider_error',
          errorCode: 21610,
          occurredAt: item.createdAt,
        }),
      },
    ]);
    expect(out[0]?.detail).not.toHaveProperty('keyword');
    // A STOP after it: the person is already reported opted out.
    const stop = { ...suppression('opt_out_keyword', 'stop'), createdAt: '2026-11-30T09:40:00.000Z' };
    expect(ofSuppression({ eventName: 'MODIFY', oldImage: item, newImage: stop })).toEqual([]);
    // Lifted (an admin's DELETE, or START): contact.opted_in, the end of that opt-out, naming its reason.
    expect(events(ofSuppression({ eventName: 'REMOVE', oldImage: item }))).toEqual([
      {
        type: 'contact.opted_in',
        detail: expect.objectContaining({ optedOutAt: item.createdAt, optedOutReason: 'provider_error' }),
      },
    ]);
    // A detail that is no error code leaves the code out; the event still goes.
    expect(events(ofSuppression({ eventName: 'INSERT', newImage: { ...item, detail: '0' } }))).toEqual([
      { type: 'contact.opted_out', detail: expect.not.objectContaining({ errorCode: expect.anything() }) },
    ]);
  });

  it('an opt-out removed (START) is contact.opted_in; an admin’s suppression removed is none', () => {
    const item = suppression('opt_out_button');
    expect(events(ofSuppression({ eventName: 'REMOVE', oldImage: item }))).toEqual([
      {
        type: 'contact.opted_in',
        detail: expect.objectContaining({
          tenantId: 'acme',
          phone: '+********4567',
          optedOutAt: item.createdAt,
          optedOutReason: 'opt_out_button',
          occurredAt: at.toISOString(),
        }),
      },
    ]);
    expect(ofSuppression({ eventName: 'REMOVE', oldImage: suppression('admin') })).toEqual([]);
    // Lifted within the opt-out's own second: the stream's time, rounded down, is before the opt-out's.
    const late = { ...item, createdAt: new Date(at.getTime() + 400).toISOString() };
    expect(events(ofSuppression({ eventName: 'REMOVE', oldImage: late }))[0]?.detail).toMatchObject({
      occurredAt: late.createdAt,
    });
  });

  it('an import that finished is import.completed with its counts (or its failure)', () => {
    const job = {
      pk: 'TENANT#acme',
      sk: 'IMPORT#imp_1',
      tenantId: 'acme',
      importId: 'imp_1',
      status: 'running',
      counts: { processedRows: 4, createdCount: 2, updatedCount: 1, duplicateCount: 0, invalidCount: 1 },
      totalRows: 4,
    };
    const base = { pk: job.pk, sk: job.sk };
    const done = events(
      eventsOfChange(
        change({
          ...base,
          eventName: 'MODIFY',
          oldImage: job,
          newImage: { ...job, status: 'completed', completedAt: '2026-11-30T09:40:00.000Z' },
        }),
      ),
    );
    expect(done).toEqual([
      {
        type: 'import.completed',
        detail: expect.objectContaining({
          importId: 'imp_1',
          status: 'completed',
          createdCount: 2,
          invalidCount: 1,
          totalRows: 4,
        }),
      },
    ]);
    const failed = events(
      eventsOfChange(
        change({
          ...base,
          eventName: 'MODIFY',
          oldImage: job,
          newImage: {
            ...job,
            status: 'failed',
            completedAt: '2026-11-30T09:40:00.000Z',
            failure: { code: 'too_many_rows', message: 'too big' },
          },
        }),
      ),
    );
    expect(failed[0]?.detail).toMatchObject({ status: 'failed', failure: { code: 'too_many_rows' } });
    expect(
      eventsOfChange(
        change({ ...base, eventName: 'MODIFY', oldImage: job, newImage: { ...job, counts: job.counts } }),
      ),
    ).toEqual([]);
  });

  it('every event derived is valid against its own schema (what docs/events publishes)', () => {
    const all: LifecycleEvent[] = events(
      eventsOfChange(change({ eventName: 'INSERT', newImage: broadcast })),
    );
    for (const event of all)
      expect(LIFECYCLE_EVENT_SCHEMAS[event.type].safeParse(event.detail).success).toBe(true);
  });
});

describe('docs/events', () => {
  it('holds the current JSON Schema of every event type (npm run events:schemas regenerates them)', () => {
    const files = eventSchemaFiles();
    expect(files.map((f) => f.file)).toEqual(LIFECYCLE_EVENT_TYPES.map((t) => `${t}.schema.json`));
    for (const { file, text } of files) {
      const committed = readFileSync(
        fileURLToPath(new URL(`../../docs/events/${file}`, import.meta.url)),
        'utf8',
      );
      // Compared as JSON: the committed files are formatted by biome (npm run events:schemas does it).
      expect(JSON.parse(committed), `docs/events/${file} is stale: run npm run events:schemas`).toEqual(
        JSON.parse(text),
      );
    }
  });
});
