/**
 * Per-sender rate control (DESIGN.md "Rate per sender"). A WhatsApp sender may send so many
 * messages per second (80 by default at Twilio/Meta); every concurrent send Lambda books its sends
 * from one shared schedule per sender, so together they go out at that rate: no faster (429 and
 * 63018 storms, messages failing in Twilio's queue) and no slower (idle capacity).
 *
 * The schedule is a virtual clock (GCRA): `nextSlotAt` is the earliest free send time. Booking k
 * sends moves it k intervals on and hands back the k slot times, so sends are spaced evenly across
 * all consumers, with one write per block of sends rather than one per message. On a provider
 * rate-limit signal the rate is cut and climbs back linearly (multiplicative decrease, additive
 * increase): by 10 % when the sender was at its full rate (most often one crowded second), by 30 %
 * while it is still climbing back from a cut (a limit lower than configured); once per round of
 * sends, judged from the cut stored on the schedule. So the sender finds its real limit again
 * without a storm, and one stray 429 costs a sender at 80/s about 19 slots, not the 173 a 30 % cut
 * recovered over 15 s did.
 */
import type { PaceState, SenderSchedule } from './ports.ts';

export const DEFAULT_SENDER_MPS = 80;
/** Aim this far under the limit: our clock and the provider's one-second windows disagree by milliseconds. */
export const RATE_HEADROOM = 0.96;
/**
 * After a cut the rate climbs back by this share of the configured rate per second: a 10 % cut of
 * the full rate is recovered in 5 s, a 30 % one in 15 s, a cut from lower than the full rate later.
 */
const RECOVERY_SHARE_PER_SECOND = 0.02;
/** The cut on a signal while the sender paces at its full rate: one crowded second, most often. */
const FIRST_CUT_SHARE = 0.1;
/** The cut on a signal while the sender still climbs back from a cut: its real limit is lower. */
const REPEAT_CUT_SHARE = 0.3;
/** Cuts closer together than this are one signal (a batch's worth of 429s arrives at once). */
export const CUT_DEBOUNCE_MS = 1_000;
const MIN_MPS = 1;
/**
 * Slots are booked at least this far ahead: the booking's own round trip (and the claim before it)
 * must not make the first slot of an idle sender late, or it would land next to the second.
 */
export const BOOKING_LEAD_MS = 50;
/**
 * The longest a send waits in its Lambda for a booked slot (it goes back on the queue instead). A
 * claim is made once its slot is booked and learns of a cancel or pause only at that slot, so this
 * also bounds how long a stopped broadcast's claims can stay `sending` unsent.
 */
export const MAX_PACING_WAIT_MS = 10_000;

/**
 * The rate to pace at now (messages/s): the configured one, or on its way back to it after a cut,
 * climbing RECOVERY_SHARE_PER_SECOND of the configured rate each second.
 */
export function effectiveMps(configuredMps: number, state: PaceState, nowMs: number): number {
  if (state.cutMps === undefined || state.cutAt === undefined) return configuredMps;
  // A cut stamped by a container whose clock runs ahead applies in full until this clock reaches it.
  const elapsed = Math.max(0, nowMs - state.cutAt);
  const climbed = configuredMps * RECOVERY_SHARE_PER_SECOND * (elapsed / 1000);
  return Math.min(configuredMps, Math.min(state.cutMps, configuredMps) + climbed);
}

/**
 * The rate after a provider rate-limit signal (messages/s), from the rate paced at when it came
 * (`currentMps`, effectiveMps). At the full rate the signal is most often one crowded second: on
 * the twin, sends the simulator's thread took in a bunch (README "Benchmark and cost"); at Twilio a 429 is
 * never processed and is retried (TWILIO.md), so a 10 % cut. While the rate still climbs back from
 * a cut, the signal repeats: the sender's real limit is lower than configured, so a 30 % cut, and
 * such a limit is found in a few.
 */
export function slowedMps(configuredMps: number, currentMps: number): number {
  const share = currentMps >= configuredMps ? FIRST_CUT_SHARE : REPEAT_CUT_SHARE;
  return Math.max(MIN_MPS, currentMps * (1 - share));
}

/** Milliseconds between two sends of one sender at `mps`, headroom included. */
export function slotIntervalMs(mps: number): number {
  return 1000 / (Math.max(MIN_MPS, mps) * RATE_HEADROOM);
}

/**
 * A booked send slot (epoch ms), or how long until the sender has room again. `behindMs`: how far
 * past the earliest start the booking asked for (BOOKING_LEAD_MS from then) the slot came, i.e. the
 * sends booked before it (0 for an idle sender's first). `pacedMps`: the rate its block was spaced
 * at (messages/s before headroom), which tells a rate-limit signal for it from a repeat.
 */
