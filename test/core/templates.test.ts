import { describe, expect, it } from 'vitest';
import {
  contentVariablesViolation,
  MAX_PARAMETER_LENGTH,
  parameterViolation,
  TWILIO_ANSWERS,
} from '../../functions/core/template-parameters.ts';
import {
  placeholdersOf,
  renderForRecipient,
  renderTemplateVariables,
  templateVariableProblems,
} from '../../functions/core/templates.ts';

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
      reason: 'missing_variables',
      missing: ['name'],
    });
    expect(renderTemplateVariables({ '1': '{{name}}', '2': '{{ward}}' }, {})).toEqual({
      ok: false,
      reason: 'missing_variables',
      missing: ['name', 'ward'],
    });
  });

  it('treats an empty or blank recipient value as missing (WhatsApp refuses empty parameters)', () => {
    expect(renderTemplateVariables({ '1': '{{name}}' }, { name: '  ' })).toEqual({
      ok: false,
      reason: 'missing_variables',
      missing: ['name'],
    });
  });

  it('does not read inherited properties as recipient values', () => {
    expect(renderTemplateVariables({ '1': '{{toString}}' }, {})).toEqual({
      ok: false,
      reason: 'missing_variables',
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

describe('fallbacks: {{key|fallback}}', () => {
  const template = { '1': '{{name|Farmer}}', '2': 'May 5' };

  it("uses the recipient's value when there is one", () => {
    expect(renderTemplateVariables(template, { name: 'Dana' })).toEqual({
      ok: true,
      variables: { '1': 'Dana', '2': 'May 5' },
    });
  });

  it('uses the fallback when the recipient has no value (a plain-string recipient has none)', () => {
    expect(renderTemplateVariables(template, {})).toEqual({
      ok: true,
      variables: { '1': 'Farmer', '2': 'May 5' },
    });
  });

  it('uses the fallback when the value is blank', () => {
    expect(renderTemplateVariables(template, { name: '   ' })).toEqual({
      ok: true,
      variables: { '1': 'Farmer', '2': 'May 5' },
    });
    expect(renderTemplateVariables(template, { name: '' })).toEqual({
      ok: true,
      variables: { '1': 'Farmer', '2': 'May 5' },
    });
  });

  it('keeps the spaces inside a fallback and trims those around it', () => {
    expect(renderTemplateVariables({ '1': 'Dear {{ name | dear farmer }}!' }, {})).toEqual({
      ok: true,
      variables: { '1': 'Dear dear farmer!' },
    });
    expect(renderTemplateVariables({ '1': '{{name|a | b}}' }, {})).toEqual({
      ok: true,
      variables: { '1': 'a | b' },
    });
  });

  it('mixes placeholders with and without fallbacks: only those without one can be missing', () => {
    expect(renderTemplateVariables({ '1': '{{name|Farmer}} of {{ward}}' }, {})).toEqual({
      ok: false,
      reason: 'missing_variables',
      missing: ['ward'],
    });
    expect(placeholdersOf({ '1': '{{name|Farmer}} of {{ward}}' })).toEqual(new Set(['name', 'ward']));
  });
});

describe('WhatsApp parameter rules, per rendered value', () => {
  const note = { '1': 'Hi {{name}}', '2': '{{note}}' };
  const invalid = (variable: string, message: string) => ({
    ok: false,
    reason: 'invalid_variable',
    variable,
    message,
  });

  it('refuses a newline, naming the template variable', () => {
    expect(renderTemplateVariables(note, { name: 'Dana', note: 'first line\nsecond line' })).toEqual(
      invalid('2', 'contains a newline'),
    );
    expect(renderTemplateVariables(note, { name: 'Dana', note: 'windows\r\nline' })).toEqual(
      invalid('2', 'contains a newline'),
    );
    expect(renderTemplateVariables(note, { name: 'Da\rna', note: 'x' })).toEqual(
      invalid('1', 'contains a newline'),
    );
  });

  it('refuses a tab', () => {
    expect(renderTemplateVariables(note, { name: 'Dana', note: 'a\tb' })).toEqual(
      invalid('2', 'contains a tab'),
    );
  });

  it('refuses more than 4 consecutive spaces, and takes exactly 4', () => {
    expect(renderTemplateVariables(note, { name: 'Dana', note: 'wide     gap' })).toEqual(
      invalid('2', 'has more than 4 consecutive spaces'),
    );
    expect(renderTemplateVariables(note, { name: 'Dana', note: 'wide    gap' })).toEqual({
      ok: true,
      variables: { '1': 'Hi Dana', '2': 'wide    gap' },
    });
  });

  it('counts the spaces the template text adds around an inserted value', () => {
    expect(renderTemplateVariables({ '1': 'Hi   {{name}}' }, { name: '  Dana' })).toEqual(
      invalid('1', 'has more than 4 consecutive spaces'),
    );
  });

  it(`takes a rendered value of ${MAX_PARAMETER_LENGTH} characters and refuses one over`, () => {
    const atLimit = 'x'.repeat(MAX_PARAMETER_LENGTH - 'Hi '.length);
    expect(renderTemplateVariables({ '1': 'Hi {{name}}' }, { name: atLimit })).toEqual({
      ok: true,
      variables: { '1': `Hi ${atLimit}` },
    });
    expect(renderTemplateVariables({ '1': 'Hi {{name}}' }, { name: `${atLimit}x` })).toEqual(
      invalid('1', 'is 1025 characters long; WhatsApp takes at most 1024'),
    );
  });

  it('reports missing values before rule breaks, and the first variable that breaks a rule', () => {
    expect(renderTemplateVariables({ '1': '{{a}}', '2': '{{b}}' }, { a: 'x\ty' })).toEqual({
      ok: false,
      reason: 'missing_variables',
      missing: ['b'],
    });
    expect(renderTemplateVariables({ '1': '{{a}}', '2': '{{b}}' }, { a: 'x\ty', b: 'p\nq' })).toEqual(
      invalid('1', 'contains a tab'),
    );
  });

  it("a fallback's value follows the same rules", () => {
    expect(renderTemplateVariables({ '1': '{{name|dear  }}   x' }, {})).toEqual({
      ok: true,
      variables: { '1': 'dear   x' },
    });
    expect(renderTemplateVariables({ '1': 'Dear {{name|farmer}}     x' }, {})).toEqual(
      invalid('1', 'has more than 4 consecutive spaces'),
    );
  });
});

describe('renderForRecipient: the invalid entry the 202 lists', () => {
  const recipient = (variables: Record<string, string>) => ({ phone: '+972501234567', variables, index: 3 });

  it('names the variable and the rule', () => {
    expect(renderForRecipient({ '1': '{{note}}' }, recipient({ note: 'a\tb' }))).toEqual({
      ok: false,
      invalid: {
        input: '+972501234567',
        reason: 'invalid_variable',
        index: 3,
        variable: '1',
        message: 'contains a tab',
      },
    });
  });

  it('names the keys that found no value in a missing_variables entry', () => {
    expect(renderForRecipient({ '1': '{{note}}' }, recipient({}))).toEqual({
      ok: false,
      invalid: { input: '+972501234567', reason: 'missing_variables', index: 3, missing: ['note'] },
    });
  });

  it('renders a plain-string recipient through a fallback', () => {
    expect(renderForRecipient({ '1': '{{name|Farmer}}' }, recipient({}))).toEqual({
      ok: true,
      variables: { '1': 'Farmer' },
    });
  });
});

describe('templateVariableProblems: what no recipient can fix', () => {
  it('refuses a literal value that breaks a rule', () => {
    expect(
      templateVariableProblems({
        '1': 'first line\nsecond line',
        '2': 'a\tb',
        '3': 'wide     gap',
        '4': '',
        '5': 'x'.repeat(1025),
        '6': 'fine',
      }),
    ).toEqual([
      { variable: '1', message: 'contains a newline' },
      { variable: '2', message: 'contains a tab' },
      { variable: '3', message: 'has more than 4 consecutive spaces' },
      { variable: '4', message: 'is empty' },
      { variable: '5', message: 'is 1025 characters long; WhatsApp takes at most 1024' },
    ]);
  });

  it('refuses text around placeholders that breaks a rule whatever is inserted', () => {
    expect(templateVariableProblems({ '1': 'Hi {{name}},\nwelcome', '2': '{{a}}\t{{b}}' })).toEqual([
      { variable: '1', message: 'contains a newline' },
      { variable: '2', message: 'contains a tab' },
    ]);
  });

  it('refuses an empty or rule-breaking fallback', () => {
    expect(
      templateVariableProblems({
        '1': '{{name|}}',
        '2': '{{name| }}',
        '3': '{{name|a\nb}}',
        '4': '{{name|Farmer}}',
      }),
    ).toEqual([
      { variable: '1', message: 'the fallback of {{name}} is empty' },
      { variable: '2', message: 'the fallback of {{name}} is empty' },
      { variable: '3', message: 'the fallback of {{name}} contains a newline' },
    ]);
  });
});

describe('the same rules, as the Twilio simulator applies them', () => {
  it('names the first offending ContentVariables entry; null is empty', () => {
    expect(contentVariablesViolation({ '1': 'Dana', '2': 'a\tb' })).toEqual({
      variable: '2',
      violation: { rule: 'tab', message: 'contains a tab' },
    });
    expect(contentVariablesViolation({ '1': null })?.violation.rule).toBe('empty');
    expect(contentVariablesViolation({ '1': 'Dana', '2': 'wide    gap' })).toBeUndefined();
  });

  it("gives Twilio's answer per rule: 400/21656 at create, or a 63021 failure for the length", () => {
    for (const value of ['', 'first line\nsecond line', 'a\tb', 'wide     gap']) {
      const rule = parameterViolation(value)?.rule;
      expect(rule && TWILIO_ANSWERS[rule]).toMatchObject({ at: 'create', httpStatus: 400, code: 21656 });
    }
    expect(TWILIO_ANSWERS[parameterViolation('x'.repeat(1025))?.rule ?? 'empty']).toMatchObject({
      at: 'delivery',
      code: 63021,
    });
  });
});
