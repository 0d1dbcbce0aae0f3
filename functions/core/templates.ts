import type { AcceptedRecipient, InvalidRecipient } from './phones.ts';
import { parameterViolation } from './template-parameters.ts';

/**
 * Per-recipient template variables (API.md: `template.variables` values may reference the
 * recipient's variables as `{{key}}`, or `{{key|fallback}}` to use `fallback` when the recipient
 * has none).
 *
 * `{ "1": "{{name|Farmer}}", "2": "May 5" }` with a recipient `{ name: "Dana" }` → `{ "1": "Dana", "2": "May 5" }`,
 * and with a plain-string recipient (no variables) → `{ "1": "Farmer", "2": "May 5" }`: the object
 * that becomes Twilio's `ContentVariables` (JSON-encoded by the messenger). Every rendered value
 * must be a parameter WhatsApp accepts (template-parameters.ts).
 */

// `{{ key }}` or `{{ key | fallback }}`: a key without braces or `|`, whitespace around it tolerated;
// the fallback is everything after the first `|` up to the closing braces, trimmed.
const PLACEHOLDER = /\{\{\s*([^{}|]*?)\s*(?:\|([^{}]*))?\}\}/g;

export type RenderResult =
  | { ok: true; variables: Record<string, string> }
  /** A placeholder without a fallback found no value (each key once, in order of first use). */
  | { ok: false; reason: 'missing_variables'; missing: string[] }
  /** A rendered value WhatsApp would refuse: the first such template variable and why. */
  | { ok: false; reason: 'invalid_variable'; variable: string; message: string };

/** The recipient variable keys the template variables reference, in order of first use. */
export function placeholdersOf(templateVariables: Record<string, string> | undefined): Set<string> {
  const keys = new Set<string>();
  if (!templateVariables) return keys;
  for (const value of Object.values(templateVariables)) {
    for (const m of value.matchAll(PLACEHOLDER)) {
      const key = m[1] ?? '';
      if (key) keys.add(key);
    }
  }
  return keys;
}

/**
 * Fills every `{{key}}` / `{{key|fallback}}` in each template variable value: the recipient's value
 * when it has one that is not empty or blank, else the fallback. A placeholder left without either
 * is reported in `missing` (reason `missing_variables`) and nothing is rendered. Then each rendered
 * value is checked against WhatsApp's parameter rules: the first one that breaks a rule is reported
 * (reason `invalid_variable`, naming the template variable, e.g. `"1"`, and the rule, e.g.
 * `contains a newline`), missing values first. Values without placeholders pass unchanged (and are
 * checked too, although the request's validation, `templateVariableProblems`, refuses a bad one
 * before any recipient is rendered); an inserted value is never re-scanned for placeholders.
 * `{{}}` (no key) is left as written.
 */
export function renderTemplateVariables(
  templateVariables: Record<string, string> | undefined,
  recipientVariables: Record<string, string>,
): RenderResult {
  if (!templateVariables) return { ok: true, variables: {} };
  const missing: string[] = [];
  const entries: [string, string][] = Object.entries(templateVariables).map(([name, template]) => [
    name,
    template.includes('{{')
      ? template.replace(PLACEHOLDER, (whole, key: string, fallback: string | undefined) => {
          if (!key) return whole;
          const own = Object.hasOwn(recipientVariables, key) ? recipientVariables[key] : undefined;
          if (typeof own === 'string' && own.trim() !== '') return own;
          const alternative = fallback?.trim();
          if (alternative) return alternative;
          if (!missing.includes(key)) missing.push(key);
          return whole;
        })
      : template,
  ]);
  if (missing.length > 0) return { ok: false, reason: 'missing_variables', missing };
  for (const [name, value] of entries) {
    const violation = parameterViolation(value);
    if (violation)
      return { ok: false, reason: 'invalid_variable', variable: name, message: violation.message };
  }
  // Object.fromEntries defines own properties, so even a key named `__proto__` stays data.
  return { ok: true, variables: Object.fromEntries(entries) };
}

/**
 * One accepted recipient's `ContentVariables`, or its invalid entry for the 202:
 * `{ input, reason: 'missing_variables', index, missing: ['city'] }` or
 * `{ input, reason: 'invalid_variable', index, variable: '1', message: 'contains a newline' }`.
 */
export function renderForRecipient(
  templateVariables: Record<string, string> | undefined,
  recipient: AcceptedRecipient,
): { ok: true; variables: Record<string, string> } | { ok: false; invalid: InvalidRecipient } {
  const rendered = renderTemplateVariables(templateVariables, recipient.variables);
  if (rendered.ok) return rendered;
  const entry = { input: recipient.phone, index: recipient.index };
  return rendered.reason === 'missing_variables'
    ? { ok: false, invalid: { ...entry, reason: 'missing_variables', missing: rendered.missing } }
    : {
        ok: false,
        invalid: {
          ...entry,
          reason: 'invalid_variable',
          variable: rendered.variable,
          message: rendered.message,
        },
      };
}

/**
 * What is wrong with the template variables themselves, whoever the recipient: a value without
 * placeholders that breaks a parameter rule (`contains a newline`), a fallback that does (`the
 * fallback of {{name}} is empty`), or text around placeholders that does whatever is inserted
 * (a tab, a newline, more than 4 spaces in a row, or too long even with one character per
 * placeholder). For the request's validation: each problem names its template variable.
 */
export function templateVariableProblems(
  templateVariables: Record<string, string> | undefined,
): { variable: string; message: string }[] {
  const problems: { variable: string; message: string }[] = [];
  for (const [variable, template] of Object.entries(templateVariables ?? {})) {
    const fallbackProblems: string[] = [];
    // The text as every recipient gets it, each placeholder standing for a one-character value.
    const skeleton = template.replace(PLACEHOLDER, (whole, key: string, fallback: string | undefined) => {
      if (!key) return whole;
      if (fallback !== undefined) {
        const violation = parameterViolation(fallback.trim());
        if (violation) fallbackProblems.push(`the fallback of {{${key}}} ${violation.message}`);
      }
      return 'x';
    });
    const violation = parameterViolation(skeleton);
    if (violation) problems.push({ variable, message: violation.message });
    for (const message of fallbackProblems) problems.push({ variable, message });
  }
  return problems;
}