export type Pace =
  | { readonly ok: true; readonly at: number; readonly behindMs?: number; readonly pacedMps?: number }
  | { readonly ok: false; readonly retryAfterMs: number };

/**
 * Resolves at `at` (epoch ms): the send goes out at its slot, not before. A timer may fire a
 * millisecond before the wall clock reaches it (timers run on the monotonic clock, in whole
 * milliseconds), so it waits again for what is left.
 */
export async function waitUntil(at: number): Promise<void> {
  for (let wait = at - Date.now(); wait > 0; wait = at - Date.now())
    await new Promise((resolve) => setTimeout(resolve, wait));
}

/**
 * Whether a booking found the sender busy: its slot (or, refused, its next free time) more than
 * GATHER_MARGIN_MS past the earliest start. A slot a late send left then lies inside a run of booked
 * sends, so it is capacity lost (MissedSendSlots); while the sender is idle or nearly so, a miss
 * only delays that send.
 */
export function foundSenderBusy(pace: Pace): boolean {
  return pace.ok
    ? (pace.behindMs ?? 0) > GATHER_MARGIN_MS
    : pace.retryAfterMs > BOOKING_LEAD_MS + GATHER_MARGIN_MS;
}

/**
 * While the sender is booked this far ahead (as last seen here), a partial block waits to fill: its
 * sends could not go out sooner anyway, and one write then books several. Waits end this long before
 * the last slot booked here, so the schedule never runs dry on our account.
 */
export const GATHER_MARGIN_MS = 150;
/** The longest a partial block waits for more callers. */
export const GATHER_MAX_MS = 100;

interface Lane {
  readonly waiters: ((pace: Pace | Error) => void)[];
  booking: boolean;
  /** The stored cut as last learned here (SenderPacer.#learn): only ever a newer one replaces it. */
  state: PaceState;
  /** A cut being written from here: the burst's other signals here wait for it, not write again. */
  cutting?: Promise<void> | undefined;
  /** This sender's own rate (messages/s before headroom): each sender paces to its own limit. */
  mps: number;
  /** The end of the last block booked here (epoch ms): how far ahead the sender is booked, at least. */
  bookedUntil: number;
  gathering?: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The per-container side: concurrent callers of one sender are coalesced into blocks booked with
 * one schedule write (a busy sender's block waits briefly to fill), and each gets its own slot time
 * to send at. A caller whose slot would lie
 * beyond the horizon gets `ok: false` (the send task goes back to the queue for that long).
 */
export class SenderPacer {
  readonly #schedule: SenderSchedule;
  readonly #configuredMps: number;
  readonly #blockSize: number;
  readonly #now: () => number;
  readonly #lanes = new Map<string, Lane>();

  constructor(
    schedule: SenderSchedule,
    options: { configuredMps: number; blockSize?: number; now?: () => number },
  ) {
    this.#schedule = schedule;
    this.#configuredMps = options.configuredMps;
    this.#blockSize = Math.max(1, options.blockSize ?? 10);
    this.#now = options.now ?? Date.now;
  }

  /**
   * Books this caller's send slot, or says the sender is booked past `horizonMs`. `mps`: this
   * sender's own rate (a tenant's sender setting); default the configured one.
   */
  async acquire(sender: string, horizonMs: number, mps?: number): Promise<Pace> {
    const lane = this.#lane(sender);
    if (mps !== undefined && mps > 0) lane.mps = mps;
    const pace = await new Promise<Pace | Error>((resolve) => {
      lane.waiters.push(resolve);
      this.#pump(sender, lane, horizonMs);
    });
    if (pace instanceof Error) throw pace;
    return pace;
  }

  /**
   * A 429/20429/63018 from the provider for a send paced at `pacedMps` (Pace's): cut the sender's
   * rate for everyone, once per round of sends. Signals within CUT_DEBOUNCE_MS of a cut are its
   * burst; a send paced faster than the stored cut's rate now went out before that cut took effect
   * (booked before it, or by a container that had not learned it), so its signal is answered too,
   * as in TCP's congestion control. The cut is judged from the stored one (SenderSchedule.cut), not
   * from this container's view, which is only as fresh as its last booking.
   */
  async slowDown(sender: string, pacedMps?: number): Promise<void> {
    const lane = this.#lane(sender);
    if (lane.cutting) return lane.cutting;
    lane.cutting = this.#cut(sender, lane, pacedMps).finally(() => {
      lane.cutting = undefined;
    });
    return lane.cutting;
  }

