import { type FormEvent, type ReactNode, useState } from 'react';
import { api, listAll } from '../api.ts';
import { formatTime } from '../logic/format.ts';
import { t } from '../messages.ts';
import { ErrorNote, messageOf, Notice, useLoad } from '../ui.tsx';

interface Suppression {
  phone: string;
  reason: string;
  detail?: string;
  scope: 'tenant' | 'sender';
  createdAt: string;
}

/** The numbers never messaged: list, add, remove (a sender-wide opt-out only the person lifts). */
export function Suppressions(): ReactNode {
  const list = useLoad(() => listAll<Suppression>('/v1/suppressions'), []);
  const [phone, setPhone] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  async function run(action: () => Promise<unknown>) {
    setError(undefined);
    try {
      await action();
      list.reload();
    } catch (e) {
      setError(messageOf(e));
    }
  }
  function add(event: FormEvent) {
    event.preventDefault();
    setNotice(undefined);
    void run(async () => {
      const entry = await api<Suppression>('POST', '/v1/suppressions', {
        body: { phone: phone.trim(), ...(note.trim() ? { note: note.trim() } : {}) },
      });
      // The person's own opt-out or Twilio's was there already, and stays (the API answers it, 200).
      if (entry.reason !== 'admin') setNotice(t.suppressions.kept(entry.phone, entry.reason));
      setPhone('');
      setNote('');
    });
  }
  return (
    <section aria-labelledby="suppressions-title">
      <h1 id="suppressions-title">{t.suppressions.title}</h1>
      <form onSubmit={add} className="panel" aria-label={t.suppressions.add}>
        <label htmlFor="s-phone">{t.suppressions.phone}</label>
        <input id="s-phone" dir="ltr" required value={phone} onChange={(e) => setPhone(e.target.value)} />
        <label htmlFor="s-note">{t.suppressions.note}</label>
        <input id="s-note" value={note} onChange={(e) => setNote(e.target.value)} />
        <button type="submit" className="primary">
          {t.suppressions.add}
        </button>
      </form>
      <Notice text={notice} />
      <ErrorNote error={error ?? list.error} />
      {list.data && list.data.length === 0 && <p>{t.common.none}</p>}
      {list.data && list.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.detail.phone}</th>
              <th scope="col">{t.suppressions.reason}</th>
              <th scope="col">{t.suppressions.scope}</th>
              <th scope="col">{t.suppressions.since}</th>
              <th scope="col">
                <span className="visually-hidden">{t.common.delete}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((s) => (
              <tr key={s.phone}>
                <td dir="ltr">{s.phone}</td>
                <td>
                  {s.reason}
                  {s.detail ? ` (${s.detail})` : ''}
                </td>
                <td>{s.scope}</td>
                <td>{formatTime(s.createdAt, navigator.language)}</td>
                <td>
                  {s.scope === 'tenant' && (
                    <button
                      type="button"
                      onClick={() =>
                        void run(() => api('DELETE', `/v1/suppressions/${encodeURIComponent(s.phone)}`))
                      }
                    >
                      {t.suppressions.remove(s.phone)}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
