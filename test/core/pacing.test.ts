import { describe, expect, it } from 'vitest';
import {
  BOOKING_LEAD_MS,
  effectiveMps,
  foundSenderBusy,
  GATHER_MARGIN_MS,
  type Pace,
  RATE_HEADROOM,
  SenderPacer,
  slotIntervalMs,
  slowedMps,
} from '../../functions/core/pacing.ts';
import type { PaceState, SenderSchedule } from '../../functions/core/ports.ts';

/** The schedule's contract, in memory: a virtual clock per sender (the DynamoDB one is tested against DynamoDB Local). */
class MemorySchedule implements SenderSchedule {
  next = new Map<string, number>();
  state: PaceState = {};
  bookings: number[] = [];
  async book(sender: string, r: { count: number; intervalMs: number; nowMs: number; horizonMs: number }) {
    this.bookings.push(r.count);
    const start = Math.max(this.next.get(sender) ?? 0, r.nowMs);
    if (start + r.count * r.intervalMs > r.nowMs + r.horizonMs && start > r.nowMs)
      return { booked: false as const, nextFreeAt: start, state: this.state };
    this.next.set(sender, start + r.count * r.intervalMs);
    return { booked: true as const, firstSlotAt: start, state: this.state };
  }
  cuts = 0;
  async cut(_sender: string, { cutMps, nowMs, seen }: { cutMps: number; nowMs: number; seen: PaceState }) {
    if (this.state.cutAt !== seen.cutAt) return { cut: false, state: this.state };
    this.cuts++;
    this.state = { cutMps, cutAt: nowMs };
    return { cut: true, state: this.state };
  }
}

describe('pacing arithmetic', () => {
  it('paces a little under the limit', () => {
    expect(slotIntervalMs(50)).toBeCloseTo(1000 / (50 * RATE_HEADROOM));
    expect(1000 / slotIntervalMs(80)).toBeLessThan(80);
    expect(1000 / slotIntervalMs(80)).toBeGreaterThanOrEqual(76);
  });

  it('cuts 10 % on a signal at the full rate and 30 % on one while still climbing back from a cut', () => {
    expect(slowedMps(80, 80)).toBeCloseTo(72);
    expect(slowedMps(80, 76)).toBeCloseTo(53.2);
    expect(slowedMps(1, 1)).toBe(1);
  });

  it('climbs back linearly, 2 % of the configured rate a second: a 10 % cut in 5 s, a 30 % one in 15 s', () => {
    expect(effectiveMps(80, {}, 5_000)).toBe(80);
    const small = { cutMps: 72, cutAt: 1_000 };
    expect(effectiveMps(80, small, 1_000)).toBe(72);
    expect(effectiveMps(80, small, 3_500)).toBeCloseTo(76);
    expect(effectiveMps(80, small, 6_000)).toBe(80);
    const deep = { cutMps: 56, cutAt: 1_000 };
    expect(effectiveMps(80, deep, 8_500)).toBeCloseTo(68);
    expect(effectiveMps(80, deep, 15_999)).toBeLessThan(80);
    expect(effectiveMps(80, deep, 16_000)).toBe(80);
    expect(effectiveMps(80, deep, 60_000)).toBe(80);
  });
});

/** Two containers' pacers of one 40/s sender over one in-memory schedule, on a clock the test moves. */
function twoContainers() {
  const schedule = new MemorySchedule();
  const clock = { now: 0 };
  const options = { configuredMps: 40, blockSize: 1, now: () => clock.now };
  return { schedule, clock, a: new SenderPacer(schedule, options), b: new SenderPacer(schedule, options) };
}

