import { z } from 'zod';
import type { RecipientStatus } from './statuses.ts';

/**
 * The canary (issue 13 item 7): the first N (or P %) of a broadcast's sendable recipients go out first;
 * the rest wait, not enqueued, until the canary's outcomes are known. Then the rest go out, or the
 * broadcast pauses itself with the failure rate and the most common error code as its reason.
 *
 * Who decides and when: the sweeper, every minute on AWS (SWEEP_SCHEDULE_SECONDS in the twin), from the
 * broadcast's counts (never a read of the recipients). A verdict needs every canary recipient handed to
 * Twilio (none pending, queued or sending), and then either `minOutcomes` final outcomes
 * (delivered/read/failed/undelivered), or no canary recipient left at `sent`, or SENT_GRACE_SECONDS
 * since the broadcast started: WhatsApp reports most failures after `sent` (63024, 30003 come as
 * failed/undelivered after it), so `sent` alone is not believed at once. Bound: the decision comes at
 * the first sweep after that, so within a minute of the canary's last receipt (or of the grace).
 */

/** How long `sent` without a receipt waits before it counts as a success in the verdict. */
export const SENT_GRACE_SECONDS = 60;

export const CanaryRequest = z
  .strictObject({
    recipients: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: 'How many recipients go first (the first N sendable ones, in list order)' }),
    percent: z
      .number()
      .gt(0)
      .max(100)
      .optional()
      .meta({ description: 'Or this share of the sendable recipients, rounded up' }),
    maxFailureRate: z.number().min(0).max(1).meta({
      description: 'Above this share of failed/undelivered among the outcomes, the broadcast pauses',
    }),
    minOutcomes: z.number().int().min(1).optional().meta({
      description: 'Decide once this many final outcomes are in (default: the whole canary)',
    }),
  })
  .refine((c) => (c.recipients === undefined) !== (c.percent === undefined), {
    path: ['recipients'],
    message: 'give recipients or percent, not both',
  })
  .meta({
    description:
      'Send to the first recipients only, and the rest once their failure rate is known to be at most maxFailureRate; above it the broadcast pauses itself',
  });
export type CanaryInput = z.output<typeof CanaryRequest>;

export type CanaryDecision = 'waiting' | 'proceeded' | 'paused';

/** The canary as a broadcast keeps it. */
export interface CanaryState {
  /** Sendable recipients in the canary. */
  readonly size: number;
  /** Recipients with `index < below` are the canary; the others wait while the decision is `waiting`. */
  readonly below: number;
  /** Sendable recipients held back (not in the canary). */
  readonly rest: number;
  readonly maxFailureRate: number;
  readonly minOutcomes: number;
  readonly decision: CanaryDecision;
  readonly decidedAt?: string;
  /** At the decision: outcomes counted, their failure rate, the most common error code. */
  readonly outcomes?: number;
  readonly failureRate?: number;
  readonly topErrorCode?: number;
}

/** The canary of a list: its size and index bound, counted over the sendable (not skipped) entries. */
export function planCanary(
  input: CanaryInput,
  entries: readonly { readonly index: number; readonly skipped?: boolean }[],
): CanaryState {
  const sendable = entries.filter((e) => !e.skipped);
  const wanted = input.recipients ?? Math.ceil(((input.percent ?? 100) / 100) * sendable.length - 1e-9);
  const size = Math.min(sendable.length, Math.max(1, wanted));
  const last = sendable[size - 1];
  return {
    size,
    below: last ? last.index + 1 : 0,
    rest: sendable.length - size,
    maxFailureRate: input.maxFailureRate,
    minOutcomes: Math.min(input.minOutcomes ?? size, Math.max(size, 1)),
    decision: 'waiting',
  };
}

/** Whether this recipient waits for the canary's decision. */
export function canaryHolds(canary: CanaryState | undefined, index: number): boolean {
  return canary?.decision === 'waiting' && index >= canary.below;
}

/** The canary's figures from the broadcast's counts (while waiting, every outcome is the canary's). */
export function canaryFigures(
  canary: Pick<CanaryState, 'rest'>,
  counts: Readonly<Partial<Record<RecipientStatus, number>>>,
) {
  const n = (s: RecipientStatus) => counts[s] ?? 0;
  const failures = n('failed') + n('undelivered');
  const final = failures + n('delivered') + n('read');
  const outcomes = final + n('sent');
  const inFlight = Math.max(0, n('pending') + n('queued') + n('sending') - canary.rest);
  return {
    failures,
    final,
    sent: n('sent'),
    outcomes,
    inFlight,
    failureRate: outcomes > 0 ? failures / outcomes : 0,
  };
}

