import { describe, expect, it } from 'vitest';
import {
  activityOf,
  addDeltas,
  type CountedImage,
  type CounterDeltas,
  contribution,
  countCorrection,
  deltasOf,
  ledgerCounts,
  type RecipientChange,
  totalsOf,
} from '../../functions/core/count-deltas.ts';
import { FOLLOW_UP_STATUSES } from '../../functions/core/follow-up.ts';
import { RECIPIENT_STATUSES } from '../../functions/core/statuses.ts';

const modify = (oldImage: CountedImage, newImage: CountedImage): RecipientChange => ({
  eventName: 'MODIFY',
  oldImage,
  newImage,
});
const insert = (newImage: CountedImage): RecipientChange => ({ eventName: 'INSERT', newImage });
const RETRY_AT = '2026-11-30T09:45:00.000Z';

describe('contribution: what one recipient adds to its broadcast counters as it is', () => {
  it('its status, once', () => {
    expect(contribution({ status: 'queued' })).toEqual({ c_queued: 1 });
    expect(contribution({ status: 'read' })).toEqual({ c_read: 1 });
    // Not a status (a future value, a typo): counted nowhere, rather than under a made-up name.
    expect(contribution({ status: 'bogus' })).toEqual({});
    expect(contribution({})).toEqual({});
  });

  it('its error code only while it is failed or undelivered', () => {
    expect(contribution({ status: 'failed', errorCode: 63024 })).toEqual({ c_failed: 1, e_63024: 1 });
    expect(contribution({ status: 'undelivered', errorCode: '30003' })).toEqual({
      c_undelivered: 1,
      e_30003: 1,
    });
    // A code left on a recipient that moved on (a late sent after a failure report) is not an error now.
    expect(contribution({ status: 'sent', errorCode: 30003 })).toEqual({ c_sent: 1 });
    expect(contribution({ status: 'failed', errorCode: '' })).toEqual({ c_failed: 1 });
  });

  it('a scheduled retry, the confirmation tap and the follow-up status', () => {
    expect(contribution({ status: 'undelivered', errorCode: 30003, nextRetryAt: RETRY_AT })).toEqual({
      c_undelivered: 1,
      e_30003: 1,
      r_pending: 1,
    });
    expect(
      contribution({ status: 'read', confirmedAt: RETRY_AT, followUp: { status: 'delivered' } }),
    ).toEqual({ c_read: 1, f_confirmed: 1, f_delivered: 1 });
    expect(contribution({ status: 'read', followUp: { status: 'expired' } })).toEqual({
      c_read: 1,
      f_expired: 1,
    });
  });
});

