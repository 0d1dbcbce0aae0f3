import { type ReactNode, useState } from 'react';
import { api } from '../api.ts';
import { formatTime } from '../logic/format.ts';
import { t } from '../messages.ts';
import { ErrorNote, useLoad } from '../ui.tsx';

interface AuditEntry {
  at: string;
  keyId: string;
  action: string;
  resource?: string;
  detail: Record<string, string | number | boolean>;
}

/** The tenant's audit log, newest first, a page at a time, optionally one action only (admin keys). */
export function Audit(): ReactNode {
  const [action, setAction] = useState('');
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors.at(-1);
  const page = useLoad(
    () =>
      api<{ items: AuditEntry[]; nextCursor?: string }>('GET', '/v1/audit', {
        query: { limit: 50, action, cursor },
      }),
    [action, cursor],
  );
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">{t.audit.title}</h1>
      <label htmlFor="a-action">{t.audit.filter}</label>
      <input
        id="a-action"
        dir="ltr"
        placeholder="broadcast.cancel"
        value={action}
        onChange={(e) => {
          setAction(e.target.value.trim());
          setCursors([undefined]);
        }}
      />
      <ErrorNote error={page.error} />
      {page.data && page.data.items.length === 0 && <p>{t.common.none}</p>}
      {page.data && page.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.audit.at}</th>
              <th scope="col">{t.audit.action}</th>
              <th scope="col">{t.audit.resource}</th>
              <th scope="col">{t.audit.key}</th>
              <th scope="col">{t.audit.detail}</th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((e) => (
              <tr key={`${e.at}${e.keyId}${e.action}${e.resource ?? ''}`}>
                <td>{formatTime(e.at, navigator.language)}</td>
                <td dir="ltr">{e.action}</td>
                <td dir="ltr">{e.resource ?? '—'}</td>
                <td dir="ltr">{e.keyId}</td>
                <td dir="ltr">
                  {Object.entries(e.detail)
                    .map(([k, v]) => `${k}: ${v}`)
                    .join(', ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        {cursors.length > 1 && (
          <button type="button" onClick={() => setCursors([undefined])}>
            {t.common.first}
          </button>
        )}
        {page.data?.nextCursor && (
          <button type="button" onClick={() => setCursors([...cursors, page.data?.nextCursor])}>
            {t.common.next}
          </button>
        )}
      </div>
    </section>
  );
}
