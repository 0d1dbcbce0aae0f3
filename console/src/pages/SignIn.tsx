import { type FormEvent, type ReactNode, useState } from 'react';
import { ApiProblem, api } from '../api.ts';
import { t } from '../messages.ts';
import { storeKey } from '../session.ts';
import { ErrorNote, messageOf } from '../ui.tsx';

/** Sign-in with a tenant API key: checked against GET /v1/metrics before it is kept. */
export function SignIn({ reason, onSignedIn }: { reason?: string; onSignedIn: () => void }): ReactNode {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(reason);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const apiKey = key.trim();
    if (!apiKey) return setError(t.signIn.empty);
    setBusy(true);
    try {
      await api('GET', '/v1/metrics', { apiKey });
      storeKey(apiKey);
      onSignedIn();
    } catch (e) {
      setError(e instanceof ApiProblem && e.status === 401 ? t.signIn.refused : messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="sign-in">
      <h1>{t.appName}</h1>
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">{t.signIn.title}</h2>
        <ErrorNote error={error} />
        <label htmlFor="api-key">{t.signIn.apiKey}</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby="api-key-hint"
        />
        <p id="api-key-hint" className="hint">
          {t.signIn.hint}
        </p>
        <button type="submit" className="primary" disabled={busy}>
          {t.signIn.submit}
        </button>
      </form>
    </main>
  );
}
