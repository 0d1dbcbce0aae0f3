/**
 * What WhatsApp (Meta) and Twilio accept as a template parameter: the value of one
 * `ContentVariables` entry. One module for both sides of the twin: the create route checks every
 * rendered value with it (templates.ts, so a value Meta would refuse makes its recipient invalid
 * before the 202) and the Twilio simulator checks what it receives with it and answers what Twilio
 * answers (lib/local/twilio-simulator.ts), so the product and the twin cannot disagree.
 *
 * Sources (checked 2026-11):
 * - Twilio error 21656, https://www.twilio.com/docs/api/errors/21656: the create call answers
 *   HTTP 400, code 21656 "The ContentVariables Parameter is invalid" when a variable is null or an
 *   empty string, or "a variable value used in the body contains a newline, a tab, or more than
 *   four consecutive spaces".
 * - Meta's own wording of the same rule, as the Cloud API answers it: "Param text cannot have
 *   new-line/tab characters or more than 4 consecutive spaces" (reported in
 *   https://github.com/netflie/whatsapp-cloud-api/issues/201).
 * - Twilio error 63021, https://www.twilio.com/docs/api/errors/63021: "Length of the parameters and
 *   the template text exceeds the allowed length of 1024 for WhatsApp": Twilio accepts the create
 *   and the message then fails with 63021. Meta's body component is at most 1,024 characters
 *   (https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/components),
 *   so no body parameter can be longer; the template's own text counts too, which only a check
 *   against the template's body could see.
 * - Twilio Content API, https://www.twilio.com/docs/content/using-variables-with-content-api:
 *   variable keys have no spaces and at most 16 characters, at most 100 variables per template
 *   (values up to 1,600 characters, but WhatsApp's 1,024 above is the tighter limit).
 */

/** Meta's longest template body; a parameter in it can be no longer (Twilio 63021). UTF-16 code units. */
export const MAX_PARAMETER_LENGTH = 1024;
/** Meta refuses a parameter with more than this many spaces in a row (Twilio 21656). */
export const MAX_CONSECUTIVE_SPACES = 4;
/** Twilio Content API: a variable key (`"1"`, `"IdName"`) has at most 16 characters and no spaces. */
export const MAX_CONTENT_VARIABLE_KEY_LENGTH = 16;
/** Twilio Content API: at most 100 variables per template. */
export const MAX_CONTENT_VARIABLES = 100;

export type ParameterRule = 'empty' | 'newline' | 'tab' | 'spaces' | 'too_long';

export interface ParameterViolation {
  readonly rule: ParameterRule;
  /** For a person, about the value: `contains a newline`. */
  readonly message: string;
}

/**
 * What Twilio does when a `ContentVariables` value breaks a rule: refuse the create (HTTP 400,
 * nothing is sent) or accept it and fail the message (a `failed` status callback).
 */
export type TwilioAnswer =
  | { readonly at: 'create'; readonly httpStatus: 400; readonly code: 21656; readonly message: string }
  | { readonly at: 'delivery'; readonly code: 63021; readonly message: string };

const INVALID_CONTENT_VARIABLES: TwilioAnswer = {
  at: 'create',
  httpStatus: 400,
  code: 21656,
  message: 'The ContentVariables Parameter is invalid.',
};

/** Per rule, Twilio's answer (sources above). */
export const TWILIO_ANSWERS: Readonly<Record<ParameterRule, TwilioAnswer>> = {
  empty: INVALID_CONTENT_VARIABLES,
  newline: INVALID_CONTENT_VARIABLES,
  tab: INVALID_CONTENT_VARIABLES,
  spaces: INVALID_CONTENT_VARIABLES,
  too_long: { at: 'delivery', code: 63021, message: 'Channel invalid content error' },
};

const NEWLINE = /[\r\n]/;
const TOO_MANY_SPACES = new RegExp(` {${MAX_CONSECUTIVE_SPACES + 1},}`);

/**
 * The first rule `value` breaks, or undefined when WhatsApp takes it as a parameter. In order:
 * empty or only whitespace, a newline (`\n` or `\r`), a tab, more than 4 spaces in a row, longer
 * than 1,024 (UTF-16 code units, as JavaScript counts: an emoji counts 2, never fewer than Meta
 * counts, so a value accepted here is not refused for its length).
 */
export function parameterViolation(value: string): ParameterViolation | undefined {
  if (value.trim() === '') return { rule: 'empty', message: 'is empty' };
  if (NEWLINE.test(value)) return { rule: 'newline', message: 'contains a newline' };
  if (value.includes('\t')) return { rule: 'tab', message: 'contains a tab' };
  if (TOO_MANY_SPACES.test(value))
    return { rule: 'spaces', message: `has more than ${MAX_CONSECUTIVE_SPACES} consecutive spaces` };
  if (value.length > MAX_PARAMETER_LENGTH)
    return {
      rule: 'too_long',
      message: `is ${value.length} characters long; WhatsApp takes at most ${MAX_PARAMETER_LENGTH}`,
    };
  return undefined;
}

/**
 * The first variable (in key order) of a `ContentVariables` object that breaks a rule, with its
 * violation; undefined when all are acceptable. `null` counts as empty (Twilio 21656).
 */
export function contentVariablesViolation(
  variables: Readonly<Record<string, string | null>>,
): { readonly variable: string; readonly violation: ParameterViolation } | undefined {
  for (const [variable, value] of Object.entries(variables)) {
    const violation = parameterViolation(value ?? '');
    if (violation) return { variable, violation };
  }
  return undefined;
}
