import { describe, expect, it } from 'vitest';
import { type Template, TemplateRegistryError } from '../../functions/core/content-templates.ts';
import { ApiError, errorResponse } from '../../functions/core/errors.ts';
import {
  checkBroadcastTemplate,
  checkTemplateInRegistry,
  isUsNumber,
  marketingBlockedFor,
  registryFailure,
  variableMismatch,
} from '../../functions/core/template-check.ts';

const SID = 'HX880b0d228b6b512bae0f14a67c858ce4';
const template = (fields: Partial<Template> = {}): Template => ({
  contentSid: SID,
  friendlyName: 'order_delivery_update',
  language: 'en',
  category: 'UTILITY',
  approval: 'approved',
  variables: { '1': 'Dana', '2': 'May 5' },
  body: 'Hi {{1}}, your order arrives on {{2}}.',
  contentTypes: ['twilio/text'],
  ...fields,
});

/** The error an ApiError-throwing call answers with, as a client reads it. */
function refusal(run: () => unknown): { status: number; body: unknown } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    const { statusCode, body } = errorResponse(error);
    return { status: statusCode, body };
  }
  throw new Error('expected a refusal');
}

describe('checkBroadcastTemplate', () => {
  it('lets an approved template through with exactly its variables, placeholders included', () => {
    const t = template();
    expect(checkBroadcastTemplate(SID, t, { '1': '{{name|Farmer}}', '2': 'May 5' })).toBe(t);
    expect(checkBroadcastTemplate(SID, template({ variables: {} }), undefined).contentSid).toBe(SID);
    expect(checkBroadcastTemplate(SID, template({ variables: {} }), {}).contentSid).toBe(SID);
  });

  it('answers 400 TEMPLATE_NOT_FOUND for a SID the account does not have', () => {
    expect(refusal(() => checkBroadcastTemplate(SID, undefined, {}))).toEqual({
      status: 400,
      body: {
        error: {
          code: 'TEMPLATE_NOT_FOUND',
          message: `The Twilio account has no Content template ${SID}: pick one from GET /v1/templates.`,
          details: [
            {
              path: 'template.contentSid',
              message: 'no Content template with this SID in the Twilio account',
              contentSid: SID,
            },
          ],
        },
      },
    });
  });

  it('answers 400 TEMPLATE_NOT_APPROVED naming the status, and why Meta rejected it', () => {
    const rejected = refusal(() =>
      checkBroadcastTemplate(SID, template({ approval: 'rejected', rejectionReason: 'INVALID_FORMAT' }), {}),
    );
    expect(rejected).toEqual({
      status: 400,
      body: {
        error: {
          code: 'TEMPLATE_NOT_APPROVED',
          message: `Template ${SID} (order_delivery_update) is not approved for WhatsApp: its status is rejected (INVALID_FORMAT). Only approved templates can start a conversation.`,
          details: [
            {
              path: 'template.contentSid',
              message: 'WhatsApp approval is rejected',
              approval: 'rejected',
              rejectionReason: 'INVALID_FORMAT',
            },
          ],
        },
      },
    });
    for (const approval of ['pending', 'paused', 'disabled', 'unsubmitted'] as const) {
      const { body } = refusal(() => checkBroadcastTemplate(SID, template({ approval }), {}));
      expect(body).toMatchObject({
        error: { code: 'TEMPLATE_NOT_APPROVED', details: [{ approval }] },
      });
      expect(JSON.stringify(body)).toContain(`its status is ${approval}.`);
    }
  });

  it('checks approval before variables: a pending template with wrong variables is NOT_APPROVED', () => {
    const { body } = refusal(() =>
      checkBroadcastTemplate(SID, template({ approval: 'pending' }), { '9': 'x' }),
    );
    expect(body).toMatchObject({ error: { code: 'TEMPLATE_NOT_APPROVED' } });
  });

  it('answers 400 TEMPLATE_VARIABLES_MISMATCH naming each variable missing or unknown', () => {
    expect(refusal(() => checkBroadcastTemplate(SID, template(), { '1': '{{name}}', '3': 'x' }))).toEqual({
      status: 400,
      body: {
        error: {
          code: 'TEMPLATE_VARIABLES_MISMATCH',
          message: `template.variables must give a value to exactly the variables of ${SID} ("1", "2"): no value for variable "2" (sample: "May 5"); the template has no variable "3".`,
          details: [
            {
              path: 'template.variables.2',
              message: 'no value for variable "2" (sample: "May 5")',
              variable: '2',
            },
            { path: 'template.variables.3', message: 'the template has no variable "3"', variable: '3' },
          ],
        },
      },
    });
    const none = refusal(() => checkBroadcastTemplate(SID, template({ variables: {} }), { '1': 'x' }));
    expect(none.body).toMatchObject({
      error: { code: 'TEMPLATE_VARIABLES_MISMATCH', message: expect.stringContaining('(it has none)') },
    });
  });

  it('variableMismatch lists the template variables without a value when none is given', () => {
    expect(variableMismatch(template(), {}).map((d) => d.variable)).toEqual(['1', '2']);
    expect(variableMismatch({ variables: { '1': '' } }, {})).toEqual([
      { path: 'template.variables.1', message: 'no value for variable "1"', variable: '1' },
    ]);
  });
});

