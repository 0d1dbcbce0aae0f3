import { ApiError } from './errors.ts';
import {
  HOUR_MS,
  hourOf,
  type LimitBook,
  LimitBooker,
  MAX_PACING_DAYS,
  WINDOW_HOURS,
} from './messaging-limit.ts';
import { type QuietHours, quietUntil } from './quiet-hours.ts';

/**
 * When each recipient of a broadcast may be sent (decided at create, and the same way by the dry run):
 * now, or later because it is inside their quiet hours (core/quiet-hours.ts) or because the tenant's
 * messaging limit is used up until then (core/messaging-limit.ts). A later one waits (`queued`, with
 * its release time) and the retry job releases it when the time comes. And who the frequency cap
 * skips (frequencyCapReached).
 */

/** Why a recipient waits: its quiet hours, or Meta's messaging limit. */
export const WAIT_REASONS = ['quiet_hours', 'messaging_limit'] as const;
export type WaitReason = (typeof WAIT_REASONS)[number];

/** `frequencyCap: { max, days }`: at most `max` messages to a contact in any `days` days. */
export interface FrequencyCap {
  readonly max: number;
  readonly days: number;
}
/** The longest frequency window: the send history keeps this much (and a day more). */
export const MAX_CAP_DAYS = 30;
export const MAX_CAP_MESSAGES = 100;
const DAY_MS = 86_400_000;

/**
 * Whether a message at `at` would be one too many: the contact already has `max` messages (sent or
 * planned, from this tenant's other broadcasts) within the `days` days before it (or after it: a
 * planned one that waits counts too).
 */
export function frequencyCapReached(sends: readonly string[], at: Date, cap: FrequencyCap): boolean {
  const since = at.getTime() - cap.days * DAY_MS;
  let count = 0;
  for (const sent of sends) if (Date.parse(sent) > since) count++;
  return count >= cap.max;
}

/**
 * Whether a broadcast's messages count toward frequency caps and the messaging limit: all but test
 * sends (`test: true`, POST /v1/broadcasts/test-send), which go to a few of the business's own phones.
 */
export function countsTowardLimits(broadcast: object): boolean {
  return !('test' in broadcast && broadcast.test === true);
}

/**
 * Whether a broadcast's messages go into the tenant's send history (what caps and the limit read):
 * a campaign's run (API.md: a cap counts "this tenant's campaigns"), a broadcast with a frequencyCap
 * of its own, and every broadcast of a tenant with a messagingLimit (`recordsHistory`, set at create).
 * A plain one-off send of a tenant that uses neither is not written: one write per recipient saved.
 */
export function recordsSendHistory(broadcast: object): boolean {
  if (!countsTowardLimits(broadcast)) return false;
  return (
    ('campaign' in broadcast && broadcast.campaign !== undefined) ||
    ('frequencyCap' in broadcast && broadcast.frequencyCap !== undefined) ||
    ('recordsHistory' in broadcast && broadcast.recordsHistory === true)
  );
}

/** One recipient to time: its zone (for quiet hours) and the hour it was last booked in, if known. */
export interface TimedRecipient {
  readonly index: number;
  readonly timeZone: string;
  readonly lastLimitHour?: number;
}

/** A recipient's time: absent `notBefore` means now. `limitHour`: where it is booked (none: unlimited). */
export interface SendTime {
  readonly notBefore?: Date;
  readonly waitReason?: WaitReason;
  readonly limitHour?: number;
}

export interface TimingOptions {
  readonly now: Date;
  readonly quietHours?: QuietHours;
  /** Unique people per moving 24 h; undefined: unlimited (nothing is booked). */
  readonly messagingLimit?: number;
  readonly book: LimitBook;
  /** Messages per second of the sender (SENDER_MPS), for the finish estimate. */
  readonly senderMps: number;
}

export interface SendTiming {
  /** By recipient index; only the ones timed. */
  readonly times: ReadonlyMap<number, SendTime>;
  /** Hours booked by this broadcast (written to the tenant's book at create). */
  readonly booked: Record<string, number>;
  readonly waiting: Readonly<Record<WaitReason, number>>;
  /** The latest release time, when anyone waits. */
  readonly waitingUntil?: Date;
  /** When the last message should go: each release time plus its recipients at the sender's rate. */
  readonly estimatedFinishAt: Date;
}

