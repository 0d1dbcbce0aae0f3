import { bearer, errors, type Json, json, ref } from './openapi-parts.ts';
// Registers TenantSender and TenantSenderUpdate.
import './tenant-senders.ts';

/** The OpenAPI paths of a tenant's own sender (openapi.ts spreads them into the document). */
export function senderPaths(): Record<string, Json> {
  const view = (what: string) => json(ref('TenantSender'), what);
  return {
    '/v1/settings/twilio': {
      get: {
        operationId: 'getSender',
        summary:
          "The tenant's WhatsApp sender and Twilio account (its own, or the deployment's); never the token",
        security: bearer,
        responses: { '200': view('The sender new broadcasts send from'), ...errors(400, 401, 500) },
      },
      put: {
        operationId: 'setSender',
        summary:
          "Sets the tenant's own sender (and, optionally, its own Twilio subaccount), checked against Twilio",
        description:
          "Replaces the setting whole. The account (and a Messaging Service) is read from Twilio first: wrong credentials or an unknown service are 400 VALIDATION_FAILED naming the field, Twilio not answering 503 PROVIDER_UNAVAILABLE. The auth token is stored in AWS Secrets Manager and never returned. A sender or account of another tenant, or the deployment's shared sender: 409 SENDER_IN_USE. Broadcasts created before keep their sender.",
        security: bearer,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('TenantSenderUpdate') } },
        },
        responses: { '200': view('The sender after the change'), ...errors(400, 401, 409, 415, 500, 503) },
      },
      delete: {
        operationId: 'deleteSender',
        summary: "Back to the deployment's sender and account; the tenant's stored token is deleted",
        security: bearer,
        responses: { '200': view("The deployment's sender, now the tenant's"), ...errors(400, 401, 500) },
      },
    },
  };
}
