import type { Json } from './openapi-parts.ts';

/**
 * The OpenAPI paths of Twilio's webhooks (API.md "Twilio webhooks"): form-encoded, public, each
 * checked by its X-Twilio-Signature (TWILIO.md "Signature").
 */

const signatureHeader: Json = {
  name: 'X-Twilio-Signature',
  in: 'header',
  required: true,
  description: "Twilio's HMAC-SHA1 signature over the public URL and the form parameters",
  schema: { type: 'string' },
};

const statusCallbackForm: Json = {
  type: 'object',
  description: 'Twilio status callback parameters (Twilio may add others; they are covered by the signature)',
  properties: {
    MessageSid: { type: 'string' },
    MessageStatus: {
      type: 'string',
      examples: ['queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'undelivered', 'canceled'],
    },
    ErrorCode: { type: 'string' },
    AccountSid: { type: 'string' },
    From: { type: 'string' },
    To: { type: 'string' },
  },
  required: ['MessageSid', 'MessageStatus'],
  additionalProperties: { type: 'string' },
};

const inboundForm: Json = {
  type: 'object',
  description: 'Twilio incoming WhatsApp message parameters',
  properties: {
    MessageSid: { type: 'string' },
    From: { type: 'string', examples: ['whatsapp:+972501234567'] },
    To: { type: 'string' },
    Body: { type: 'string' },
    ButtonText: { type: 'string' },
    ButtonPayload: { type: 'string' },
    OriginalRepliedMessageSid: { type: 'string' },
    WaId: { type: 'string' },
    ProfileName: { type: 'string' },
  },
  required: ['From'],
  additionalProperties: { type: 'string' },
};

const webhookResponses = (okDescription: string, okContent: Json): Json => ({
  '200': { description: okDescription, content: okContent },
  '403': { description: 'Missing or wrong X-Twilio-Signature; nothing changes' },
});

/** POST /webhooks/twilio/status and /webhooks/twilio/inbound. */
export function webhookPaths(): Record<string, Json> {
  const open: Json[] = [];
  return {
    '/webhooks/twilio/status': {
      post: {
        operationId: 'twilioStatusCallback',
        summary: 'Twilio message status callbacks',
        security: open,
        parameters: [signatureHeader],
        requestBody: {
          required: true,
          content: { 'application/x-www-form-urlencoded': { schema: statusCallbackForm } },
        },
        responses: webhookResponses('Recorded, or ignored (unknown MessageSid, stale status)', {}),
      },
    },
    '/webhooks/twilio/inbound': {
      post: {
        operationId: 'twilioInbound',
        summary: 'Incoming WhatsApp messages: confirmations and opt-outs',
        security: open,
        parameters: [signatureHeader],
        requestBody: {
          required: true,
          content: { 'application/x-www-form-urlencoded': { schema: inboundForm } },
        },
        responses: webhookResponses('Empty TwiML', {
          'text/xml': { schema: { type: 'string', examples: ['<Response/>'] } },
        }),
      },
    },
  };
}
