import { describe, expect, it } from 'vitest';
import { parseCreateBroadcast } from '../../functions/core/broadcast-request.ts';
import { contribution, deltasOf, totalsOf } from '../../functions/core/count-deltas.ts';
import { ApiError } from '../../functions/core/errors.ts';
import {
  HOUR_MS,
  hourOf,
  LimitBooker,
  mergeBook,
  WINDOW_HOURS,
} from '../../functions/core/messaging-limit.ts';
import { inQuietSpan, localMinuteOfDay, quietUntil } from '../../functions/core/quiet-hours.ts';
import {
  countsTowardLimits,
  frequencyCapReached,
  recordsSendHistory,
  timeSends,
} from '../../functions/core/send-timing.ts';

const NIGHT = { start: '21:00', end: '08:00' };

describe('quiet hours', () => {
  it('a span across midnight: 21:00 and 02:00 are inside, 08:00 and 20:59 are not', () => {
    const at = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
    expect(inQuietSpan(at('21:00'), NIGHT)).toBe(true);
    expect(inQuietSpan(at('02:00'), NIGHT)).toBe(true);
    expect(inQuietSpan(at('07:59'), NIGHT)).toBe(true);
    expect(inQuietSpan(at('08:00'), NIGHT)).toBe(false);
    expect(inQuietSpan(at('20:59'), NIGHT)).toBe(false);
    // A span within one day.
    expect(inQuietSpan(at('13:30'), { start: '13:00', end: '14:00' })).toBe(true);
    expect(inQuietSpan(at('14:00'), { start: '13:00', end: '14:00' })).toBe(false);
  });

  it('local time is the zone’s: 19:00 UTC is 22:00 in Nairobi, 14:00 in New York (winter)', () => {
    const at = new Date('2026-11-30T19:00:00Z');
    expect(localMinuteOfDay(at, 'Africa/Nairobi')).toBe(22 * 60);
    expect(localMinuteOfDay(at, 'America/New_York')).toBe(14 * 60);
  });

  it('a recipient inside waits until 08:00 their time, the next morning; outside: no wait', () => {
    const at = new Date('2026-11-30T19:00:00Z');
    expect(quietUntil(at, 'Africa/Nairobi', NIGHT)?.toISOString()).toBe('2026-12-01T05:00:00.000Z');
    expect(quietUntil(at, 'America/New_York', NIGHT)).toBeUndefined();
    // After midnight, the same morning.
    expect(quietUntil(new Date('2026-11-30T23:30:00Z'), 'Africa/Nairobi', NIGHT)?.toISOString()).toBe(
      '2026-12-01T05:00:00.000Z',
    );
  });

  it('across a DST change: 08:00 in New York on the day clocks go back is 13:00 UTC, not 12:00', () => {
    // 2026-11-01 02:00 EDT → 01:00 EST; 08:00 that morning is EST (UTC−5).
    const at = new Date('2026-11-01T04:30:00Z'); // 00:30 EDT, inside
    expect(quietUntil(at, 'America/New_York', NIGHT)?.toISOString()).toBe('2026-11-01T13:00:00.000Z');
  });
});

describe('frequency cap', () => {
  const cap = { max: 2, days: 7 };
  const now = new Date('2026-11-30T10:00:00Z');
  it('the 3rd message within 7 days is one too many; allowed again once the oldest is 7 days old', () => {
    const sends = ['2026-11-24T10:00:01Z', '2026-11-28T10:00:00Z'];
    expect(frequencyCapReached(sends.slice(0, 1), now, cap)).toBe(false);
    expect(frequencyCapReached(sends, now, cap)).toBe(true);
    expect(frequencyCapReached(sends, new Date('2026-12-01T10:00:01Z'), cap)).toBe(false);
  });
  it('test sends never count toward caps or the limit; every other broadcast does', () => {
    expect(countsTowardLimits({ test: true })).toBe(false);
    expect(countsTowardLimits({ test: false })).toBe(true);
    expect(countsTowardLimits({ broadcastId: 'brd_1' })).toBe(true);
  });

  it("what goes into the history: campaigns' runs, capped broadcasts, all under a limit; never a test", () => {
    expect(recordsSendHistory({ broadcastId: 'brd_1' })).toBe(false);
    expect(recordsSendHistory({ campaign: { campaignId: 'cmp_1' } })).toBe(true);
    expect(recordsSendHistory({ frequencyCap: { max: 1, days: 7 } })).toBe(true);
    expect(recordsSendHistory({ recordsHistory: true })).toBe(true);
    expect(recordsSendHistory({ recordsHistory: true, campaign: {}, test: true })).toBe(false);
  });

  it('a planned message that still waits counts too', () => {
    expect(frequencyCapReached(['2026-11-29T10:00:00Z', '2026-12-01T06:00:00Z'], now, cap)).toBe(true);
  });
});

