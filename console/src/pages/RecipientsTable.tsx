import { type ReactNode, useState } from 'react';
import { api } from '../api.ts';
import { formatTime, RECIPIENT_STATUSES } from '../logic/format.ts';
import { FINAL_POLL_MS } from '../logic/settle.ts';
import { t } from '../messages.ts';
import type { Page, Recipient } from '../types.ts';
import { ErrorNote, StatusBadge, useLoad } from '../ui.tsx';

/**
 * A broadcast's recipients, 50 a page, filtered by status, each failure with its explanation (the
 * API's own text for the code: no second table of Twilio codes here).
 */
export function RecipientsTable({
  path,
  live,
  explanations,
}: {
  path: string;
  live: boolean;
  /** Plain-language meanings by Twilio error code (the progress route's errorSummary). */
  explanations: ReadonlyMap<string, string>;
}): ReactNode {
  const [status, setStatus] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const { data, error } = useLoad(
    () => api<Page<Recipient>>('GET', path, { query: { status, cursor, limit: 50 } }),
    [path, status, cursor],
    { pollMs: live ? 3000 : FINAL_POLL_MS },
  );
  return (
    <section aria-labelledby="recipients-title">
      <h2 id="recipients-title">{t.detail.recipientsTitle}</h2>
      <div className="filters">
        <label htmlFor="recipient-status">{t.broadcasts.filterStatus}</label>
        <select
          id="recipient-status"
          value={status}
          onChange={(e) => {
            setStatus(e.target.value);
            setCursors([]);
          }}
        >
          <option value="">{t.broadcasts.allStatuses}</option>
          {RECIPIENT_STATUSES.map((s) => (
            <option key={s} value={s}>
              {t.status[s]}
            </option>
          ))}
        </select>
      </div>
      <ErrorNote error={error} />
      {data && data.items.length === 0 && <p>{t.common.none}</p>}
      {data && data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.detail.phone}</th>
              <th scope="col">{t.broadcasts.status}</th>
              <th scope="col">{t.detail.attempts}</th>
              <th scope="col">{t.detail.error}</th>
              <th scope="col">{t.detail.updatedAt}</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((r) => (
              <tr key={r.phone}>
                <td dir="ltr" className="phone">
                  {r.phone}
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td className="num">{r.attempts}</td>
                <td>
                  {r.errorCode !== undefined
                    ? `${r.errorCode}: ${explanations.get(String(r.errorCode)) ?? r.errorMessage ?? ''}`
                    : (r.skipReason ?? '')}
                </td>
                <td>{formatTime(r.updatedAt, navigator.language)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        {cursors.length > 0 && (
          <button type="button" onClick={() => setCursors([])}>
            {t.common.first}
          </button>
        )}
        {data?.nextCursor && (
          <button type="button" onClick={() => setCursors([...cursors, data.nextCursor as string])}>
            {t.common.next}
          </button>
        )}
      </div>
    </section>
  );
}
