/**
 * Why a valid recipient is counted but never sent (`skipped`), decided when the broadcast is created:
 * its `skipReason`, and the errorMessage its ledger entry gets. The send path checks the suppression
 * list again right before each send (an opt-out after create still stops it).
 * - `suppressed`: on the tenant's or the sender's suppression list;
 * - `marketing_not_delivered_us`: a MARKETING template to a US number, which Meta does not deliver
 *   (template-check.ts marketingBlockedFor);
 * - `no_consent`: a MARKETING template to a contact that has not opted in, when the tenant requires
 *   it (tenant-settings.ts requireConsentForMarketing);
 * - `frequency_cap`: the broadcast's frequencyCap, and the contact already had `max` messages from the
 *   tenant within `days` days (core/send-timing.ts frequencyCapReached).
 */
export const SKIP_REASONS = [
  'suppressed',
  'marketing_not_delivered_us',
  'no_consent',
  'frequency_cap',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];
/** A recipient's reasons: those of the plan, and `erased` (its person erased before it was sent). */
export const RECIPIENT_SKIP_REASONS = [...SKIP_REASONS, 'erased'] as const;
export type RecipientSkipReason = (typeof RECIPIENT_SKIP_REASONS)[number];

/** The errorMessage of a recipient skipped at create, by reason. */
export const SKIP_REASON_TEXT: Readonly<Record<RecipientSkipReason, string>> = {
  suppressed: 'On the suppression list when the broadcast was created',
  marketing_not_delivered_us:
    'Not sent: Meta does not deliver WhatsApp marketing templates to US phone numbers (Twilio error 63049)',
  no_consent:
    "Not sent: a marketing template, and this contact has not opted in (the tenant's requireConsentForMarketing setting)",
  frequency_cap:
    "Not sent: this contact already had the most messages the broadcast's frequencyCap allows within its days",
  erased: "Not sent: the person's data was erased (POST /v1/erasures) before their message went",
};
