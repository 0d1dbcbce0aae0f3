import { z } from 'zod';
import { apiSchemas } from './broadcast-request.ts';

/**
 * A tenant's own WhatsApp sender (GET/PUT/DELETE /v1/settings/twilio): a sender address
 * (`whatsapp:+E164`) or a Messaging Service, on the deployment's Twilio account or on the tenant's own
 * (a subaccount: SID here, auth token in Secrets Manager, never returned). Without one, a tenant sends
 * from the deployment's sender and account (TWILIO_FROM / TWILIO_MESSAGING_SERVICE_SID).
 *
 * Formats (Twilio's own patterns, https://www.twilio.com/docs/iam/api/account "sid: ^AC[0-9a-fA-F]{32}$";
 * Messaging Service SIDs `MG` + 32 hex, https://www.twilio.com/docs/messaging/api/service-resource).
 */

export const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
export const MESSAGING_SERVICE_SID = /^MG[0-9a-fA-F]{32}$/;
/** E.164: a plus, a non-zero digit, up to 15 digits in all (ITU-T E.164). */
const E164 = /^\+[1-9]\d{6,14}$/;
/** Twilio auth tokens are 32 hex characters; anything of plain letters and digits, 16 to 128 long, is taken. */
const AUTH_TOKEN = /^[A-Za-z0-9]{16,128}$/;
/** Meta allows a WhatsApp sender up to 1,000 messages/s (TWILIO.md "Throughput"). */
export const MAX_SENDER_MPS = 1_000;

/** What a broadcast sends from, fixed at its creation: a settings change never moves a running broadcast. */
export interface SenderSnapshot {
  /** The tenant's own Twilio account; absent: the deployment's. */
  readonly accountSid?: string;
  readonly from?: string;
  readonly messagingServiceSid?: string;
  /** The sender's messages per second; absent: the deployment's SENDER_MPS. */
  readonly mps?: number;
}

/** A tenant's stored sender settings (the token is not here: Secrets Manager holds it). */
export interface TenantSender {
  readonly from?: string;
  readonly messagingServiceSid?: string;
  readonly accountSid?: string;
  readonly senderMps?: number;
  readonly updatedAt: string;
}

/** The sender, pacing key and rate-limit unit of a snapshot: the Messaging Service, or the From address. */
export function senderAddressOf(sender: Pick<SenderSnapshot, 'from' | 'messagingServiceSid'>): string {
  return sender.messagingServiceSid ?? sender.from ?? '';
}

/** `+E164` or `whatsapp:+E164` → `whatsapp:+E164`; undefined when it is not one. */
export function whatsAppSender(value: string): string | undefined {
  const bare = value.trim().replace(/^whatsapp:/i, '');
  return E164.test(bare) ? `whatsapp:${bare}` : undefined;
}

/** PUT /v1/settings/twilio: the whole sender setting (what it names replaces what was there). */
export const TenantSenderUpdate = z
  .strictObject({
    from: z
      .string()
      .optional()
      .refine((v) => v === undefined || whatsAppSender(v) !== undefined, {
        message: 'must be a WhatsApp sender, whatsapp:+E164 (e.g. whatsapp:+14155238886)',
      })
      .transform((v) => (v === undefined ? undefined : whatsAppSender(v)))
      .meta({ description: 'The WhatsApp sender, `whatsapp:+E164`. Give this or messagingServiceSid.' }),
    messagingServiceSid: z
      .string()
      .regex(MESSAGING_SERVICE_SID, 'must be a Messaging Service SID: MG followed by 32 hex digits')
      .optional()
      .meta({
        description: 'A Messaging Service SID (MG + 32 hex) whose sender pool holds the WhatsApp sender.',
      }),
    accountSid: z
      .string()
      .regex(ACCOUNT_SID, 'must be a Twilio Account SID: AC followed by 32 hex digits')
      .optional()
      .meta({
        description:
          "The tenant's own Twilio account (a subaccount). Absent: the deployment's account. Needs authToken, unless the same account's token is stored already.",
      }),
    authToken: z
      .string()
      .regex(AUTH_TOKEN, 'must be the Twilio auth token (32 letters and digits)')
      .optional()
      .meta({
        description: "The account's auth token: stored in Secrets Manager, never returned, never logged.",
        writeOnly: true,
      }),
    senderMps: z.number().int().min(1).max(MAX_SENDER_MPS).optional().meta({
      description:
        "The sender's messages per second at Twilio/Meta (80 by default, up to 1,000 on request). Default: the deployment's SENDER_MPS.",
    }),
  })
  .superRefine((input, ctx) => {
    if (Boolean(input.from) === Boolean(input.messagingServiceSid))
      ctx.addIssue({
        code: 'custom',
        path: input.from ? ['messagingServiceSid'] : ['from'],
        message: 'give exactly one of from (whatsapp:+E164) and messagingServiceSid (MG…)',
      });
    if (input.authToken && !input.accountSid)
      ctx.addIssue({
        code: 'custom',
        path: ['accountSid'],
        message: 'an authToken needs the accountSid it belongs to',
      });
  })
  .register(apiSchemas, { id: 'TenantSenderUpdate' });
