/**
 * Template variable mapping: what the admin picks for each of a template's variables, and the
 * `template.variables` value POST /v1/broadcasts takes (README, "Template variables"): a literal,
 * `{{key}}` (the recipient's own variable, else the contact's name or attribute `key`), or
 * `{{key|fallback}}`.
 */
export type VariableSource = 'name' | 'attribute' | 'literal';

export interface VariableMapping {
  source: VariableSource;
  /** The attribute key (source 'attribute') or the text (source 'literal'). */
  value: string;
  /** Used when the contact has no value (sources 'name' and 'attribute'). */
  fallback: string;
}

/** The template's variable keys in numeric order ("1", "2", … then named ones). */
export function variableKeys(variables: Readonly<Record<string, string>>): string[] {
  return Object.keys(variables).sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    if (Number.isInteger(na) && Number.isInteger(nb)) return na - nb;
    return a.localeCompare(b);
  });
}

/**
 * A first guess: the first variable is the contact's name, the rest text the admin writes. Nothing is
 * taken from the template's sample values (Twilio's examples, such as "Dana" or "May 5"): a sample
 * left as a fallback or a text would go to real people, so each text is empty until written (the form
 * names it as missing) and the samples are only shown as placeholders.
 */
export function defaultMappings(
  variables: Readonly<Record<string, string>>,
): Record<string, VariableMapping> {
  const out: Record<string, VariableMapping> = {};
  variableKeys(variables).forEach((key, index) => {
    out[key] =
      index === 0
        ? { source: 'name', value: '', fallback: '' }
        : { source: 'literal', value: '', fallback: '' };
  });
  return out;
}

/** `|` and braces would end the placeholder early: they cannot be part of a key or a fallback. */
function clean(text: string): string {
  return text.replace(/[{}|]/g, '').trim();
}

/** One mapping → the value API.md takes. An attribute without a key is an error (undefined). */
export function variableValue(mapping: VariableMapping): string | undefined {
  if (mapping.source === 'literal') return mapping.value;
  const key = mapping.source === 'name' ? 'name' : clean(mapping.value);
  if (!key) return undefined;
  const fallback = clean(mapping.fallback);
  return fallback ? `{{${key}|${fallback}}}` : `{{${key}}}`;
}

/** Every mapping → `template.variables`, and the keys left without a usable value. */
export function compileVariables(mappings: Readonly<Record<string, VariableMapping>>): {
  variables: Record<string, string>;
  missing: string[];
} {
  const variables: Record<string, string> = {};
  const missing: string[] = [];
  for (const [key, mapping] of Object.entries(mappings)) {
    const value = variableValue(mapping);
    if (value === undefined || value === '') missing.push(key);
    else variables[key] = value;
  }
  return { variables, missing };
}

/** The template body with each {{n}} replaced by a sample's values, for the preview. */
export function fillBody(body: string, values: Readonly<Record<string, string>>): string {
  return body.replace(/\{\{\s*([^}\s]+)\s*\}\}/g, (whole, key: string) => values[key] ?? whole);
}
