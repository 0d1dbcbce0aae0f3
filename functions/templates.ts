import { adminRoute } from './commons/admin-route.ts';
import { json } from './commons/http.ts';
import { templateRegistry } from './commons/template-wiring.ts';
import { CONTENT_SID_PATTERN, parseListQuery, TemplateListQuery } from './core/broadcast-request.ts';
import { pageOfTemplates, TemplateRegistryError, templatePosition } from './core/content-templates.ts';
import { decodeItemCursor, encodeItemCursor } from './core/cursor.ts';
import { ApiError } from './core/errors.ts';
import { registryFailure } from './core/template-check.ts';
import { templateView } from './core/template-views.ts';

/** What a templates cursor names: `<createdAt>#<contentSid>` (content-templates.ts templatePosition). */
const POSITION = /^[0-9TZ:.+-]{0,40}#HX[0-9a-fA-F]{32}$/;

/**
 * GET /v1/templates and GET /v1/templates/{contentSid}: the Twilio account's Content templates with
 * their WhatsApp approval, read through the cached registry (commons/template-wiring.ts).
 *
 * Templates are the Twilio account's: a tenant with its own account (PUT /v1/settings/twilio) sees
 * that account's, the others the deployment's, all the same ones; a cursor is
 * still bound to the caller's tenant like every other list's. The list is paged here, over the
 * account's whole list (Twilio's own list cannot filter by approval or category): newest first,
 * `?approval=` and `?category=` filters, `limit` 1–500 (default 50).
 */
export const handler = adminRoute(async (event, tenantId) => {
  const registry = await templateRegistry(tenantId);
  switch (event.routeKey) {
    case 'GET /v1/templates': {
      const query = parseListQuery(TemplateListQuery, event.queryStringParameters);
      const scope = { pk: `TEMPLATES#${tenantId}`, sk: POSITION };
      const after = query.cursor ? decodeItemCursor('templates', query.cursor, scope).sk : undefined;
      const templates = await read(() => registry.list());
      const page = pageOfTemplates(templates, {
        filter: {
          ...(query.approval ? { approval: query.approval } : {}),
          ...(query.category ? { category: query.category } : {}),
        },
        limit: query.limit,
        ...(after !== undefined ? { after } : {}),
      });
      return json(200, {
        items: page.items.map(templateView),
        ...(page.last
          ? { nextCursor: encodeItemCursor('templates', { pk: scope.pk, sk: templatePosition(page.last) }) }
          : {}),
      });
    }
    case 'GET /v1/templates/{contentSid}': {
      const contentSid = event.pathParameters?.contentSid ?? '';
      if (!CONTENT_SID_PATTERN.test(contentSid))
        throw new ApiError(
          'VALIDATION_FAILED',
          `Invalid path parameter: contentSid: '${contentSid.slice(0, 64)}' is not a Twilio Content SID (HX followed by 32 hex characters).`,
          [{ path: 'contentSid', message: 'must be a Twilio Content SID: HX followed by 32 hex characters' }],
        );
      const template = await read(() => registry.get(contentSid));
      if (!template)
        throw new ApiError('NOT_FOUND', `The Twilio account has no Content template ${contentSid}.`);
      return json(200, templateView(template));
    }
    default:
      throw new Error(`templates: unexpected route ${event.routeKey}`);
  }
});

/** A registry read; Twilio not answering is a 503 in the API's shape, never a 500. */
async function read<T>(reading: () => Promise<T>): Promise<T> {
  try {
    return await reading();
  } catch (error) {
    if (error instanceof TemplateRegistryError) throw registryFailure(error);
    throw error;
  }
}
