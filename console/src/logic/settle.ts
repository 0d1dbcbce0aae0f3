import { FINAL_BROADCAST_STATUSES } from './format.ts';

/** How long after a broadcast turns final its page keeps polling when its figures never add up. */
export const SETTLE_GRACE_MS = 30_000;

/** The progress figures agree: nothing pending, and every failure is in the error summary. */
export function progressAddsUp(p: {
  pendingCount: number;
  counts: Record<string, number>;
  errorSummary: readonly { count: number }[];
}): boolean {
  const failures = (p.counts.failed ?? 0) + (p.counts.undelivered ?? 0);
  const explained = p.errorSummary.reduce((sum, e) => sum + e.count, 0);
  return p.pendingCount === 0 && explained >= failures;
}

/**
 * When a final broadcast's page may stop polling: once its figures add up, or SETTLE_GRACE_MS after
 * it was first seen final (a failure without a Twilio code never enters the error summary).
 */
export class SettleWatch {
  private finalSince: number | undefined;
  private readonly now: () => number;
  constructor(now: () => number = Date.now) {
    this.now = now;
  }
  done(status: string | undefined, addsUp: boolean): boolean {
    if (!status || !FINAL_BROADCAST_STATUSES.has(status)) {
      this.finalSince = undefined;
      return false;
    }
    this.finalSince ??= this.now();
    return addsUp || this.now() - this.finalSince >= SETTLE_GRACE_MS;
  }
}
