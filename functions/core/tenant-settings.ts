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
}

export const DEFAULT_TENANT_SETTINGS: TenantSettings = { requireConsentForMarketing: false };

/** PUT /v1/settings: the settings to change; the others keep their value. */
export const TenantSettingsUpdate = z
  .strictObject({
    requireConsentForMarketing: z.boolean().optional().meta({
      description:
        'Marketing templates go only to contacts with consent.status opted_in; others are skipped (no_consent). Default false.',
    }),
  })
  .register(apiSchemas, { id: 'TenantSettingsUpdate' });
export type TenantSettingsUpdateInput = z.output<typeof TenantSettingsUpdate>;

export const TenantSettingsView = z
  .strictObject({
    requireConsentForMarketing: z.boolean(),
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
