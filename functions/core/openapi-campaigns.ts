import { NEXT_RUNS_SHOWN, RUNS_SHOWN } from './campaigns.ts';
import { bearer, errors, type Json, json, limitCursorParams, ref } from './openapi-parts.ts';

/**
 * The OpenAPI paths and schemas of campaigns (openapi.ts spreads them into the document). The
 * campaign's broadcast options are those of POST /v1/broadcasts (CreateBroadcastRequest), so they are
 * described by reference, whatever other modules add there.
 */

const idParam: Json = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^cmp_[0-9A-HJKMNP-TV-Z]{26}$' },
};
const pageParams = limitCursorParams;

const EXPRESSION_HELP =
  "EventBridge Scheduler's syntax: at(yyyy-mm-ddThh:mm:ss) once; rate(n minute|minutes|hour|hours|day|days); cron(minutes hours day-of-month month day-of-week year), six fields, one of the day fields '?', day-of-week 1-7 = SUN-SAT (not Unix cron's 0-6), L, W and # as AWS documents them. Read in timeZone.";

export function campaignSchemas(): Record<string, Json> {
  const schedule: Json = {
    type: 'object',
    required: ['expression'],
    additionalProperties: false,
    properties: {
      expression: {
        type: 'string',
        description: EXPRESSION_HELP,
        examples: ['cron(0 9 ? * MON *)', 'rate(1 day)', 'at(2026-12-01T09:00:00)'],
      },
      timeZone: {
        type: 'string',
        description: 'IANA time zone the expression is read in',
        default: 'UTC',
        examples: ['Africa/Nairobi'],
      },
    },
  };
  return {
    CampaignSchedule: schedule,
    CreateCampaignRequest: {
      description:
        "A campaign: POST /v1/broadcasts's body (its options too: followUp, defaultCountry, and those added there) without recipients and scheduledAt, with a required name, audience and schedule.",
      allOf: [
        {
          type: 'object',
          required: ['name', 'audience', 'template', 'schedule'],
          properties: { name: { type: 'string', maxLength: 200 }, schedule: ref('CampaignSchedule') },
          not: { anyOf: [{ required: ['recipients'] }, { required: ['scheduledAt'] }] },
        },
      ],
    },
    CampaignRun: {
      type: 'object',
      required: ['scheduledFor', 'status'],
      properties: {
        scheduledFor: { type: 'string', format: 'date-time', description: 'The firing (UTC)' },
        broadcastId: { type: 'string', description: 'The broadcast this firing created' },
        status: {
          type: 'string',
          description:
            "The broadcast's status now; skipped (nothing sent: see reason) or failed (the create was refused: see error)",
        },
        reason: {
          type: 'string',
          description: 'Why a firing was skipped (the previous run still sending; the campaign paused)',
        },
        error: {
          type: 'object',
          properties: {
            code: { type: 'string', examples: ['NO_VALID_RECIPIENTS'] },
            message: { type: 'string' },
          },
        },
      },
    },
    Campaign: {
      type: 'object',
      required: ['campaignId', 'name', 'status', 'schedule', 'nextRuns', 'createdAt', 'updatedAt'],
      properties: {
        campaignId: { type: 'string', pattern: '^cmp_[0-9A-HJKMNP-TV-Z]{26}$' },
        name: { type: 'string' },
        status: { type: 'string', enum: ['active', 'paused', 'completed'] },
        schedule: ref('CampaignSchedule'),
        nextRunAt: {
          type: 'string',
          format: 'date-time',
          description: 'Absent while paused or once completed',
        },
        nextRuns: {
          type: 'array',
          maxItems: NEXT_RUNS_SHOWN,
          items: { type: 'string', format: 'date-time' },
        },
        audience: { type: 'object' },
        template: { type: 'object' },
        createdAt: { type: 'string', format: 'date-time' },
        updatedAt: { type: 'string', format: 'date-time' },
        pausedAt: { type: 'string', format: 'date-time' },
        runs: {
          type: 'array',
          maxItems: RUNS_SHOWN,
          description: `The newest ${RUNS_SHOWN} runs, newest first (GET /v1/campaigns/{id} only)`,
          items: ref('CampaignRun'),
        },
      },
      additionalProperties: true,
    },
    CampaignPage: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: ref('Campaign') }, nextCursor: { type: 'string' } },
    },
  };
}

export function campaignPaths(): Record<string, Json> {
  return {
    '/v1/campaigns': {
      post: {
        operationId: 'createCampaign',
        summary: 'A campaign: the audience, the template and options, sent on a schedule',
        description:
          'Each firing creates one broadcast to the audience as it is then, once per (campaign, scheduled time) however often the scheduler delivers it. A firing while the previous run still sends is skipped (recorded with its reason). The template is checked now, as POST /v1/broadcasts checks it.',
        security: bearer,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('CreateCampaignRequest') } },
        },
        responses: {
          '201': json(ref('Campaign'), 'The campaign, with nextRunAt and the next runs'),
          ...errors(400, 401, 409, 415, 500, 503),
        },
      },
      get: {
        operationId: 'listCampaigns',
        summary: "The tenant's campaigns, newest first",
        security: bearer,
        parameters: pageParams,
        responses: { '200': json(ref('CampaignPage'), 'A page of campaigns'), ...errors(400, 401, 500) },
      },
    },
    '/v1/campaigns/{id}': {
      get: {
        operationId: 'getCampaign',
        summary: 'A campaign with its newest runs',
        security: bearer,
        parameters: [idParam],
        responses: { '200': json(ref('Campaign'), 'The campaign'), ...errors(400, 401, 404, 500) },
      },
      delete: {
        operationId: 'deleteCampaign',
        summary: 'Deletes the campaign and its schedule (broadcasts it created stay)',
        security: bearer,
        parameters: [idParam],
        responses: { '204': { description: 'Deleted' }, ...errors(400, 401, 404, 500) },
      },
    },
    '/v1/campaigns/{id}/pause': {
      post: {
        operationId: 'pauseCampaign',
        summary: 'Stops its schedule (idempotent); a completed campaign is 409',
        security: bearer,
        parameters: [idParam],
        responses: {
          '200': json(ref('Campaign'), 'The paused campaign'),
          ...errors(400, 401, 404, 409, 500),
        },
      },
    },
    '/v1/campaigns/{id}/test-send': {
      post: {
        operationId: 'testSendCampaign',
        summary:
          "The campaign's message now, to 1–10 test phones only, as a broadcast marked test (not counted in metrics, caps or the daily limit)",
        security: bearer,
        parameters: [idParam],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['testPhones'],
                additionalProperties: false,
                properties: {
                  testPhones: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'string' } },
                },
              },
            },
          },
        },
        responses: {
          '202': json(ref('TestSendResponse'), "The test broadcast accepted, with the campaign's id"),
          ...errors(400, 401, 404, 409, 415, 500, 503),
        },
      },
    },
    '/v1/campaigns/{id}/resume': {
      post: {
        operationId: 'resumeCampaign',
        summary: 'Starts its schedule again; firings missed while paused are not replayed',
        security: bearer,
        parameters: [idParam],
        responses: {
          '200': json(ref('Campaign'), 'The active campaign'),
          ...errors(400, 401, 404, 409, 500),
        },
      },
    },
  };
}
