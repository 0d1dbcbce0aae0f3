import type { ReactNode } from 'react';
import { CAP_MAX_DAYS, CAP_MAX_MESSAGES, type TimingFields as Fields } from '../logic/send-timing.ts';
import { t } from '../messages.ts';

/**
 * Quiet hours and a frequency cap (issue 13), for the New broadcast and the campaign forms: each
 * option labelled and explained next to its fields (hints tied by aria-describedby).
 */
export function TimingFields({
  idPrefix,
  value,
  onChange,
}: {
  idPrefix: string;
  value: Fields;
  onChange: (next: Fields) => void;
}): ReactNode {
  const set = (patch: Partial<Fields>) => onChange({ ...value, ...patch });
  const id = (name: string) => `${idPrefix}-${name}`;
  return (
    <>
      <fieldset aria-describedby={id('quiet-hint')}>
        <legend>{t.timing.quietHours}</legend>
        <p className="hint" id={id('quiet-hint')}>
          {t.timing.quietHint}
        </p>
        <label htmlFor={id('quiet-start')}>{t.timing.quietStart}</label>
        <input
          id={id('quiet-start')}
          type="time"
          value={value.quietStart}
          onChange={(e) => set({ quietStart: e.target.value })}
        />
        <label htmlFor={id('quiet-end')}>{t.timing.quietEnd}</label>
        <input
          id={id('quiet-end')}
          type="time"
          value={value.quietEnd}
          onChange={(e) => set({ quietEnd: e.target.value })}
        />
      </fieldset>
      <fieldset aria-describedby={id('cap-hint')}>
        <legend>{t.timing.frequencyCap}</legend>
        <p className="hint" id={id('cap-hint')}>
          {t.timing.capHint}
        </p>
        <label htmlFor={id('cap-max')}>{t.timing.capMax}</label>
        <input
          id={id('cap-max')}
          type="number"
          inputMode="numeric"
          min={1}
          max={CAP_MAX_MESSAGES}
          value={value.capMax}
          onChange={(e) => set({ capMax: e.target.value })}
        />
        <label htmlFor={id('cap-days')}>{t.timing.capDays}</label>
        <input
          id={id('cap-days')}
          type="number"
          inputMode="numeric"
          min={1}
          max={CAP_MAX_DAYS}
          value={value.capDays}
          onChange={(e) => set({ capDays: e.target.value })}
        />
      </fieldset>
    </>
  );
}