describe('checkTemplateInRegistry', () => {
  const registry = (get: () => Promise<Template | undefined>) => ({ list: async () => [], get });

  it('looks the SID up and checks it', async () => {
    await expect(
      checkTemplateInRegistry(
        registry(async () => template()),
        { contentSid: SID, variables: { '1': 'a', '2': 'b' } },
      ),
    ).resolves.toMatchObject({ contentSid: SID });
    await expect(
      checkTemplateInRegistry(
        registry(async () => undefined),
        { contentSid: SID },
      ),
    ).rejects.toMatchObject({
      code: 'TEMPLATE_NOT_FOUND',
    });
  });

  it('answers 503 PROVIDER_UNAVAILABLE (Retry-After) when Twilio does not answer, PROVIDER_NOT_CONFIGURED when it refuses the credentials', async () => {
    const down = registry(async () => {
      throw new TemplateRegistryError(
        'unavailable',
        'Could not fetch Content template: ETIMEDOUT: timeout of 5000ms exceeded',
      );
    });
    const error = await checkTemplateInRegistry(down, { contentSid: SID }).catch((e: unknown) => e);
    expect(errorResponse(error)).toEqual({
      statusCode: 503,
      headers: { 'Retry-After': '5' },
      body: {
        error: {
          code: 'PROVIDER_UNAVAILABLE',
          message: `Twilio's Content API did not answer, so template ${SID} could not be checked; nothing was stored. Try again in a few seconds.`,
          details: [
            {
              path: 'template.contentSid',
              message: 'Could not fetch Content template: ETIMEDOUT: timeout of 5000ms exceeded',
              dependency: 'twilio-content-api',
            },
          ],
        },
      },
    });
    const refused = registry(async () => {
      throw new TemplateRegistryError('unauthorized', 'Twilio answered HTTP 401 (20003)');
    });
    await expect(checkTemplateInRegistry(refused, { contentSid: SID })).rejects.toMatchObject({
      code: 'PROVIDER_NOT_CONFIGURED',
      status: 503,
    });
  });

  it('lets any other failure through (answered 500 INTERNAL by the route)', async () => {
    const broken = registry(async () => {
      throw new TypeError('bug');
    });
    await expect(checkTemplateInRegistry(broken, { contentSid: SID })).rejects.toBeInstanceOf(TypeError);
  });

  it('registryFailure without a SID (the list route) does not speak of storing', () => {
    const failure = registryFailure(new TemplateRegistryError('unavailable', 'HTTP 503'));
    expect(failure.message).toBe("Twilio's Content API did not answer; try again in a few seconds.");
    expect(failure.details).toEqual([{ message: 'HTTP 503', dependency: 'twilio-content-api' }]);
  });
});

describe('marketing templates to US numbers', () => {
  it('are blocked for US numbers only: not Canada, Puerto Rico, Guam, nor an area code libphonenumber cannot place', () => {
    const marketing = { category: 'MARKETING' as const };
    expect(marketingBlockedFor(marketing, '+12125551234')).toBe(true);
    expect(marketingBlockedFor(marketing, '+14155238886')).toBe(true);
    for (const phone of ['+16135551234', '+17875551234', '+16715551234', '+19995551234', '+972501234567'])
      expect(marketingBlockedFor(marketing, phone), phone).toBe(false);
    for (const category of ['UTILITY', 'AUTHENTICATION', null] as const)
      expect(marketingBlockedFor({ category }, '+12125551234')).toBe(false);
    expect(isUsNumber('+442071234567')).toBe(false);
  });
});
