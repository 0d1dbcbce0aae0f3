import { adminRoute } from './commons/admin-route.ts';
import { json, parseJson } from './commons/http.ts';
import { logger } from './commons/powertools.ts';
import { deleteSender, getSender, putSender } from './commons/sender-settings.ts';
import { tenantSettings } from './commons/wiring.ts';
import { ApiError, fromZodError } from './core/errors.ts';
import { TenantSettingsUpdate, type TenantSettingsViewShape } from './core/tenant-settings.ts';

/**
 * GET /v1/settings and PUT /v1/settings: the caller's tenant's settings (core/tenant-settings.ts).
 * PUT changes the settings it names and keeps the others; an empty object changes nothing.
 * GET, PUT and DELETE /v1/settings/twilio: the tenant's own sender (commons/sender-settings.ts).
 */
export const handler = adminRoute(async (event, tenantId) => {
  const store = tenantSettings();
  switch (event.routeKey) {
    case 'GET /v1/settings': {
      const { settings, updatedAt } = await store.get(tenantId);
      return json(200, {
        ...settings,
        ...(updatedAt ? { updatedAt } : {}),
      } satisfies TenantSettingsViewShape);
    }
    case 'PUT /v1/settings': {
      const parsed = TenantSettingsUpdate.safeParse(parseJson(event));
      if (!parsed.success) throw fromZodError(parsed.error);
      const change = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined));
      if (Object.keys(change).length === 0) {
        const current = await store.get(tenantId);
        return json(200, {
          ...current.settings,
          ...(current.updatedAt ? { updatedAt: current.updatedAt } : {}),
        });
      }
      const { settings, updatedAt } = await store.update(tenantId, change, new Date());
      logger.info('tenant settings changed', { changed: Object.keys(change) });
      return json(200, { ...settings, updatedAt } satisfies TenantSettingsViewShape);
    }
    case 'GET /v1/settings/twilio':
      return json(200, await getSender(tenantId));
    case 'PUT /v1/settings/twilio':
      return json(200, await putSender(tenantId, parseJson(event), new Date()));
    case 'DELETE /v1/settings/twilio':
      return json(200, await deleteSender(tenantId));
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});
