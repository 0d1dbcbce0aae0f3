import { FINAL_BROADCAST_STATUSES } from './format.ts';

/** Polling while a broadcast runs, and for this long after it turns final (late callbacks). */
export const LIVE_POLL_MS = 2000;
export const SETTLE_GRACE_MS = 30_000;
/** After that: status callbacks (delivered, read, a late failure) still arrive for a long time. */
export const FINAL_POLL_MS = 15_000;

/**
 * How often a broadcast's page reloads it. A broadcast is final once no recipient is pending, queued
 * or sending, but its counts keep moving: they follow the ledger 1–3 s late (README, "Counts lag the
 * ledger"), and a `sent` message is later delivered, read or failed by its callbacks. So: every 2 s
 * while running and for 30 s after it turns final, then every 15 s.
 */
export class SettleWatch {
  private finalSince: number | undefined;
  private readonly now: () => number;
  constructor(now: () => number = Date.now) {
    this.now = now;
  }
  pollMs(status: string | undefined): number {
    if (!status || !FINAL_BROADCAST_STATUSES.has(status)) {
      this.finalSince = undefined;
      return LIVE_POLL_MS;
    }
    this.finalSince ??= this.now();
    return this.now() - this.finalSince < SETTLE_GRACE_MS ? LIVE_POLL_MS : FINAL_POLL_MS;
  }
}
