import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { type Template, type TemplateRegistry, TemplateRegistryError } from './content-templates.ts';
import { ApiError, type ErrorDetail } from './errors.ts';
import type { TemplateSpec } from './ports.ts';

/**
 * What POST /v1/broadcasts checks of its template against the registry (API.md "Templates"), and
 * who must not be sent it. Each refusal is a 400 that writes nothing:
 *
 * - TEMPLATE_NOT_FOUND: the account has no Content template with this SID;
 * - TEMPLATE_NOT_APPROVED: WhatsApp has not approved it (pending, rejected, paused, disabled,
 *   unsubmitted); the message says its status, and Meta's reason when it was rejected;
 * - TEMPLATE_VARIABLES_MISMATCH: `template.variables` names a variable the template does not have,
 *   or leaves one of its variables without a value; `details` names each.
 */

const SID_PATH = 'template.contentSid';

/**
 * The broadcast's template, looked up in the registry and checked (checkBroadcastTemplate); a
 * registry that cannot be read is answered by `registryFailure` (503), never a 500.
 */
export async function checkTemplateInRegistry(
  registry: TemplateRegistry,
  spec: TemplateSpec,
): Promise<Template> {
  let template: Template | undefined;
  try {
    template = await registry.get(spec.contentSid);
  } catch (error) {
    if (error instanceof TemplateRegistryError) throw registryFailure(error, spec.contentSid);
    throw error;
  }
  return checkBroadcastTemplate(spec.contentSid, template, spec.variables);
}

/** The template if a broadcast may use it with these variables; an ApiError (400) otherwise. */
export function checkBroadcastTemplate(
  contentSid: string,
  template: Template | undefined,
  variables: Readonly<Record<string, string>> | undefined,
): Template {
  if (!template)
    throw new ApiError(
      'TEMPLATE_NOT_FOUND',
      `The Twilio account has no Content template ${contentSid}: pick one from GET /v1/templates.`,
      [{ path: SID_PATH, message: 'no Content template with this SID in the Twilio account', contentSid }],
    );
  if (template.approval !== 'approved') {
    const why = template.rejectionReason ? ` (${template.rejectionReason.replace(/[.\s]+$/, '')})` : '';
    throw new ApiError(
      'TEMPLATE_NOT_APPROVED',
      `Template ${contentSid} (${template.friendlyName || 'unnamed'}) is not approved for WhatsApp: its status is ${template.approval}${why}. Only approved templates can start a conversation.`,
      [
        {
          path: SID_PATH,
          message: `WhatsApp approval is ${template.approval}`,
          approval: template.approval,
          ...(template.rejectionReason ? { rejectionReason: template.rejectionReason } : {}),
        },
      ],
    );
  }
  const mismatch = variableMismatch(template, variables ?? {});
  if (mismatch.length > 0) {
    const expected = Object.keys(template.variables);
    throw new ApiError(
      'TEMPLATE_VARIABLES_MISMATCH',
      `template.variables must give a value to exactly the variables of ${contentSid} (${
        expected.length > 0 ? expected.map((v) => `"${v}"`).join(', ') : 'it has none'
      }): ${mismatch.map((d) => d.message).join('; ')}.`,
      mismatch,
    );
  }
  return template;
}

/**
 * One detail per variable that does not match, in the template's order then the request's:
 * `{ path: 'template.variables.3', message: 'the template has no variable "3"', variable: '3' }`,
 * `{ path: 'template.variables.2', message: 'no value for variable "2" (sample: "May 5")', variable: '2' }`.
 */
export function variableMismatch(
  template: Pick<Template, 'variables'>,
  variables: Readonly<Record<string, string>>,
): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const [variable, sample] of Object.entries(template.variables))
    if (!Object.hasOwn(variables, variable))
      details.push({
        path: `template.variables.${variable}`,
        message: `no value for variable "${variable}"${sample ? ` (sample: "${sample}")` : ''}`,
        variable,
      });
  for (const variable of Object.keys(variables))
    if (!Object.hasOwn(template.variables, variable))
      details.push({
        path: `template.variables.${variable}`,
        message: `the template has no variable "${variable}"`,
        variable,
      });
  return details;
}

/**
 * Whether Meta refuses this template to this number: a MARKETING template to a US number.
 *
 * Source: Twilio error 63049, https://www.twilio.com/docs/api/errors/63049 ("Starting April 1, 2025,
 * recipients in the U.S. cannot receive WhatsApp marketing template messages"); Meta's notice names
 * the numbers: "+1 dialing code and a US area code". So the rule is the United States only, not the
 * whole +1 (NANP) zone: Canada (+1 613), Puerto Rico (+1 787), Guam and the Caribbean are delivered.
 * The country is libphonenumber's reading of the area code; a +1 number whose area code it cannot
 * place is not treated as US.
 */
export function marketingBlockedFor(template: Pick<Template, 'category'>, phone: string): boolean {
  return template.category === 'MARKETING' && isUsNumber(phone);
}

export function isUsNumber(e164: string): boolean {
  if (!e164.startsWith('+1')) return false;
  return parsePhoneNumberFromString(e164)?.country === 'US';
}

/**
 * What the API answers when the registry could not be read: the wrong credentials are
 * PROVIDER_NOT_CONFIGURED; anything else (timeout, network, Twilio 5xx or 429) is
 * PROVIDER_UNAVAILABLE with `Retry-After`. With `contentSid` (the create route's check) the message
 * says that nothing was stored.
 */
export function registryFailure(error: TemplateRegistryError, contentSid?: string): ApiError {
  const details = [
    { ...(contentSid ? { path: SID_PATH } : {}), message: error.message, dependency: 'twilio-content-api' },
  ];
  if (error.kind === 'unauthorized')
    return new ApiError(
      'PROVIDER_NOT_CONFIGURED',
      "Twilio refused this deployment's account SID or auth token when reading its Content templates: check them.",
      details,
    );
  return new ApiError(
    'PROVIDER_UNAVAILABLE',
    contentSid
      ? `Twilio's Content API did not answer, so template ${contentSid} could not be checked; nothing was stored. Try again in a few seconds.`
      : "Twilio's Content API did not answer; try again in a few seconds.",
    details,
    { 'Retry-After': String(PROVIDER_RETRY_AFTER_SECONDS) },
  );
}

/** What PROVIDER_UNAVAILABLE's Retry-After says (seconds). */
export const PROVIDER_RETRY_AFTER_SECONDS = 5;
