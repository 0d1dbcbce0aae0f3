/**
 * The two-step flow (API.md `followUp`): a broadcast's template carries a confirmation button;
 * the recipient's tap confirms once, and the follow-up goes out as free-form text, which WhatsApp
 * allows only inside the 24-hour window (TWILIO.md "The 24-hour window").
 */
import type { FollowUpSpec, FollowUpStatus } from './ports.ts';
import { canAdvance, type RecipientStatus } from './statuses.ts';

export const FOLLOW_UP_STATUSES = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
  'undelivered',
  'cancelled',
  'skipped',
  'expired',
] as const satisfies readonly FollowUpStatus[];

/** WhatsApp's customer service window, counted from our template (the offer the tap answers). */
export const CONFIRMATION_WINDOW_MS = 24 * 3600 * 1000;

/**
 * A follow-up moves like a template send (forward only, the same ranks), except that `expired` is
 * where a late tap ends: terminal, and only ever set at confirmation.
 */
export function canAdvanceFollowUp(from: FollowUpStatus, to: FollowUpStatus): boolean {
  if (from === 'expired' || to === 'expired') return false;
  return canAdvance(from as RecipientStatus, to as RecipientStatus);
}

/** What an inbound tap on a broadcast's template means for its recipient. */
export type TapDecision =
  | { readonly confirm: true; readonly followUp: 'queued' | 'expired' }
  | { readonly confirm: false; readonly reason: 'no_follow_up' | 'not_a_tap' | 'other_button' };

/**
 * A tap confirms when the broadcast has a follow-up and the button is its `confirmPayload` (any
 * button when it names none). Confirmed more than 24 hours after the template went out, the tap is
 * recorded but the follow-up `expired`: the offer is stale, and sending it would need a template.
 */
export function decideTap(input: {
  readonly followUp: FollowUpSpec | undefined;
  readonly buttonPayload: string | undefined;
  /** When our template went out (the recipient's sentAt, else its claim). */
  readonly templateSentAt: string | undefined;
  readonly now: Date;
}): TapDecision {
  if (!input.followUp) return { confirm: false, reason: 'no_follow_up' };
  const payload = input.buttonPayload?.trim();
  if (!payload) return { confirm: false, reason: 'not_a_tap' };
  const wanted = input.followUp.confirmPayload;
  if (wanted !== undefined && payload !== wanted) return { confirm: false, reason: 'other_button' };
  const sentAt = input.templateSentAt ? Date.parse(input.templateSentAt) : Number.NaN;
  const late = Number.isFinite(sentAt) && input.now.getTime() - sentAt > CONFIRMATION_WINDOW_MS;
  return { confirm: true, followUp: late ? 'expired' : 'queued' };
}

/** The follow-up side of a broadcast's progress. */
export type FollowUpCounts = { awaitingConfirmation: number; confirmed: number } & Record<
  FollowUpStatus,
  number
>;

/**
 * From the counter shards' follow-up fields (`f_<status>`, `f_confirmed`) and the template's
 * succeeded count: recipients whose template went out and who have not tapped yet are awaiting.
 */
export function followUpCountsOf(
  fields: Readonly<Record<string, number>>,
  templatesSucceeded: number,
): FollowUpCounts {
  const confirmed = Math.max(0, fields.confirmed ?? 0);
  const counts = {
    awaitingConfirmation: Math.max(0, templatesSucceeded - confirmed),
    confirmed,
  } as FollowUpCounts;
  for (const status of FOLLOW_UP_STATUSES) counts[status] = Math.max(0, fields[status] ?? 0);
  return counts;
}