describe('the messaging-limit book', () => {
  const now = Date.parse('2026-11-30T10:15:00Z');
  it('books up to the limit in any window, then the first hour a window frees', () => {
    const booker = new LimitBooker({}, 3, now);
    const hour = hourOf(now);
    for (let n = 0; n < 3; n++) {
      expect(booker.firstFree(hour)).toBe(hour);
      booker.book(hour);
    }
    // Every window that contains `hour` is full: the next room is after WINDOW_HOURS.
    expect(booker.firstFree(hour)).toBe(hour + WINDOW_HOURS);
    expect(booker.added()).toEqual({ [String(hour)]: 3 });
  });

  it('a booking made earlier by another broadcast takes room: only what remains is now', () => {
    const hour = hourOf(now);
    const booker = new LimitBooker({ [String(hour - 5)]: 2 }, 3, now);
    expect(booker.firstFree(hour)).toBe(hour);
    booker.book(hour);
    expect(booker.firstFree(hour)).toBe(hour - 5 + WINDOW_HOURS);
  });

  it('whatever the order and the earlier bookings, no window of 26 hours ever holds more than the limit', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 20; round++) {
      const limit = 1 + Math.floor(random() * 50);
      const hour = hourOf(now);
      const book: Record<string, number> = {};
      // Earlier bookings that respect the limit: a few people in some of the last 26 hours.
      let earlier = 0;
      for (let h = hour - WINDOW_HOURS + 1; h <= hour && earlier < limit; h++)
        if (random() < 0.3) {
          const n = Math.min(limit - earlier, 1 + Math.floor(random() * 3));
          book[String(h)] = n;
          earlier += n;
        }
      const people = Array.from({ length: 1 + Math.floor(random() * 200) }, (_, index) => ({
        index,
        timeZone: 'UTC',
        ...(random() < 0.3 ? { lastLimitHour: hour - Math.floor(random() * 30) } : {}),
      }));
      const timing = timeSends(people, {
        now: new Date(now),
        messagingLimit: limit,
        book,
        senderMps: 80,
      });
      const all = mergeBook(book, timing.booked, now);
      const hours = Object.keys(all).map(Number);
      for (let end = Math.min(...hours); end <= Math.max(...hours) + WINDOW_HOURS; end++) {
        let sum = 0;
        for (let h = end - WINDOW_HOURS + 1; h <= end; h++) sum += all[String(h)] ?? 0;
        expect(sum).toBeLessThanOrEqual(limit);
      }
      // Everyone is sent at an hour they were booked for (or counted already).
      for (const time of timing.times.values()) expect(time.limitHour).toBeDefined();
    }
  });

  it('merging drops hours no window can reach any more', () => {
    const hour = hourOf(now);
    expect(
      mergeBook({ [String(hour - 40)]: 9, [String(hour - 1)]: 1 }, { [String(hour - 1)]: 2 }, now),
    ).toEqual({
      [String(hour - 1)]: 3,
    });
  });
});

