/**
 * Why a valid recipient is counted but never sent (`skipped`), decided when the broadcast is created;
 * the recipient's errorMessage says it in words. The send path checks the suppression list again
 * right before each send (an opt-out after create still stops it).
 */
export const SKIP_REASONS = ['suppressed', 'no_consent'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export const SKIP_MESSAGES: Readonly<Record<SkipReason, string>> = {
  suppressed: 'On the suppression list when the broadcast was created',
  no_consent:
    "A marketing template, and this contact has not opted in (the tenant's requireConsentForMarketing setting)",
};

/** A stored reason (1 or a reason name) as a SkipReason; anything unknown reads as `suppressed`, the first. */
export function skipReasonOf(stored: unknown): SkipReason {
  return (SKIP_REASONS as readonly unknown[]).includes(stored) ? (stored as SkipReason) : 'suppressed';
}
