/**
 * Per-recipient template variables (API.md: `template.variables` values may reference the
 * recipient's variables as `{{key}}`).
 *
 * `{ "1": "{{name}}", "2": "May 5" }` with a recipient `{ name: "Dana" }` → `{ "1": "Dana", "2": "May 5" }`,
 * the object that becomes Twilio's `ContentVariables` (JSON-encoded by the messenger).
 */

// `{{ key }}`: any run of characters without braces, whitespace around the key tolerated.
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

export type RenderResult = { ok: true; variables: Record<string, string> } | { ok: false; missing: string[] };

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
 * Fills every `{{key}}` in each template variable value with the recipient's value.
 * A placeholder whose recipient value is absent, or empty/blank (WhatsApp refuses empty template
 * parameters), is reported in `missing` (each key once, in order of first use); nothing is
 * rendered then. Values without placeholders pass unchanged; a recipient value is inserted as is
 * (never re-scanned for placeholders). `{{}}` (no key) is left as written.
 */
export function renderTemplateVariables(
  templateVariables: Record<string, string> | undefined,
  recipientVariables: Record<string, string>,
): RenderResult {
  if (!templateVariables) return { ok: true, variables: {} };
  const missing: string[] = [];
  const entries: [string, string][] = [];
  for (const [name, template] of Object.entries(templateVariables)) {
    const rendered = template.includes('{{')
      ? template.replace(PLACEHOLDER, (whole, key: string) => {
          if (!key) return whole;
          const value = Object.hasOwn(recipientVariables, key) ? recipientVariables[key] : undefined;
          if (typeof value !== 'string' || value.trim() === '') {
            if (!missing.includes(key)) missing.push(key);
            return whole;
          }
          return value;
        })
      : template;
    entries.push([name, rendered]);
  }
  // Object.fromEntries defines own properties, so even a key named `__proto__` stays data.
  return missing.length > 0 ? { ok: false, missing } : { ok: true, variables: Object.fromEntries(entries) };
}
