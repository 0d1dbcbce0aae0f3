import { type ReactNode, useState } from 'react';
import { api } from '../api.ts';
import { BROADCAST_STATUSES, formatTime } from '../logic/format.ts';
import { t } from '../messages.ts';
import type { Broadcast, Page } from '../types.ts';
import { ErrorNote, go, ProgressBar, StatusBadge, useLoad } from '../ui.tsx';

/** Newest first, filtered by status, paged; polled every 2 s. */
export function BroadcastsList(): ReactNode {
  const [status, setStatus] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const { data, error } = useLoad(
    () => api<Page<Broadcast>>('GET', '/v1/broadcasts', { query: { status, cursor, limit: 25 } }),
    [status, cursor],
    // Live: every 2 s, so new broadcasts (from the API, a campaign) appear too, not only progress.
    { pollMs: 2000 },
  );
  return (
    <section aria-labelledby="broadcasts-title">
      <div className="title-row">
        <h1 id="broadcasts-title">{t.broadcasts.title}</h1>
        <button type="button" className="primary" onClick={() => go('broadcasts', 'new')}>
          {t.broadcasts.newBroadcast}
        </button>
      </div>
      <div className="filters">
        <label htmlFor="status-filter">{t.broadcasts.filterStatus}</label>
        <select
          id="status-filter"
          value={status}
          onChange={(e) => {
            setStatus(e.target.value);
            setCursors([]);
          }}
        >
          <option value="">{t.broadcasts.allStatuses}</option>
          {BROADCAST_STATUSES.map((s) => (
            <option key={s} value={s}>
              {t.status[s] ?? s}
            </option>
          ))}
        </select>
      </div>
      <ErrorNote error={error} />
      {!data ? (
        <p>{t.common.loading}</p>
      ) : data.items.length === 0 ? (
        <p>{t.common.none}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.broadcasts.name}</th>
              <th scope="col">{t.broadcasts.status}</th>
              <th scope="col">{t.broadcasts.progress}</th>
              <th scope="col">{t.broadcasts.recipients}</th>
              <th scope="col">{t.broadcasts.created}</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((b) => {
              const name = b.name || t.broadcasts.unnamed;
              return (
                <tr key={b.broadcastId}>
                  <td>
                    <a href={`#/broadcasts/${b.broadcastId}`}>{name}</a>
                  </td>
                  <td>
                    <StatusBadge status={b.status} />
                  </td>
                  <td>
                    <ProgressBar label={t.broadcasts.progressOf(name)} value={b.progressPct} />
                  </td>
                  <td className="num">{b.totalRecipients}</td>
                  <td>{formatTime(b.createdAt, navigator.language)}</td>
                </tr>
              );
            })}
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
