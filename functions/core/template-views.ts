import { z } from 'zod';
import { apiSchemas, ContentSid } from './broadcast-request.ts';
import { Page } from './broadcast-responses.ts';
import { TEMPLATE_APPROVALS, TEMPLATE_CATEGORIES, type Template } from './content-templates.ts';

/**
 * GET /v1/templates and GET /v1/templates/{contentSid}: the shapes (API.md "Templates", extended
 * with rejectionReason, buttons, contentTypes and the dates), registered for the OpenAPI document.
 */

const timestamp = z.string().meta({ format: 'date-time', description: 'ISO-8601 UTC' });

export const TemplateView = z
  .object({
    contentSid: ContentSid,
    friendlyName: z.string(),
    language: z.string().meta({ example: 'en' }),
    category: z
      .enum(TEMPLATE_CATEGORIES)
      .nullable()
      .meta({ description: "Meta's category; null when never submitted to WhatsApp" }),
    approval: z
      .enum(TEMPLATE_APPROVALS)
      .meta({ description: 'WhatsApp approval; only approved templates can be broadcast' }),
    rejectionReason: z.string().optional().meta({ description: "Meta's reason, when it gave one" }),
    variables: z
      .record(z.string(), z.string())
      .meta({ description: 'Each variable and its sample value', example: { '1': 'Dana', '2': 'May 5' } }),
    body: z.string().meta({ description: 'The text, with its {{1}} placeholders' }),
    buttons: z
      .array(z.object({ id: z.string(), title: z.string() }))
      .optional()
      .meta({
        description: "Quick-reply buttons: a tap's ButtonPayload is the id (a followUp's confirmPayload)",
      }),
    contentTypes: z.array(z.string()).meta({ example: ['twilio/quick-reply'] }),
    createdAt: timestamp.optional(),
    updatedAt: timestamp.optional(),
  })
  .register(apiSchemas, { id: 'Template' });
export type TemplateViewShape = z.infer<typeof TemplateView>;

export const TemplatePage = Page(TemplateView).register(apiSchemas, { id: 'TemplatePage' });

export function templateView(t: Template): TemplateViewShape {
  return {
    contentSid: t.contentSid,
    friendlyName: t.friendlyName,
    language: t.language,
    category: t.category,
    approval: t.approval,
    ...(t.rejectionReason ? { rejectionReason: t.rejectionReason } : {}),
    variables: { ...t.variables },
    body: t.body,
    ...(t.buttons ? { buttons: t.buttons.map(({ id, title }) => ({ id, title })) } : {}),
    contentTypes: [...t.contentTypes],
    ...(t.createdAt ? { createdAt: t.createdAt } : {}),
    ...(t.updatedAt ? { updatedAt: t.updatedAt } : {}),
  };
}