  async #cut(sender: string, lane: Lane, pacedMps: number | undefined): Promise<void> {
    const now = this.#now();
    const answered = (state: PaceState) =>
      state.cutAt !== undefined &&
      (now - state.cutAt < CUT_DEBOUNCE_MS ||
        (pacedMps !== undefined && pacedMps > effectiveMps(lane.mps, state, now)));
    // Judged once from what this container knew and, if another cut landed meanwhile, once from that.
    let seen = lane.state;
    for (let tries = 0; tries < 2 && !answered(seen); tries++) {
      const cutMps = slowedMps(lane.mps, effectiveMps(lane.mps, seen, now));
      const stored = await this.#schedule.cut(sender, { cutMps, nowMs: now, seen });
      this.#learn(lane, stored.state);
      if (stored.cut) return;
      seen = stored.state;
    }
  }

  /**
   * Takes a stored cut learned from the schedule unless a newer one is known here already: a
   * booking's answer may arrive after a cut's, with the item as it was before it.
   */
  #learn(lane: Lane, state: PaceState): void {
    if ((state.cutAt ?? Number.NEGATIVE_INFINITY) >= (lane.state.cutAt ?? Number.NEGATIVE_INFINITY))
      lane.state = state;
  }

  #lane(sender: string): Lane {
    let lane = this.#lanes.get(sender);
    if (!lane) {
      lane = { waiters: [], booking: false, state: {}, mps: this.#configuredMps, bookedUntil: 0 };
      this.#lanes.set(sender, lane);
    }
    return lane;
  }

  /** Books the waiting callers' block now, or (a partial block of a sender booked well ahead) soon. */
  #pump(sender: string, lane: Lane, horizonMs: number): void {
    if (lane.booking || lane.waiters.length === 0) return;
    const full = lane.waiters.length >= this.#blockSize;
    const gatherMs = Math.min(GATHER_MAX_MS, lane.bookedUntil - GATHER_MARGIN_MS - this.#now());
    if (!full && gatherMs > 0) {
      lane.gathering ??= setTimeout(() => {
        lane.gathering = undefined;
        if (!lane.booking && lane.waiters.length > 0) this.#book(sender, lane, horizonMs);
      }, gatherMs);
      return;
    }
    clearTimeout(lane.gathering);
    lane.gathering = undefined;
    this.#book(sender, lane, horizonMs);
  }

  #book(sender: string, lane: Lane, horizonMs: number): void {
    lane.booking = true;
    const now = this.#now();
    const count = Math.min(this.#blockSize, lane.waiters.length);
    const pacedMps = effectiveMps(lane.mps, lane.state, now);
    const intervalMs = slotIntervalMs(pacedMps);
    const earliest = now + BOOKING_LEAD_MS;
    this.#schedule
      .book(sender, { count, intervalMs, nowMs: earliest, horizonMs })
      .then(
        (result) => {
          this.#learn(lane, result.state);
          if (result.booked) lane.bookedUntil = result.firstSlotAt + count * intervalMs;
          const waiters = lane.waiters.splice(0, count);
          waiters.forEach((resolve, i) => {
            resolve(
              result.booked
                ? {
                    ok: true,
                    at: result.firstSlotAt + i * intervalMs,
                    behindMs: Math.max(0, result.firstSlotAt + i * intervalMs - earliest),
                    pacedMps,
                  }
                : { ok: false, retryAfterMs: Math.max(0, result.nextFreeAt - now) },
            );
          });
        },
        (error: unknown) => {
          for (const resolve of lane.waiters.splice(0, count))
            resolve(error instanceof Error ? error : new Error(String(error)));
        },
      )
      .finally(() => {
        lane.booking = false;
        this.#pump(sender, lane, horizonMs);
      });
  }
}

/**
 * Twilio's answer to a create takes about 150–300 ms (TWILIO.md "Throughput"); at the sender's rate
 * that many sends are in flight at once.
 */
export const PROVIDER_LATENCY_SECONDS = 0.3;

/**
 * Sends of one sender that one send invocation runs at once (SEND_CONCURRENCY). Its time is billed
 * while it waits on Twilio and on the sender's slots, so fewer, busier invocations cost less than
 * many idle ones.
 */
export const SENDS_PER_INVOCATION = 25;

/**
 * Send invocations needed at once for a sender's rate: messages in flight (rate × provider latency)
 * over the sends each invocation runs at once, plus one spare; never below `floor`. 80/s → 2,
 * 400/s → 6, 1,000/s → 13 (at 25 per invocation).
 */
export function sendConcurrencyFor(mps: number, perInvocation = SENDS_PER_INVOCATION, floor = 2): number {
  return Math.max(floor, Math.ceil((mps * PROVIDER_LATENCY_SECONDS) / perInvocation) + 1);
}
