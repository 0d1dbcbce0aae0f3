import { z } from 'zod';
import { AUDIT_ACTIONS, ROLES } from './access.ts';
import { PageQuery, registerRouteQueries } from './broadcast-request.ts';

/**
 * The requests of the API key and audit routes (functions/api-keys.ts, functions/audit.ts), apart
 * from core/api-keys.ts so that authenticating a key (every admin route, the CLI) does not load them.
 */

/** POST /v1/api-keys: `{ name, role }`. */
export const CreateApiKeyRequest = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1, 'Give the key a name (who or what uses it)')
    .max(100, 'At most 100 characters'),
  role: z.enum(ROLES, { message: `One of ${ROLES.join(', ')}` }),
});

/** GET /v1/audit's filters, beside limit and cursor. */
export const AuditQuery = PageQuery.extend({
  action: z.enum(AUDIT_ACTIONS as [string, ...string[]], { message: 'not an audit action' }).optional(),
  keyId: z
    .string()
    .regex(/^key_[0-9A-Za-z]{16,32}$/, 'not a key id (key_…)')
    .optional(),
});

registerRouteQueries({ 'GET /v1/api-keys': PageQuery, 'GET /v1/audit': AuditQuery });
