import { describe, expect, it } from 'vitest';
import { placeholdersOf, renderTemplateVariables } from '../../functions/core/templates.ts';

describe('renderTemplateVariables', () => {
  it("fills {{name}} with the recipient's value and leaves fixed values alone", () => {
    expect(renderTemplateVariables({ '1': '{{name}}', '2': 'May 5' }, { name: 'Dana' })).toEqual({
      ok: true,
      variables: { '1': 'Dana', '2': 'May 5' },
    });
  });

  it('fills several placeholders in one value and tolerates spaces inside the braces', () => {
    expect(
      renderTemplateVariables(
        { '1': 'Hi {{ name }}, ward {{ward}} ({{name}})' },
        { name: 'Dana', ward: '7' },
      ),
    ).toEqual({ ok: true, variables: { '1': 'Hi Dana, ward 7 (Dana)' } });
  });

  it('reports a missing recipient variable instead of sending a broken message', () => {
    expect(renderTemplateVariables({ '1': '{{name}}', '2': '{{ward}} {{name}}' }, { ward: '7' })).toEqual({
      ok: false,
      missing: ['name'],
    });
    expect(renderTemplateVariables({ '1': '{{name}}', '2': '{{ward}}' }, {})).toEqual({
      ok: false,
      missing: ['name', 'ward'],
    });
  });

  it('treats an empty or blank recipient value as missing (WhatsApp refuses empty parameters)', () => {
    expect(renderTemplateVariables({ '1': '{{name}}' }, { name: '  ' })).toEqual({
      ok: false,
      missing: ['name'],
    });
  });

  it('does not read inherited properties as recipient values', () => {
    expect(renderTemplateVariables({ '1': '{{toString}}' }, {})).toEqual({
      ok: false,
      missing: ['toString'],
    });
  });

  it('inserts a value as is, without expanding placeholders inside it', () => {
    expect(renderTemplateVariables({ '1': '{{a}}' }, { a: '{{b}}', b: 'no' })).toEqual({
      ok: true,
      variables: { '1': '{{b}}' },
    });
  });

  it('works without template variables', () => {
    expect(renderTemplateVariables(undefined, { name: 'Dana' })).toEqual({ ok: true, variables: {} });
    expect(renderTemplateVariables({}, {})).toEqual({ ok: true, variables: {} });
  });

  it('leaves {{}} and single braces as written', () => {
    expect(renderTemplateVariables({ '1': '{{}} {x} {{y' }, {})).toEqual({
      ok: true,
      variables: { '1': '{{}} {x} {{y' },
    });
  });
});

describe('placeholdersOf', () => {
  it('lists the recipient keys the template references', () => {
    expect([...placeholdersOf({ '1': 'Hi {{name}}', '2': '{{ ward }} {{name}}', '3': 'fixed' })]).toEqual([
      'name',
      'ward',
    ]);
    expect(placeholdersOf(undefined).size).toBe(0);
  });
});