describe('timing a broadcast', () => {
  const now = new Date('2026-11-30T19:00:00Z'); // 22:00 in Nairobi, 14:00 in New York
  it('quiet hours in two zones: New York now, Nairobi waits until 08:00 there; the figures say so', () => {
    const timing = timeSends(
      [
        { index: 0, timeZone: 'America/New_York' },
        { index: 1, timeZone: 'Africa/Nairobi' },
      ],
      { now, quietHours: NIGHT, book: {}, senderMps: 80 },
    );
    expect(timing.times.get(0)).toEqual({});
    expect(timing.times.get(1)).toEqual({
      notBefore: new Date('2026-12-01T05:00:00Z'),
      waitReason: 'quiet_hours',
    });
    expect(timing.waiting).toEqual({ quiet_hours: 1, messaging_limit: 0 });
    expect(timing.waitingUntil?.toISOString()).toBe('2026-12-01T05:00:00.000Z');
    expect(timing.estimatedFinishAt.getTime()).toBe(Date.parse('2026-12-01T05:00:00Z') + 13);
  });

  it('a big broadcast started just before quiet hours: those the sender reaches after 21:00 wait', () => {
    const recipients = Array.from({ length: 200 }, (_, index) => ({ index, timeZone: 'UTC' }));
    const timing = timeSends(recipients, {
      now: new Date('2026-11-30T20:59:58Z'),
      quietHours: NIGHT,
      book: {},
      senderMps: 80,
    });
    // 80 a second: the first 160 go before 21:00, the other 40 wait until 08:00.
    expect(timing.waiting.quiet_hours).toBe(40);
    expect(timing.times.get(159)).toEqual({});
    expect(timing.times.get(160)?.notBefore?.toISOString()).toBe('2026-12-01T08:00:00.000Z');
  });

  it('a limit of 250 splits 400 people over two days: 250 now, 150 when the window frees', () => {
    const recipients = Array.from({ length: 400 }, (_, index) => ({ index, timeZone: 'UTC' }));
    const timing = timeSends(recipients, { now, messagingLimit: 250, book: {}, senderMps: 80 });
    const later = [...timing.times.values()].filter((t) => t.notBefore);
    expect(later).toHaveLength(150);
    const release = (hourOf(now.getTime()) + WINDOW_HOURS) * HOUR_MS;
    expect(new Set(later.map((t) => t.notBefore?.getTime()))).toEqual(new Set([release]));
    expect(later.every((t) => t.waitReason === 'messaging_limit')).toBe(true);
    expect(timing.waiting).toEqual({ quiet_hours: 0, messaging_limit: 150 });
    expect(timing.booked).toEqual({
      [String(hourOf(now.getTime()))]: 250,
      [String(hourOf(release))]: 150,
    });
    expect(timing.estimatedFinishAt.getTime()).toBe(release + Math.ceil((150 / 80) * 1000));
  });

  it('a person booked this hour already counts once: nothing more is booked for them', () => {
    const hour = hourOf(now.getTime());
    const timing = timeSends([{ index: 0, timeZone: 'UTC', lastLimitHour: hour }], {
      now,
      messagingLimit: 1,
      book: { [String(hour)]: 1 },
      senderMps: 80,
    });
    expect(timing.times.get(0)).toEqual({ limitHour: hour });
    expect(timing.booked).toEqual({});
  });

  it('a person booked 10 hours ago goes now, their presence carried into the next windows', () => {
    const hour = hourOf(now.getTime());
    const timing = timeSends([{ index: 0, timeZone: 'UTC', lastLimitHour: hour - 10 }], {
      now,
      messagingLimit: 5,
      book: { [String(hour - 10)]: 5 },
      senderMps: 80,
    });
    expect(timing.times.get(0)).toEqual({ limitHour: hour - 10 + WINDOW_HOURS });
    expect(timing.booked).toEqual({ [String(hour - 10 + WINDOW_HOURS)]: 1 });
  });

  it('more than 28 days of pacing is refused with what to do', () => {
    const recipients = Array.from({ length: 30 }, (_, index) => ({ index, timeZone: 'UTC' }));
    expect(() => timeSends(recipients, { now, messagingLimit: 1, book: {}, senderMps: 80 })).toThrow(
      /messagingLimit would spread this broadcast over more than 28 days/,
    );
  });
});

describe('waiting recipients in the counters', () => {
  it('count as waiting by reason, not as pending retries, and leave the count when released', () => {
    const waiting = { status: 'queued', nextRetryAt: '2026-12-01T05:00:00Z', waitReason: 'quiet_hours' };
    expect(contribution(waiting)).toEqual({ c_queued: 1, w_quiet_hours: 1 });
    expect(deltasOf({ eventName: 'INSERT', newImage: waiting })).toEqual({ w_quiet_hours: 1 });
    expect(deltasOf({ eventName: 'MODIFY', oldImage: waiting, newImage: { status: 'queued' } })).toEqual({
      w_quiet_hours: -1,
    });
    expect(totalsOf([{ w_quiet_hours: 2, w_messaging_limit: 1 }]).waiting).toEqual({
      quiet_hours: 2,
      messaging_limit: 1,
    });
  });
});

describe('the request fields', () => {
  const body = {
    template: { contentSid: 'HX0123456789abcdef0123456789abcdef' },
    recipients: ['+254712000001'],
  };
  const parse = (extra: object) => parseCreateBroadcast({ ...body, ...extra }, { maxRecipients: 10 });
  const pathsOf = (extra: object) => {
    try {
      parse(extra);
      return [];
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      return ((error as ApiError).details ?? []).map((d) => d.path);
    }
  };
  it('accepts quiet hours across midnight and a cap', () => {
    expect(parse({ quietHours: NIGHT, frequencyCap: { max: 2, days: 7 } })).toMatchObject({
      quietHours: NIGHT,
      frequencyCap: { max: 2, days: 7 },
    });
  });
  it('refuses what cannot be meant, naming the field', () => {
    expect(pathsOf({ quietHours: { start: '25:00', end: '08:00' } })).toEqual(['quietHours.start']);
    expect(pathsOf({ quietHours: { start: '9:00', end: '08:00' } })).toEqual(['quietHours.start']);
    expect(pathsOf({ quietHours: { start: '08:00', end: '08:00' } })).toEqual(['quietHours.end']);
    expect(pathsOf({ frequencyCap: { max: 0, days: 7 } })).toEqual(['frequencyCap.max']);
    expect(pathsOf({ frequencyCap: { max: 2, days: 31 } })).toEqual(['frequencyCap.days']);
    expect(pathsOf({ frequencyCap: { max: 2 } })).toEqual(['frequencyCap.days']);
  });
});