/**
 * Times the recipients in order. Throws ApiError VALIDATION_FAILED (path `messagingLimit`) when the
 * limit would spread them over more than MAX_PACING_DAYS.
 */
export function timeSends(recipients: readonly TimedRecipient[], options: TimingOptions): SendTiming {
  const nowMs = options.now.getTime();
  const booker =
    options.messagingLimit !== undefined
      ? new LimitBooker(options.book, options.messagingLimit, nowMs)
      : undefined;
  const times = new Map<number, SendTime>();
  const waiting: Record<WaitReason, number> = { quiet_hours: 0, messaging_limit: 0 };
  const releases = new Map<number, number>();
  for (const recipient of recipients) {
    // Recipients released at the same time go one after another at the sender's rate: the quiet-hours
    // check looks at when this one should actually go (the 80,000th of a broadcast at 20:50 goes after
    // 21:00), so the figures are right and the send-time check rarely has to hold anyone back.
    const queueDelayMs = (at: number) => Math.floor(((releases.get(at) ?? 0) / options.senderMps) * 1000);
    const time = timeOne(recipient, options, booker, queueDelayMs);
    times.set(recipient.index, time);
    const at = time.notBefore?.getTime() ?? nowMs;
    releases.set(at, (releases.get(at) ?? 0) + 1);
    if (time.waitReason) waiting[time.waitReason]++;
  }
  let finish = nowMs;
  let latest: number | undefined;
  for (const [at, count] of releases) {
    finish = Math.max(finish, at + Math.ceil((count / options.senderMps) * 1000));
    if (at > nowMs) latest = Math.max(latest ?? at, at);
  }
  return {
    times,
    booked: booker?.added() ?? {},
    waiting,
    ...(latest !== undefined ? { waitingUntil: new Date(latest) } : {}),
    estimatedFinishAt: new Date(finish),
  };
}

function timeOne(
  recipient: TimedRecipient,
  options: TimingOptions,
  booker: LimitBooker | undefined,
  queueDelayMs: (at: number) => number,
): SendTime {
  const nowMs = options.now.getTime();
  let at = nowMs;
  let reason: WaitReason | undefined;
  // Each rule may move the time on; the other is checked again at the new time (a few rounds at most).
  for (let round = 0; round < 50; round++) {
    const quiet = options.quietHours
      ? quietUntil(new Date(at + queueDelayMs(at)), recipient.timeZone, options.quietHours)
      : undefined;
    if (quiet) {
      at = quiet.getTime();
      reason = 'quiet_hours';
    }
    if (!booker) return timeOf(at, nowMs, reason);
    const hour = hourOf(at);
    const last = recipient.lastLimitHour;
    if (last !== undefined && hour >= last && hour < last + WINDOW_HOURS) {
      // Counted already in the windows around `last`: nothing more, or its presence carried on.
      if (hour === last) return timeOf(at, nowMs, reason, last);
      if (booker.fits(last + WINDOW_HOURS)) {
        booker.book(last + WINDOW_HOURS);
        return timeOf(at, nowMs, reason, last + WINDOW_HOURS);
      }
    }
    const free = booker.firstFree(hour);
    if (free === undefined)
      throw new ApiError(
        'VALIDATION_FAILED',
        `The tenant's messagingLimit would spread this broadcast over more than ${MAX_PACING_DAYS} days: send it to fewer people, or raise messagingLimit (PUT /v1/settings) once Meta raised your tier.`,
        [{ path: 'messagingLimit', message: `more than ${MAX_PACING_DAYS} days of sending at this limit` }],
      );
    if (free === hour) {
      booker.book(hour);
      return timeOf(at, nowMs, reason, hour);
    }
    at = free * HOUR_MS;
    reason = 'messaging_limit';
  }
  throw new Error('send timing did not settle');
}

function timeOf(at: number, nowMs: number, reason: WaitReason | undefined, limitHour?: number): SendTime {
  return {
    ...(at > nowMs ? { notBefore: new Date(at), ...(reason ? { waitReason: reason } : {}) } : {}),
    ...(limitHour !== undefined ? { limitHour } : {}),
  };
}
