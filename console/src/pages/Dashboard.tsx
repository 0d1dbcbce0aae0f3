import type { ReactNode } from 'react';
import { api } from '../api.ts';
import { t } from '../messages.ts';
import { ErrorNote, useLoad } from '../ui.tsx';

interface Metrics {
  pendingCount: number;
  sentLast5m: number;
  failedLast5m: number;
  activeBroadcasts: number;
}

/** GET /v1/metrics, refreshed every 5 s. */
export function Dashboard(): ReactNode {
  const { data, error } = useLoad(() => api<Metrics>('GET', '/v1/metrics'), [], { pollMs: 5000 });
  return (
    <section aria-labelledby="dashboard-title">
      <h1 id="dashboard-title">{t.dashboard.title}</h1>
      <ErrorNote error={error} />
      {data && (
        <dl className="counts big">
          <div>
            <dt>{t.dashboard.active}</dt>
            <dd>{data.activeBroadcasts}</dd>
          </div>
          <div>
            <dt>{t.dashboard.pending}</dt>
            <dd>{data.pendingCount}</dd>
          </div>
          <div>
            <dt>{t.dashboard.sent5m}</dt>
            <dd>{data.sentLast5m}</dd>
          </div>
          <div>
            <dt>{t.dashboard.failed5m}</dt>
            <dd>{data.failedLast5m}</dd>
          </div>
        </dl>
      )}
    </section>
  );
}
