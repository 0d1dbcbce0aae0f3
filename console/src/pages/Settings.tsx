import { type FormEvent, type ReactNode, useEffect, useState } from 'react';
import { api } from '../api.ts';
import { formatTime } from '../logic/format.ts';
import { limitChoiceOf, limitValueOf, MAX_LIMIT, MESSAGING_TIERS } from '../logic/settings-form.ts';
import { t } from '../messages.ts';
import { ErrorNote, messageOf, Notice, useLoad } from '../ui.tsx';

interface TenantSettings {
  requireConsentForMarketing: boolean;
  messagingLimit: number | 'unlimited';
  updatedAt?: string;
}

/** GET and PUT /v1/settings (admin keys): consent for marketing templates, Meta's messaging limit. */
export function Settings(): ReactNode {
  const loaded = useLoad(() => api<TenantSettings>('GET', '/v1/settings'), []);
  const [consent, setConsent] = useState(false);
  const [choice, setChoice] = useState('unlimited');
  const [other, setOther] = useState('');
  const [saved, setSaved] = useState<TenantSettings>();
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const current = saved ?? loaded.data;

  useEffect(() => {
    if (!loaded.data) return;
    setConsent(loaded.data.requireConsentForMarketing);
    const limit = limitChoiceOf(loaded.data.messagingLimit);
    setChoice(limit.choice);
    setOther(limit.other);
  }, [loaded.data]);

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    setNotice(undefined);
    const messagingLimit = limitValueOf(choice, other);
    if (messagingLimit === undefined) return setError(t.settings.badLimit);
    setBusy(true);
    try {
      setSaved(
        await api<TenantSettings>('PUT', '/v1/settings', {
          body: { requireConsentForMarketing: consent, messagingLimit },
        }),
      );
      setNotice(t.contacts.saved);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">{t.settings.title}</h1>
      <ErrorNote error={loaded.error} />
      {current && (
        <form onSubmit={save} className="panel">
          <label className="check">
            <input
              type="checkbox"
              checked={consent}
              aria-describedby="consent-hint"
              onChange={(e) => setConsent(e.target.checked)}
            />
            {t.settings.consent}
          </label>
          <p className="hint" id="consent-hint">
            {t.settings.consentHint}
          </p>
          <label htmlFor="s-limit">{t.settings.limit}</label>
          <select
            id="s-limit"
            aria-describedby="limit-hint"
            value={choice}
            onChange={(e) => setChoice(e.target.value)}
          >
            <option value="unlimited">{t.settings.unlimited}</option>
            {MESSAGING_TIERS.map((n) => (
              <option key={n} value={String(n)}>
                {t.settings.tier(n.toLocaleString(navigator.language))}
              </option>
            ))}
            <option value="other">{t.settings.otherLimit}</option>
          </select>
          {choice === 'other' && (
            <>
              <label htmlFor="s-limit-other">{t.settings.otherNumber}</label>
              <input
                id="s-limit-other"
                type="number"
                inputMode="numeric"
                min={1}
                max={MAX_LIMIT}
                value={other}
                onChange={(e) => setOther(e.target.value)}
              />
            </>
          )}
          <p className="hint" id="limit-hint">
            {t.settings.limitHint}
          </p>
          <ErrorNote error={error} />
          <Notice text={notice} />
          <button type="submit" className="primary" disabled={busy}>
            {t.common.save}
          </button>
          {current.updatedAt && (
            <p className="hint">{t.settings.updatedAt(formatTime(current.updatedAt, navigator.language))}</p>
          )}
        </form>
      )}
    </section>
  );
}
