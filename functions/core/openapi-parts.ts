import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from './broadcast-request.ts';
import { MAX_CURSOR_LENGTH } from './cursor.ts';

/**
 * The small pieces every OpenAPI module builds its paths from (openapi.ts, openapi-campaigns.ts,
 * openapi-imports.ts): schema and response references, JSON bodies, bearer security, paging.
 */

export type Json = Record<string, unknown>;

export const ref = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });

export const json = (schema: Json, description: string): Json => ({
  description,
  content: { 'application/json': { schema } },
});

/** The error responses of these statuses, by reference to components.responses (openapi.ts). */
export const errors = (...statuses: number[]): Record<string, Json> =>
  Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/Error${s}` }]));

export const bearer = [{ bearerAuth: [] }];

/** ?limit= and ?cursor=, as every list route takes them (broadcast-request.ts PageQuery). */
export const limitCursorParams: Json[] = [
  {
    name: 'limit',
    in: 'query',
    required: false,
    description: 'Items per page, in decimal digits (0x10, 1e2, 16.0 or a padded value are refused: 400)',
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT },
  },
  {
    name: 'cursor',
    in: 'query',
    required: false,
    description:
      "nextCursor of the previous page, as it is. Opaque; one this API did not give out for this list and this API key's tenant is refused (400 VALIDATION_FAILED, path cursor)",
    schema: { type: 'string', maxLength: MAX_CURSOR_LENGTH },
  },
];
