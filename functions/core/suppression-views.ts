import { z } from 'zod';
import { apiSchemas, CountryCode } from './broadcast-request.ts';
import { BroadcastId, Page, providerErrorCode, timestamp } from './broadcast-responses.ts';
import type { SuppressionReason } from './ports.ts';
import { RECIPIENT_STATUSES } from './statuses.ts';

/**
 * The shapes of the suppression list and a contact's message history (/v1/suppressions,
 * /v1/contacts/{phone}/messages), validated at the edge and described in the OpenAPI document.
 */

export const MAX_SUPPRESSION_NOTE_LENGTH = 500;
export const SUPPRESSION_REASONS = [
  'opt_out_keyword',
  'opt_out_button',
  'provider_error',
  'admin',
] as const satisfies readonly SuppressionReason[];

export const SUPPRESSION_SCOPES = ['tenant', 'sender'] as const;

export const SuppressionRequest = z
  .strictObject({
    phone: z.string().min(1).max(100).meta({
      description: 'E.164, or a national format read with defaultCountry',
      example: '+972501234567',
    }),
    defaultCountry: CountryCode.optional(),
    note: z
      .string()
      .max(MAX_SUPPRESSION_NOTE_LENGTH)
      .optional()
      .meta({ description: 'Why the number is suppressed; kept as the suppression detail' }),
  })
  .register(apiSchemas, { id: 'SuppressionRequest' });
export type SuppressionRequestInput = z.output<typeof SuppressionRequest>;

export const SuppressionView = z
  .object({
    phone: z.string().meta({ description: 'E.164', example: '+972501234567' }),
    reason: z.enum(SUPPRESSION_REASONS).meta({
      description:
        'opt_out_keyword (STOP and the like), opt_out_button (an opt-out button), provider_error (the number cannot receive), admin (added through this API)',
    }),
    detail: z
      .string()
      .optional()
      .meta({ description: "The keyword or button payload, the provider's error code, or the admin's note" }),
    createdAt: timestamp,
    scope: z.enum(SUPPRESSION_SCOPES).meta({
      description:
        "tenant: on this tenant's list (an admin, a provider error, or an opt-out answering this tenant); sender: the person opted out of the sender every tenant of this deployment sends from (STOP or an opt-out button). Only the person lifts a sender opt-out, by writing START: DELETE answers 409 INVALID_STATE",
    }),
  })
  .register(apiSchemas, { id: 'Suppression' });
export type SuppressionViewShape = z.infer<typeof SuppressionView>;

export const SuppressionPage = Page(SuppressionView).register(apiSchemas, { id: 'SuppressionPage' });

export const UnsuppressResponse = z
  .object({ phone: z.string(), removed: z.literal(true) })
  .register(apiSchemas, { id: 'UnsuppressResponse' });

/** What a history entry's status can be: the recipient's, the follow-up's, or `received` (inbound). */
export const CONTACT_MESSAGE_STATUSES = [
  ...RECIPIENT_STATUSES,
  'expired',
  'received',
  'retried',
  'unknown',
] as const;

export const ContactMessageView = z
  .object({
    direction: z.enum(['outbound', 'inbound']),
    type: z.enum(['broadcast', 'follow_up', 'inbound']),
    status: z.enum(CONTACT_MESSAGE_STATUSES).meta({
      description:
        "Outbound: the live status from the recipient's ledger (follow_up: the follow-up's; expired: the tap came after the 24-hour window); inbound: received; retried: an earlier attempt that failed and was sent again; unknown: the ledger entry is gone",
    }),
    at: timestamp.meta({ description: 'When it was sent (claimed for sending) or received' }),
    messageSid: z.string(),
    broadcastId: BroadcastId.optional(),
    broadcastName: z.string().optional(),
    body: z
      .string()
      .optional()
      .meta({ description: "Inbound: the text (a tap's button text); follow_up: the follow-up text" }),
    buttonPayload: z.string().optional().meta({ description: "Inbound: the tapped button's id" }),
    repliedToSid: z.string().optional().meta({ description: 'Inbound: the SID of our message it answers' }),
    errorCode: providerErrorCode.optional(),
    errorMessage: z.string().optional(),
  })
  .register(apiSchemas, { id: 'ContactMessage' });
export type ContactMessageViewShape = z.infer<typeof ContactMessageView>;

export const ContactMessagePage = z
  .object({
    phone: z.string().meta({ description: 'The contact, E.164' }),
    items: z.array(ContactMessageView).meta({ description: 'Newest first' }),
    nextCursor: z.string().optional(),
  })
  .register(apiSchemas, { id: 'ContactMessagePage' });