export type TenantSenderUpdateInput = z.output<typeof TenantSenderUpdate>;

export const TenantSenderView = z
  .strictObject({
    source: z.enum(['tenant', 'deployment']).meta({
      description: "tenant: this tenant's own sender; deployment: the deployment's (no own sender set)",
    }),
    from: z.string().optional(),
    messagingServiceSid: z.string().optional(),
    accountSid: z
      .string()
      .optional()
      .meta({ description: "The tenant's own Twilio account; absent: the deployment's" }),
    authTokenSet: z
      .boolean()
      .meta({ description: "Whether the own account's auth token is stored (never shown)" }),
    senderMps: z.number().int().meta({ description: 'Messages per second this sender is paced at' }),
    updatedAt: z.string().optional(),
  })
  .register(apiSchemas, { id: 'TenantSender' });
export type TenantSenderViewShape = z.infer<typeof TenantSenderView>;

/** The answer of GET/PUT /v1/settings/twilio. */
export function senderView(own: TenantSender | undefined, defaultMps: number): TenantSenderViewShape {
  if (!own) return { source: 'deployment', authTokenSet: false, senderMps: defaultMps };
  return {
    source: 'tenant',
    ...(own.from ? { from: own.from } : {}),
    ...(own.messagingServiceSid ? { messagingServiceSid: own.messagingServiceSid } : {}),
    ...(own.accountSid ? { accountSid: own.accountSid } : {}),
    authTokenSet: Boolean(own.accountSid),
    senderMps: own.senderMps ?? defaultMps,
    updatedAt: own.updatedAt,
  };
}

/** What a broadcast created now records: the tenant's own sender, or nothing (the deployment's). */
export function snapshotOf(own: TenantSender | undefined): SenderSnapshot | undefined {
  if (!own) return undefined;
  return {
    ...(own.accountSid ? { accountSid: own.accountSid } : {}),
    ...(own.from ? { from: own.from } : {}),
    ...(own.messagingServiceSid ? { messagingServiceSid: own.messagingServiceSid } : {}),
    ...(own.senderMps ? { mps: own.senderMps } : {}),
  };
}

/**
 * Who a webhook's Twilio account and sender belong to: the tenant owning the account (its own
 * subaccount), else the tenant owning the sender on the deployment's account; undefined: the
 * deployment's shared sender.
 */
export interface SenderOwners {
  ownerOfAccount(accountSid: string): Promise<string | undefined>;
  ownerOfSender(address: string): Promise<string | undefined>;
}

/** A tenant's own senders, one item per tenant, and the claims that keep a sender or account one tenant's. */
export interface TenantSenderStore extends SenderOwners {
  get(tenantId: string): Promise<TenantSender | undefined>;
  /**
   * Stores the tenant's sender, claiming its address (and account) for it. `conflict`: another tenant
   * has that sender or account (nothing written).
   */
  put(
    tenantId: string,
    sender: Omit<TenantSender, 'updatedAt'>,
    at: Date,
  ): Promise<{ stored: TenantSender } | { conflict: 'sender' | 'account' }>;
  /** Back to the deployment's sender; the claims are released. */
  remove(tenantId: string): Promise<void>;
}

/** A tenant's own Twilio credentials (Secrets Manager); the token is never logged or returned. */
export interface TenantTwilioSecrets {
  get(tenantId: string): Promise<{ accountSid: string; authToken: string } | undefined>;
  put(tenantId: string, credentials: { accountSid: string; authToken: string }): Promise<void>;
  remove(tenantId: string): Promise<void>;
}