export type CanaryVerdict =
  | { readonly ready: false; readonly why: string }
  | {
      readonly ready: true;
      readonly decision: 'proceeded' | 'paused';
      readonly outcomes: number;
      readonly failures: number;
      readonly failureRate: number;
      readonly topErrorCode?: number;
    };

/**
 * The decision rule (see the module comment): not ready while a canary recipient is in flight, or
 * while `sent` may still turn into a failure; then `paused` when failed+undelivered over all outcomes
 * (sent, delivered, read, failed, undelivered) passes maxFailureRate, `proceeded` otherwise (and when
 * there is no outcome at all: everyone in it was skipped).
 */
export function canaryVerdict(
  canary: CanaryState,
  observed: {
    readonly counts: Readonly<Partial<Record<RecipientStatus, number>>>;
    /** Recipients failed/undelivered per provider error code (the counters' `errors`). */
    readonly errors: Readonly<Record<string, number>>;
    /** When the broadcast's first send was claimed (its createdAt before that). */
    readonly startedAt: string;
    readonly now: Date;
  },
): CanaryVerdict {
  const f = canaryFigures(canary, observed.counts);
  const enough = f.final >= canary.minOutcomes;
  if (!enough && f.inFlight > 0) return { ready: false, why: `${f.inFlight} canary recipients in flight` };
  const graceOver = observed.now.getTime() - Date.parse(observed.startedAt) >= SENT_GRACE_SECONDS * 1000;
  if (!enough && f.sent > 0 && !graceOver)
    return { ready: false, why: `${f.sent} canary messages sent, their receipts not in yet` };
  const top = topErrorCode(observed.errors);
  return {
    ready: true,
    decision: f.failureRate > canary.maxFailureRate ? 'paused' : 'proceeded',
    outcomes: f.outcomes,
    failures: f.failures,
    failureRate: f.failureRate,
    ...(top !== undefined ? { topErrorCode: top } : {}),
  };
}

/** The most common provider error code (the lowest code on a tie), or undefined when none. */
export function topErrorCode(errors: Readonly<Record<string, number>>): number | undefined {
  let best: [number, number] | undefined;
  for (const [code, count] of Object.entries(errors)) {
    const c = Number(code);
    if (!(count > 0) || !Number.isFinite(c)) continue;
    if (!best || count > best[1] || (count === best[1] && c < best[0])) best = [c, count];
  }
  return best?.[0];
}

/** The pause reason the canary writes on the broadcast: the rate against the threshold, and the top code. */
export function canaryPauseReason(
  verdict: Extract<CanaryVerdict, { ready: true }>,
  maxFailureRate: number,
): string {
  const pct = (r: number) => `${Math.round(r * 1000) / 10}%`;
  return (
    `canary: ${verdict.failures} of ${verdict.outcomes} failed (${pct(verdict.failureRate)}, above the ${pct(maxFailureRate)} allowed)` +
    (verdict.topErrorCode !== undefined ? `; most common error ${verdict.topErrorCode}` : '')
  );
}

/** GET /v1/broadcasts/{id}'s `canary`: live figures while waiting, those of the decision afterwards. */
export function canaryView(canary: CanaryState, counts: Readonly<Partial<Record<RecipientStatus, number>>>) {
  const live = canaryFigures(canary, counts);
  const decided = canary.decision !== 'waiting';
  return {
    size: canary.size,
    maxFailureRate: canary.maxFailureRate,
    minOutcomes: canary.minOutcomes,
    outcomes: decided ? (canary.outcomes ?? 0) : live.outcomes,
    failureRate: decided ? (canary.failureRate ?? 0) : live.failureRate,
    decision: canary.decision,
    ...(canary.decidedAt ? { decidedAt: canary.decidedAt } : {}),
    ...(canary.topErrorCode !== undefined ? { topErrorCode: canary.topErrorCode } : {}),
  };
}

export const CanaryView = z
  .object({
    size: z.number().int().min(0),
    maxFailureRate: z.number().min(0).max(1),
    minOutcomes: z.number().int().min(0),
    outcomes: z.number().int().min(0).meta({ description: 'sent, delivered, read, failed, undelivered' }),
    failureRate: z.number().min(0).max(1).meta({ description: '(failed + undelivered) / outcomes' }),
    decision: z.enum(['waiting', 'proceeded', 'paused']),
    decidedAt: z.string().optional(),
    topErrorCode: z.number().int().optional(),
  })
  .meta({ description: 'The canary: live figures while waiting, those of the decision once made' });