describe('deltasOf: a change adds contribution(after) − contribution(before)', () => {
  it('an INSERT comes from queued: the fan-out counted the recipient queued before its first write', () => {
    expect(deltasOf(insert({ status: 'sending' }))).toEqual({ c_queued: -1, c_sending: 1 });
    // Suppressed at create: written as skipped by the fan-out, which counted it queued with its chunk.
    expect(deltasOf(insert({ status: 'skipped' }))).toEqual({ c_queued: -1, c_skipped: 1 });
    // An INSERT's old image (there is none on the stream) is never read.
    expect(
      deltasOf({ eventName: 'INSERT', oldImage: { status: 'read' }, newImage: { status: 'sending' } }),
    ).toEqual({ c_queued: -1, c_sending: 1 });
  });

  it('a REMOVE changes nothing: retention (TTL) does not rewrite history', () => {
    expect(deltasOf({ eventName: 'REMOVE', oldImage: { status: 'read', confirmedAt: RETRY_AT } })).toEqual(
      {},
    );
  });

  it('a status move, and a write that changes nothing counted (a timestamp, a lease)', () => {
    expect(deltasOf(modify({ status: 'sending' }, { status: 'sent' }))).toEqual({
      c_sending: -1,
      c_sent: 1,
    });
    expect(deltasOf(modify({ status: 'sending' }, { status: 'sending' }))).toEqual({});
    expect(deltasOf(modify({ status: 'sending' }, { status: 'queued' }))).toEqual({
      c_sending: -1,
      c_queued: 1,
    });
  });

  it('a retry scheduled with a transient failure, then consumed by the retry job', () => {
    const failed = { status: 'undelivered', errorCode: 30003, nextRetryAt: RETRY_AT };
    expect(deltasOf(modify({ status: 'sent' }, failed))).toEqual({
      c_sent: -1,
      c_undelivered: 1,
      e_30003: 1,
      r_pending: 1,
    });
    // failed → queued at attempt + 1: the retry, the error and the failure all leave the counts.
    expect(deltasOf(modify(failed, { status: 'queued' }))).toEqual({
      c_undelivered: -1,
      e_30003: -1,
      r_pending: -1,
      c_queued: 1,
    });
    // A cancelled broadcast's retry dropped: only the pending retry goes.
    expect(deltasOf(modify(failed, { status: 'undelivered', errorCode: 30003 }))).toEqual({
      r_pending: -1,
    });
  });

  it('the follow-up fields: the tap, then the follow-up moving on its own ledger', () => {
    expect(
      deltasOf(
        modify({ status: 'read' }, { status: 'read', confirmedAt: RETRY_AT, followUp: { status: 'queued' } }),
      ),
    ).toEqual({ f_confirmed: 1, f_queued: 1 });
    expect(
      deltasOf(
        modify(
          { status: 'read', confirmedAt: RETRY_AT, followUp: { status: 'queued' } },
          { status: 'read', confirmedAt: RETRY_AT, followUp: { status: 'sending' } },
        ),
      ),
    ).toEqual({ f_queued: -1, f_sending: 1 });
  });
});

describe('activityOf: the tenant activity (/v1/metrics) a change is', () => {
  it('sent when a recipient first succeeds in an attempt, failed when it first fails', () => {
    expect(activityOf(insert({ status: 'sending' }))).toBeUndefined();
    expect(activityOf(modify({ status: 'sending' }, { status: 'sent' }))).toBe('sent');
    // The sent callback was lost: delivered is the first success.
    expect(activityOf(modify({ status: 'sending' }, { status: 'delivered' }))).toBe('sent');
    expect(activityOf(modify({ status: 'sent' }, { status: 'delivered' }))).toBeUndefined();
    expect(activityOf(modify({ status: 'sending' }, { status: 'failed' }))).toBe('failed');
    expect(activityOf(insert({ status: 'failed' }))).toBe('failed');
    expect(activityOf(modify({ status: 'sent' }, { status: 'undelivered' }))).toBe('failed');
    expect(activityOf(modify({ status: 'failed' }, { status: 'undelivered' }))).toBeUndefined();
    // The retried attempt is activity of its own.
    expect(activityOf(modify({ status: 'undelivered' }, { status: 'queued' }))).toBeUndefined();
    expect(activityOf(modify({ status: 'sending' }, { status: 'read' }))).toBe('sent');
  });

  it('nothing for skips, REMOVEs and writes that keep the status', () => {
    expect(activityOf(insert({ status: 'skipped' }))).toBeUndefined();
    expect(activityOf({ eventName: 'REMOVE', oldImage: { status: 'read' } })).toBeUndefined();
    expect(activityOf(modify({ status: 'read' }, { status: 'read', confirmedAt: RETRY_AT }))).toBeUndefined();
  });
});

