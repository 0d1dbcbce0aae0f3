import { z } from 'zod';
import { apiSchemas } from './broadcast-request.ts';

/**
 * A tenant's settings (GET and PUT /v1/settings): choices that differ between the businesses of one
 * deployment. Every setting has a default, so a tenant that never set anything behaves as documented.
 */

export interface TenantSettings {
  /**
   * Send MARKETING templates only to contacts whose consent is `opted_in`; the rest are `skipped`
   * (reason `no_consent`). WhatsApp's Business Messaging Policy requires an opt-in before a business
   * messages a person (https://business.whatsapp.com/policy); the business keeps that record, so the
   * product enforces it only when asked. Off by default: a plain phone list carries no consent.
   */
  readonly requireConsentForMarketing: boolean;
  /**
   * Meta's messaging limit of the tenant's WhatsApp business portfolio: the most unique people it may
   * message in a moving 24 hours (Meta's tiers: 250, 2,000, 10,000, 100,000, unlimited;
   * https://developers.facebook.com/documentation/business-messaging/whatsapp/messaging-limits). A
   * broadcast larger than what remains is paced across days (core/messaging-limit.ts) instead of
   * failing with Twilio's 63018. Default `unlimited`: nothing is paced.
   */
  readonly messagingLimit: number | 'unlimited';
}

export const DEFAULT_TENANT_SETTINGS: TenantSettings = {
  requireConsentForMarketing: false,
  messagingLimit: 'unlimited',
};

/** The most a tenant may give as a number (Meta's highest numbered tier is 100,000; any number up to it may be set). */
export const MAX_MESSAGING_LIMIT = 1_000_000;

const MessagingLimit = z.union([z.number().int().min(1).max(MAX_MESSAGING_LIMIT), z.literal('unlimited')]);

/** The limit as a number for core/send-timing.ts, undefined when unlimited. */
export function messagingLimitOf(settings: TenantSettings): number | undefined {
  return settings.messagingLimit === 'unlimited' ? undefined : settings.messagingLimit;
}

/** PUT /v1/settings: the settings to change; the others keep their value. */
export const TenantSettingsUpdate = z
  .strictObject({
    requireConsentForMarketing: z.boolean().optional().meta({
      description:
        'Marketing templates go only to contacts with consent.status opted_in; others are skipped (no_consent). Default false.',
    }),
    messagingLimit: MessagingLimit.optional().meta({
      description:
        'Meta\'s messaging limit (unique people per moving 24 h: 250, 2000, 10000, 100000 or "unlimited"); larger broadcasts are paced across days. Default unlimited.',
    }),
  })
  .register(apiSchemas, { id: 'TenantSettingsUpdate' });
export type TenantSettingsUpdateInput = z.output<typeof TenantSettingsUpdate>;

export const TenantSettingsView = z
  .strictObject({
    requireConsentForMarketing: z.boolean(),
    messagingLimit: MessagingLimit,
    updatedAt: z
      .string()
      .optional()
      .meta({ description: 'When an admin last changed them; absent: defaults' }),
  })
  .register(apiSchemas, { id: 'TenantSettings' });
export type TenantSettingsViewShape = z.infer<typeof TenantSettingsView>;

/** The settings a stored (possibly partial, possibly older) record gives, defaults filling the rest. */
export function settingsOf(stored: Partial<TenantSettings> | undefined): TenantSettings {
  return {
    requireConsentForMarketing:
      typeof stored?.requireConsentForMarketing === 'boolean'
        ? stored.requireConsentForMarketing
        : DEFAULT_TENANT_SETTINGS.requireConsentForMarketing,
    messagingLimit:
      stored?.messagingLimit === 'unlimited' ||
      (typeof stored?.messagingLimit === 'number' && stored.messagingLimit >= 1)
        ? stored.messagingLimit
        : DEFAULT_TENANT_SETTINGS.messagingLimit,
  };
}

/** Tenant settings as stored: one small item per tenant. */
export interface TenantSettingsStore {
  get(tenantId: string): Promise<{ settings: TenantSettings; updatedAt?: string }>;
  update(
    tenantId: string,
    change: Partial<TenantSettings>,
    at: Date,
  ): Promise<{ settings: TenantSettings; updatedAt: string }>;
}
