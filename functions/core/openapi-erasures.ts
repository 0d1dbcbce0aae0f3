import './erasure.ts';
import { bearer, errors, type Json, json, limitCursorParams, ref } from './openapi-parts.ts';

/**
 * The OpenAPI paths of erasures (openapi.ts spreads them into the document; the schemas they name
 * are registered by erasure.ts).
 */
export function erasurePaths(): Record<string, Json> {
  return {
    '/v1/erasures': {
      post: {
        operationId: 'createErasure',
        summary:
          "Erase a person: every trace of a phone number in this tenant's data (contact, memberships, history, recipients of every broadcast, stored lists, send history, import errors)",
        description:
          "Runs in the background: 202 with the erasure, then GET /v1/erasures/{id} until `completed`. Recipients keep their status (counts stay consistent) with the number replaced by `erased`; unsent ones are cancelled. A suppression of the number stays (phone, reason, time) so an opt-out keeps being honoured. Other tenants' data is not touched. Not idempotent: a second request is a second erasure, which finds nothing left.",
        security: bearer,
        requestBody: { required: true, content: { 'application/json': { schema: ref('ErasureRequest') } } },
        responses: {
          '202': {
            ...json(ref('Erasure'), 'Accepted: the erasure runs in the background'),
            headers: {
              Location: { description: 'The erasure: /v1/erasures/{erasureId}', schema: { type: 'string' } },
            },
          },
          ...errors(400, 401, 415, 500),
        },
      },
      get: {
        operationId: 'listErasures',
        summary:
          "The tenant's erasures, newest first, with their status and progress (never the number: masked)",
        security: bearer,
        parameters: limitCursorParams,
        responses: { '200': json(ref('ErasurePage'), 'A page of erasures'), ...errors(400, 401, 500) },
      },
    },
    '/v1/erasures/{id}': {
      get: {
        operationId: 'getErasure',
        security: bearer,
        parameters: [
          {
            name: 'id',
            in: 'path',
            required: true,
            schema: { type: 'string', examples: ['era_01JD7X3K9Q2M4T6V8W0Y1Z2A3B'] },
          },
        ],
        responses: {
          '200': json(ref('Erasure'), 'The erasure and its progress'),
          ...errors(400, 401, 404, 500),
        },
      },
    },
  };
}