describe('addDeltas and totalsOf', () => {
  it('sums deltas, dropping fields that come to zero', () => {
    const into: CounterDeltas = { c_queued: -1, c_sending: 1 };
    expect(addDeltas(into, { c_sending: -1, c_sent: 1 })).toEqual({ c_queued: -1, c_sent: 1 });
    expect(into).toEqual({ c_queued: -1, c_sent: 1 });
  });

  it('sums counter items by kind, ignoring what is not a counter', () => {
    expect(
      totalsOf([
        { pk: 'BROADCAST#b', sk: 'COUNTS#fanout', c_queued: 5, chunksEnqueued: 1, chunksCounted: 1 },
        { c_queued: -3, c_sent: 2, c_failed: 1, e_63024: 1, r_pending: 0, seq: '00012', tenantId: 't' },
        { c_queued: -1, c_read: 1, f_confirmed: 1, f_sent: 1, r_pending: 1 },
      ]),
    ).toEqual({
      statuses: { queued: 1, sent: 2, failed: 1, read: 1 },
      errors: { '63024': 1 },
      retriesPending: 1,
      waiting: {},
      followUp: { confirmed: 1, sent: 1 },
      chunksEnqueued: 1,
    });
  });
});

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the counting rule, over any history', () => {
  const pick = <T>(random: () => number, items: readonly T[]): T =>
    items[Math.floor(random() * items.length)] as T;

  function randomImage(random: () => number): CountedImage {
    const status = pick(
      random,
      RECIPIENT_STATUSES.filter((s) => s !== 'pending'),
    );
    const errorCode = pick(random, [undefined, undefined, 30003, 63024, '63016', '']);
    const followUp = pick(random, [undefined, undefined, ...FOLLOW_UP_STATUSES]);
    return {
      status,
      ...(errorCode !== undefined ? { errorCode } : {}),
      ...(random() < 0.3 ? { nextRetryAt: RETRY_AT } : {}),
      ...(random() < 0.3 ? { confirmedAt: RETRY_AT } : {}),
      ...(followUp ? { followUp: { status: followUp } } : {}),
    };
  }

  /** One recipient's stream: its first write, changes (some that change nothing counted), maybe a TTL removal. */
  function randomHistory(random: () => number): { changes: RecipientChange[]; last: CountedImage } {
    let image = randomImage(random);
    const changes: RecipientChange[] = [insert(image)];
    const moves = Math.floor(random() * 8);
    for (let n = 0; n < moves; n++) {
      const next = random() < 0.15 ? { ...image } : randomImage(random);
      changes.push(modify(image, next));
      image = next;
    }
    if (random() < 0.2) changes.push({ eventName: 'REMOVE', oldImage: image });
    return { changes, last: image };
  }

  it('summed deltas of every change = the contributions of the final images (each counted queued at fan-out)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed);
      const applied: CounterDeltas = {};
      const expected: CounterDeltas = {};
      const recipients = 1 + Math.floor(random() * 30);
      for (let r = 0; r < recipients; r++) {
        const { changes, last } = randomHistory(random);
        for (const change of changes) {
          const deltas = deltasOf(change);
          // A change moves a recipient between statuses: it never creates or loses one.
          const statusSum = Object.entries(deltas)
            .filter(([field]) => field.startsWith('c_'))
            .reduce((sum, [, value]) => sum + value, 0);
          expect(statusSum, `seed ${seed}`).toBe(0);
          addDeltas(applied, deltas);
        }
        addDeltas(expected, contribution(last));
        addDeltas(expected, { c_queued: -1 }); // the fan-out's count is the starting point, not a change
      }
      expect(applied, `seed ${seed}`).toEqual(expected);
    }
  });
});

describe('ledgerCounts and countCorrection: the recount', () => {
  it('what a shard must hold: each written recipient as a change from queued', () => {
    const recipients: CountedImage[] = [
      { status: 'read' },
      { status: 'failed', errorCode: 63024 },
      { status: 'undelivered', errorCode: 30003, nextRetryAt: '2026-11-30T06:00:00.000Z' },
      { status: 'skipped' },
    ];
    expect(ledgerCounts(recipients)).toEqual({
      c_queued: -4,
      c_read: 1,
      c_failed: 1,
      e_63024: 1,
      c_undelivered: 1,
      e_30003: 1,
      r_pending: 1,
      c_skipped: 1,
    });
    expect(ledgerCounts([])).toEqual({});
  });

  it('the repair is what the ledger says minus what the counters hold, counter fields only', () => {
    const held = {
      pk: 'BROADCAST#b',
      sk: 'COUNTS#S00',
      seq: '00042',
      tenantId: 't',
      c_queued: -2,
      c_sending: 1,
      c_read: 1,
    };
    expect(countCorrection({ c_queued: -2, c_read: 2 }, held)).toEqual({ c_sending: -1, c_read: 1 });
    expect(countCorrection({ c_queued: -2, c_sending: 1, c_read: 1 }, held)).toEqual({});
  });
});
