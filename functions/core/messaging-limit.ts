/**
 * Meta's messaging limit, as a book of the tenant's sends by hour.
 *
 * Meta: "Messaging limits are the maximum number of unique WhatsApp user phone numbers your business
 * can deliver messages to, outside of a customer service window, within a moving 24-hour period";
 * portfolios start at 250 and grow to 2,000, 10,000, 100,000, then unlimited
 * (https://developers.facebook.com/documentation/business-messaging/whatsapp/messaging-limits; the
 * 1,000 tier of TWILIO.md was replaced by 2,000 when limits moved to the business portfolio on
 * 2025-10-07). Over it, Twilio fails the message with 63018 (WhatsApp's 429/471; Twilio's
 * error-code mapping, https://www.twilio.com/docs/whatsapp/api/error-code-mapping).
 *
 * The book counts, per hour (epoch hours), the unique people whose first message in a window is sent
 * in that hour. A person booked in hour `b` counts in the windows ending in hours `b … b+25`
 * (WINDOW_HOURS): the 24 hours of Meta's window, one more because a message booked in an hour may go
 * at its end, and one more for the sending of a big broadcast to run past its hour (100,000 recipients
 * take about 21 minutes at 80 per second). So the book never lets a moving 24 hours see more than the
 * limit; it gives up at most two hours of capacity a day for that.
 *
 * A person already booked counts once: a new message in hour `t` to someone last booked in hour `p`
 * needs nothing when `t = p`, and when `t < p + WINDOW_HOURS` a continuation booking in `p +
 * WINDOW_HOURS` (their presence carried into the windows the new message reaches); further apart, a
 * new booking.
 */

export const HOUR_MS = 3_600_000;
/** The hours a booking counts in (see the module comment). */
export const WINDOW_HOURS = 26;
/**
 * The longest a broadcast may be spread over by the limit: a broadcast's stored list is kept 30 days
 * (chunks.ts LIST_RETENTION_DAYS), and its last recipients must still find their values.
 */
export const MAX_PACING_DAYS = 28;

/** Hour index (epoch hours, as text) → people booked in it. */
export type LimitBook = Readonly<Record<string, number>>;

export const hourOf = (ms: number) => Math.floor(ms / HOUR_MS);

/** Placement over a read of the book: what it adds is `added()`, written back by the caller. */
export class LimitBooker {
  readonly #limit: number;
  readonly #counts = new Map<number, number>();
  readonly #added = new Map<number, number>();
  readonly #full = new Set<number>();
  /** hour → how many more people it takes (worked out when asked, kept until a booking nearby). */
  readonly #room = new Map<number, number>();
  /** hour → an hour at or before the first one from it with room (every hour between is full). */
  readonly #skip = new Map<number, number>();
  readonly #lastHour: number;

  constructor(book: LimitBook, limit: number, nowMs: number) {
    this.#limit = limit;
    for (const [hour, count] of Object.entries(book)) this.#counts.set(Number(hour), count);
    this.#lastHour = hourOf(nowMs) + MAX_PACING_DAYS * 24;
  }

  /** The most people a moving window containing a booking in `hour` already has. */
  #busiest(hour: number): number {
    let busiest = 0;
    for (let end = hour; end < hour + WINDOW_HOURS; end++) {
      let sum = 0;
      for (let h = end - WINDOW_HOURS + 1; h <= end; h++) sum += this.#counts.get(h) ?? 0;
      if (sum > busiest) busiest = sum;
    }
    return busiest;
  }

  /** Whether one more person may be booked in `hour`. */
  fits(hour: number): boolean {
    if (this.#full.has(hour)) return false;
    let room = this.#room.get(hour);
    if (room === undefined) {
      room = this.#limit - this.#busiest(hour);
      this.#room.set(hour, room);
    }
    if (room > 0) return true;
    this.#full.add(hour);
    return false;
  }

  /** The first hour from `hour` with room, or undefined past MAX_PACING_DAYS from now. */
  firstFree(hour: number): number | undefined {
    // Hours only ever fill up: what a search found full is skipped by the next one from there.
    let h = hour;
    while (h <= this.#lastHour) {
      const jump = this.#skip.get(h);
      if (jump !== undefined && jump > h) h = jump;
      else if (this.fits(h)) break;
      else h++;
    }
    if (h > hour) this.#skip.set(hour, h);
    return h <= this.#lastHour ? h : undefined;
  }

  book(hour: number): void {
    // Every window a booking in `hour` counts in contains `hour`: its room falls by exactly one; the
    // neighbours' rooms may or may not, so they are worked out again when asked.
    const room = this.#room.get(hour);
    for (let h = hour - WINDOW_HOURS + 1; h < hour + WINDOW_HOURS; h++) this.#room.delete(h);
    if (room !== undefined) this.#room.set(hour, room - 1);
    this.#counts.set(hour, (this.#counts.get(hour) ?? 0) + 1);
    this.#added.set(hour, (this.#added.get(hour) ?? 0) + 1);
  }

  /** What this placement booked, by hour. */
  added(): Record<string, number> {
    return Object.fromEntries([...this.#added].map(([hour, n]) => [String(hour), n]));
  }
}

/** The book with `added` summed in, hours that no window from `nowMs` on can reach dropped. */
export function mergeBook(book: LimitBook, added: LimitBook, nowMs: number): Record<string, number> {
  const oldest = hourOf(nowMs) - WINDOW_HOURS;
  const merged: Record<string, number> = {};
  for (const source of [book, added])
    for (const [hour, count] of Object.entries(source))
      if (Number(hour) >= oldest) merged[hour] = (merged[hour] ?? 0) + count;
  return merged;
}
