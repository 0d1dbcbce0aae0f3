import type { ReactNode } from 'react';
import { defaultMappings, type VariableMapping, variableKeys } from '../logic/variables.ts';
import { t } from '../messages.ts';
import type { Template } from '../types.ts';

/**
 * An approved template (GET /v1/templates), its body, and where each of its variables comes from:
 * the contact's name, one of its attributes (each with a fallback), or fixed text.
 */
export function TemplateFields(props: {
  idPrefix: string;
  templates: readonly Template[];
  contentSid: string;
  mappings: Record<string, VariableMapping>;
  onChange: (next: { contentSid: string; mappings: Record<string, VariableMapping> }) => void;
}): ReactNode {
  const { idPrefix: p, templates, contentSid, mappings, onChange } = props;
  const template = templates.find((x) => x.contentSid === contentSid);
  const setMapping = (key: string, patch: Partial<VariableMapping>) =>
    onChange({
      contentSid,
      mappings: { ...mappings, [key]: { ...(mappings[key] as VariableMapping), ...patch } },
    });
  return (
    <>
      <label htmlFor={`${p}-template`}>{t.compose.template}</label>
      <select
        id={`${p}-template`}
        value={contentSid}
        onChange={(e) => {
          const next = templates.find((x) => x.contentSid === e.target.value);
          onChange({ contentSid: e.target.value, mappings: next ? defaultMappings(next.variables) : {} });
        }}
      >
        <option value="">{t.compose.chooseTemplate}</option>
        {templates.map((x) => (
          <option key={x.contentSid} value={x.contentSid}>
            {x.friendlyName} ({x.language})
          </option>
        ))}
      </select>
      {template && (
        <>
          <h2 className="sub">{t.compose.body}</h2>
          <blockquote className="template-body">{template.body}</blockquote>
          {variableKeys(template.variables).map((key) => {
            const m = mappings[key];
            if (!m) return null;
            return (
              <fieldset key={key} className="variable">
                <legend>{t.compose.variable(key)}</legend>
                <label htmlFor={`${p}-src-${key}`}>{t.compose.source(key)}</label>
                <select
                  id={`${p}-src-${key}`}
                  value={m.source}
                  onChange={(e) =>
                    setMapping(key, { source: e.target.value as VariableMapping['source'], value: '' })
                  }
                >
                  <option value="name">{t.compose.fromName}</option>
                  <option value="attribute">{t.compose.fromAttribute}</option>
                  <option value="literal">{t.compose.fromLiteral}</option>
                </select>
                {m.source !== 'name' && (
                  <>
                    <label htmlFor={`${p}-val-${key}`}>
                      {m.source === 'attribute' ? t.compose.attribute(key) : t.compose.literal(key)}
                    </label>
                    <input
                      id={`${p}-val-${key}`}
                      value={m.value}
                      placeholder={t.compose.samplePlaceholder(template.variables[key] ?? '')}
                      onChange={(e) => setMapping(key, { value: e.target.value })}
                    />
                  </>
                )}
                {m.source !== 'literal' && (
                  <>
                    <label htmlFor={`${p}-fb-${key}`}>{t.compose.fallback(key)}</label>
                    <input
                      id={`${p}-fb-${key}`}
                      value={m.fallback}
                      placeholder={t.compose.fallbackPlaceholder}
                      onChange={(e) => setMapping(key, { fallback: e.target.value })}
                    />
                  </>
                )}
              </fieldset>
            );
          })}
        </>
      )}
    </>
  );
}
