import type { ChunkEntry, PersonHistory, SendHistory } from '../core/ports.ts';
import type { QuietHours } from '../core/quiet-hours.ts';
import {
  type FrequencyCap,
  frequencyCapReached,
  type SendTiming,
  type TimedRecipient,
  timeSends,
} from '../core/send-timing.ts';
import type { SkipReason } from '../core/skips.ts';
import { defaultTimeZone } from '../core/time-zones.ts';
import type { BroadcastPlan } from './plan-broadcast.ts';

/**
 * The timing part of a broadcast's plan, shared by POST /v1/broadcasts and its dry run: who the
 * frequency cap skips, and when each of the others may be sent (quiet hours, the messaging limit).
 * Reads the tenant's send history only when a cap or a limit needs it.
 */
export interface TimingRequest {
  readonly tenantId: string;
  readonly now: Date;
  readonly quietHours?: QuietHours;
  readonly frequencyCap?: FrequencyCap;
  /** The tenant's messagingLimit; undefined: unlimited. */
  readonly messagingLimit?: number;
  readonly senderMps: number;
}

export interface TimedPlan {
  readonly entries: ChunkEntry[];
  readonly skipped: Readonly<Record<SkipReason, number>>;
  readonly timing: SendTiming;
  /** The book's version read (the create writes the book back conditionally on it). */
  readonly bookVersion: number;
  /** Whether a messaging limit applied (its broadcast's messages then go into the send history). */
  readonly limited: boolean;
  readonly book: Record<string, number>;
}

export async function timePlan(
  plan: BroadcastPlan,
  request: TimingRequest,
  history: SendHistory,
): Promise<TimedPlan> {
  const needsHistory = request.frequencyCap !== undefined || request.messagingLimit !== undefined;
  const sending = plan.entries.filter((e) => !e.skipped);
  const [people, read] = await Promise.all([
    needsHistory
      ? history.among(
          request.tenantId,
          sending.map((e) => e.phone),
        )
      : new Map<string, PersonHistory>(),
    request.messagingLimit !== undefined ? history.readBook(request.tenantId) : { book: {}, version: 0 },
  ]);
  const skipped = { ...plan.skipped };
  const capped = new Set<number>();
  if (request.frequencyCap)
    for (const entry of sending)
      if (frequencyCapReached(people.get(entry.phone)?.sends ?? [], request.now, request.frequencyCap)) {
        capped.add(entry.index);
        skipped.frequency_cap++;
      }
  const zoneOf = (entry: ChunkEntry) => plan.timeZones.get(entry.index) ?? defaultTimeZone(entry.phone);
  const timed: TimedRecipient[] = sending
    .filter((e) => !capped.has(e.index))
    .map((e) => {
      const lastLimitHour = people.get(e.phone)?.limitHour;
      return {
        index: e.index,
        timeZone: request.quietHours ? zoneOf(e) : 'UTC',
        ...(lastLimitHour !== undefined ? { lastLimitHour } : {}),
      };
    });
  const timing = timeSends(timed, {
    now: request.now,
    ...(request.quietHours ? { quietHours: request.quietHours } : {}),
    ...(request.messagingLimit !== undefined ? { messagingLimit: request.messagingLimit } : {}),
    book: read.book,
    senderMps: request.senderMps,
  });
  const zones = new Map(timed.map((t) => [t.index, t.timeZone]));
  const entries = plan.entries.map((entry): ChunkEntry => {
    if (capped.has(entry.index)) return { ...entry, skipped: true, skipReason: 'frequency_cap' };
    const time = timing.times.get(entry.index);
    if (!time) return entry;
    const zone = zones.get(entry.index);
    return {
      ...entry,
      ...(time.notBefore ? { notBefore: time.notBefore.toISOString() } : {}),
      ...(time.waitReason ? { waitReason: time.waitReason } : {}),
      ...(time.limitHour !== undefined ? { limitHour: time.limitHour } : {}),
      ...(request.quietHours && zone ? { timeZone: zone } : {}),
    };
  });
  return {
    entries,
    skipped,
    timing,
    bookVersion: read.version,
    book: read.book,
    limited: request.messagingLimit !== undefined,
  };
}
