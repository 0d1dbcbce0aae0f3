import type { ReactNode } from 'react';
import type { CanaryFields as Fields } from '../logic/canary.ts';
import { t } from '../messages.ts';

/** The canary option of the New broadcast form (issue 13), labelled and explained. */
export function CanaryFields({
  value,
  onChange,
}: {
  value: Fields;
  onChange: (next: Fields) => void;
}): ReactNode {
  const set = (patch: Partial<Fields>) => onChange({ ...value, ...patch });
  return (
    <fieldset aria-describedby="b-canary-hint">
      <legend>{t.canary.title}</legend>
      <p className="hint" id="b-canary-hint">
        {t.canary.hint}
      </p>
      <label htmlFor="b-canary-mode">{t.canary.mode}</label>
      <select
        id="b-canary-mode"
        value={value.mode}
        onChange={(e) => set({ mode: e.target.value as Fields['mode'] })}
      >
        <option value="">{t.canary.none}</option>
        <option value="recipients">{t.canary.byCount}</option>
        <option value="percent">{t.canary.byPercent}</option>
      </select>
      {value.mode && (
        <>
          <label htmlFor="b-canary-size">
            {value.mode === 'recipients' ? t.canary.count : t.canary.percent}
          </label>
          <input
            id="b-canary-size"
            type="number"
            inputMode="numeric"
            min={value.mode === 'recipients' ? 1 : 0.1}
            max={value.mode === 'recipients' ? undefined : 100}
            step={value.mode === 'recipients' ? 1 : 'any'}
            value={value.size}
            onChange={(e) => set({ size: e.target.value })}
          />
          <label htmlFor="b-canary-rate">{t.canary.maxFailure}</label>
          <input
            id="b-canary-rate"
            type="number"
            inputMode="numeric"
            min={0}
            max={100}
            step="any"
            value={value.maxFailurePct}
            onChange={(e) => set({ maxFailurePct: e.target.value })}
          />
        </>
      )}
    </fieldset>
  );
}
