import { CachedTemplateRegistry } from '../adapters/cached-template-registry.ts';
import { TwilioTemplateRegistry } from '../adapters/twilio-templates.ts';
import type { TemplateRegistry } from '../core/content-templates.ts';
import { ApiError } from '../core/errors.ts';
import { intEnv } from './config.ts';
import { credentialsFor, currentSenderOf } from './tenant-twilio-wiring.ts';

/**
 * The template registry (Twilio's Content API, cached), for the functions that read templates:
 * GET /v1/templates and the create route's check. Kept apart from wiring.ts so that every other
 * function's bundle leaves the twilio SDK out.
 */

/**
 * How long a container reuses what Twilio said about templates (TEMPLATE_CACHE_SECONDS, default 60):
 * approvals change on Meta's time (a review takes minutes to 48 hours, a pause follows hours of
 * complaints), so a minute of lag costs little, and a busy create route then asks Twilio at most
 * once a minute per template. A template Twilio has not shown this container yet is always asked
 * for, never refused from the cache. 0 reads Twilio every time.
 */
export const DEFAULT_TEMPLATE_CACHE_SECONDS = 60;
/** Per Content API request: a create must answer well inside API Gateway's 29 s. */
export const CONTENT_API_TIMEOUT_MS = 5_000;

/** One registry per Twilio account: a tenant with its own account reads its own templates. */
const registries = new Map<string, Promise<TemplateRegistry>>();

/**
 * The registry of the account `tenantId` sends from now (its own, or the deployment's), built once
 * the auth token is known; 503 PROVIDER_NOT_CONFIGURED without credentials.
 */
export async function templateRegistry(tenantId?: string): Promise<TemplateRegistry> {
  const sender = tenantId ? await currentSenderOf(tenantId) : undefined;
  const key = sender?.accountSid ? `${tenantId}/${sender.accountSid}` : 'deployment';
  let registry = registries.get(key);
  if (!registry) {
    registry = credentialsFor(tenantId ?? '', sender)
      .then((s) => {
        if (!s.accountSid || !s.authToken)
          throw new ApiError(
            'PROVIDER_NOT_CONFIGURED',
            sender?.accountSid
              ? `No auth token is stored for this tenant's Twilio account ${sender.accountSid}: set it with PUT /v1/settings/twilio.`
              : 'Twilio is not configured: set the account SID and the auth token to read its Content templates.',
          );
        return new CachedTemplateRegistry(
          new TwilioTemplateRegistry({
            accountSid: s.accountSid,
            authToken: s.authToken,
            ...(s.apiBaseUrl ? { apiBaseUrl: s.apiBaseUrl } : {}),
            timeoutMs: CONTENT_API_TIMEOUT_MS,
          }),
          { ttlMs: intEnv('TEMPLATE_CACHE_SECONDS', DEFAULT_TEMPLATE_CACHE_SECONDS) * 1000 },
        );
      })
      .catch((error: unknown) => {
        registries.delete(key);
        throw error;
      });
    registries.set(key, registry);
  }
  return registry;
}