describe('SenderPacer', () => {
  it('coalesces concurrent callers into blocks and gives each its own evenly spaced slot', async () => {
    const schedule = new MemorySchedule();
    const pacer = new SenderPacer(schedule, { configuredMps: 50, blockSize: 10, now: () => 10_000 });
    const paces = await Promise.all(Array.from({ length: 25 }, () => pacer.acquire('whatsapp:+1', 60_000)));
    const slots = paces.map((p) => (p.ok ? p.at : Number.NaN)).sort((a, b) => a - b);
    expect(slots).toHaveLength(25);
    for (let i = 1; i < slots.length; i++)
      expect((slots[i] as number) - (slots[i - 1] as number)).toBeCloseTo(slotIntervalMs(50));
    // 25 callers: one block for the first (alone), then blocks of at most 10.
    expect(schedule.bookings.every((n) => n <= 10)).toBe(true);
    expect(schedule.bookings.reduce((a, b) => a + b, 0)).toBe(25);
    expect(schedule.bookings.length).toBeLessThan(25);
    // Each slot says how far past the earliest start it came (the sends booked before it); past
    // GATHER_MARGIN_MS the sender is busy, and a slot a late send leaves then is capacity lost.
    const earliest = 10_000 + BOOKING_LEAD_MS;
    expect(paces.map((p) => (p.ok ? p.at - (p.behindMs ?? Number.NaN) : Number.NaN))).toEqual(
      paces.map(() => earliest),
    );
    const busy = paces.filter(foundSenderBusy).length;
    expect(busy).toBe(slots.filter((at) => at - earliest > GATHER_MARGIN_MS).length);
    expect(busy).toBeGreaterThan(0);
    expect(busy).toBeLessThan(25);
    expect(foundSenderBusy({ ok: false, retryAfterMs: 5_000 })).toBe(true);
    // Refused with the sender free soon after (a short horizon near an invocation's end): not busy.
    expect(foundSenderBusy({ ok: false, retryAfterMs: BOOKING_LEAD_MS })).toBe(false);
  });

  it('a sender booked well ahead lets a partial block fill before booking it: one write for callers who trickle in', async () => {
    const schedule = new MemorySchedule();
    const pacer = new SenderPacer(schedule, { configuredMps: 10, blockSize: 10, now: () => 0 });
    // Ten at once: the first alone (an idle sender waits for nothing), then the nine waiting; a second ahead.
    const first = await Promise.all(Array.from({ length: 10 }, () => pacer.acquire('s', 60_000)));
    expect(schedule.bookings).toEqual([1, 9]);
    // Three more, one by one: they could not go out before the first block ends anyway.
    const later: Promise<Pace>[] = [];
    for (let i = 0; i < 3; i++) {
      later.push(pacer.acquire('s', 60_000));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const paces = await Promise.all(later);
    expect(schedule.bookings).toEqual([1, 9, 3]);
    const lastOfFirst = Math.max(...first.map((p) => (p.ok ? p.at : Number.NaN)));
    expect(paces.map((p) => (p.ok ? Math.round(p.at - lastOfFirst) : Number.NaN))).toEqual(
      [1, 2, 3].map((k) => Math.round(k * slotIntervalMs(10))),
    );
  });

  it('says when the sender is booked beyond the horizon instead of booking', async () => {
    const schedule = new MemorySchedule();
    const pacer = new SenderPacer(schedule, { configuredMps: 1, blockSize: 1, now: () => 0 });
    expect(await pacer.acquire('s', 5_000)).toMatchObject({ ok: true, at: BOOKING_LEAD_MS });
    for (let i = 0; i < 4; i++) await pacer.acquire('s', 5_000);
    const refused = await pacer.acquire('s', 5_000);
    expect(refused.ok).toBe(false);
    expect(refused.ok ? 0 : refused.retryAfterMs).toBeGreaterThan(4_000);
  });

  it('a slow-down cuts the rate for the next bookings, once per burst of 429s, deeper when they repeat', async () => {
    const schedule = new MemorySchedule();
    let now = 0;
    const pacer = new SenderPacer(schedule, { configuredMps: 40, blockSize: 1, now: () => now });
    await Promise.all([pacer.slowDown('s'), pacer.slowDown('s'), pacer.slowDown('s')]);
    expect(schedule.state).toEqual({ cutMps: 36, cutAt: 0 });
    expect(schedule.cuts).toBe(1);
    const a = await pacer.acquire('s', 60_000);
    const b = await pacer.acquire('s', 60_000);
    expect(a.ok && b.ok && b.at - a.at).toBeCloseTo(slotIntervalMs(36));
    // Another burst 2 s on, the rate still climbing back (36 + 2 × 0.8 = 37.6): a limit below 40.
    now = 2_000;
    await pacer.slowDown('s');
    expect(schedule.state.cutMps).toBeCloseTo(37.6 * 0.7);
    expect(schedule.state.cutAt).toBe(2_000);
    // Climbed back in full (26.32 → 40 takes 17.1 s): a signal then is a crowded second again.
    now = 20_000;
    await pacer.acquire('s', 60_000);
    await pacer.slowDown('s');
    expect(schedule.state).toEqual({ cutMps: 36, cutAt: 20_000 });
  });

  it('a signal from a send paced before the last cut is already answered: only sends paced after it can repeat', async () => {
    const schedule = new MemorySchedule();
    let now = 0;
    const pacer = new SenderPacer(schedule, { configuredMps: 40, blockSize: 1, now: () => now });
    const early = await pacer.acquire('s', 60_000);
    now = 500;
    await pacer.slowDown('s', early.ok ? early.pacedMps : undefined);
    expect(schedule.state).toEqual({ cutMps: 36, cutAt: 500 });
    // 2 s on, a 429 of a send paced at 40/s, booked before that cut (the schedule was booked ahead).
    now = 2_500;
    await pacer.slowDown('s', early.ok ? early.pacedMps : undefined);
    expect(schedule.cuts).toBe(1);
    // One paced since, at 37.6/s: the limit is lower than that too, and the cut goes deeper.
    const later = await pacer.acquire('s', 60_000);
    await pacer.slowDown('s', later.ok ? later.pacedMps : undefined);
    expect(schedule.cuts).toBe(2);
    expect(schedule.state.cutMps).toBeCloseTo((36 + 2 * 0.8) * 0.7);
  });

  it("a container that books at the old rate after another's cut does not take its own 429 for a repeat", async () => {
    const { schedule, clock, a, b } = twoContainers();
    await b.acquire('s', 60_000);
    clock.now = 100;
    await a.slowDown('s'); // 40 → 36
    clock.now = 200;
    const stale = await b.acquire('s', 60_000); // b has not learned the cut yet: paced at 40/s
    expect(stale.ok && stale.pacedMps).toBe(40);
    clock.now = 1_500;
    await b.slowDown('s', stale.ok ? stale.pacedMps : undefined);
    expect(schedule.cuts).toBe(1);
  });

  it("a container whose cut is refused for another's paces at the stored cut, not at its own", async () => {
    const { schedule, clock, a, b } = twoContainers();
    await a.slowDown('s'); // 40 → 36
    clock.now = 500;
    await b.slowDown('s'); // b knew no cut: refused, and the stored one (half a second old) answers it
    expect(schedule.cuts).toBe(1);
    const first = await b.acquire('s', 60_000);
    const second = await b.acquire('s', 60_000);
    // The first block's spacing is b's view before any booking: the stored cut, climbing (36.4/s).
    expect(first.ok && second.ok && second.at - first.at).toBeCloseTo(slotIntervalMs(36.4));
  });

  it('a container that has not booked since another cut judges its signal from the stored cut', async () => {
    const { schedule, clock, a, b } = twoContainers();
    await a.slowDown('s'); // 40 → 36
    clock.now = 2_000;
    await a.slowDown('s'); // a repeat: 37.6 → 26.32
    clock.now = 3_000;
    // b has seen neither cut: judged from its own view it would cut 10 % from 40, raising the rate to 36.
    await b.slowDown('s');
    expect(schedule.state.cutAt).toBe(3_000);
    expect(schedule.state.cutMps).toBeCloseTo((26.32 + 0.8) * 0.7);
  });

  it("a booking's answer that arrives after a cut, with the item as it was before it, does not undo the cut here", async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A booking whose write lands before the cut but whose answer comes after the cut's.
    class SlowAnswers extends MemorySchedule {
      override async book(
        sender: string,
        r: { count: number; intervalMs: number; nowMs: number; horizonMs: number },
      ) {
        const answer = await super.book(sender, r);
        await gate;
        return answer;
      }
    }
    const schedule = new SlowAnswers();
    let now = 0;
    const pacer = new SenderPacer(schedule, { configuredMps: 40, blockSize: 1, now: () => now });
    const pending = pacer.acquire('s', 60_000);
    await new Promise((resolve) => setImmediate(resolve));
    await pacer.slowDown('s'); // 40 → 36, stored and learned
    release();
    await pending; // answers with the state from before the cut
    now = 100;
    const first = await pacer.acquire('s', 60_000);
    const second = await pacer.acquire('s', 60_000);
    expect(first.ok && second.ok && second.at - first.at).toBeCloseTo(slotIntervalMs(36.08));
  });

  it('one stray 429 at the full rate costs a sender at 80/s about 19 slots, not the 173 of a 30 % cut', async () => {
    // 80/s for 25 s (a broadcast of 2,000), one signal at 5 s: the slots booked against none.
    const slotsIn = async (signalAt?: number) => {
      const schedule = new MemorySchedule();
      let now = 0;
      const pacer = new SenderPacer(schedule, { configuredMps: 80, blockSize: 1, now: () => now });
      let slots = 0;
      while (now < 25_000) {
        if (signalAt !== undefined && now >= signalAt && schedule.state.cutAt === undefined)
          await pacer.slowDown('s');
        const pace = await pacer.acquire('s', 60_000);
        if (!pace.ok) throw new Error('not booked');
        // The next booking while this slot is still ahead: a busy sender, slots back to back.
        now = pace.at - BOOKING_LEAD_MS - 10;
        slots++;
      }
      return slots;
    };
    const lost = (await slotsIn()) - (await slotsIn(5_000));
    // 10 % of 76.8/s, recovered linearly over 5 s: 19 slots (a 30 % cut over 15 s was 173).
    expect(lost).toBeGreaterThanOrEqual(17);
    expect(lost).toBeLessThanOrEqual(21);
  });
});
