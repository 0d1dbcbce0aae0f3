import type { ReactNode } from 'react';
import { ApiProblem, api } from '../api.ts';
import { formatTime } from '../logic/format.ts';
import { t } from '../messages.ts';
import type { Page } from '../types.ts';
import { ErrorNote, StatusBadge, useLoad } from '../ui.tsx';

interface Campaign {
  campaignId: string;
  name: string;
  status: string;
  nextRunAt?: string;
  schedule?: { expression: string; timeZone?: string };
}

/**
 * Campaigns (issue 13's GET /v1/campaigns): the list with status and next run. Creating one and the
 * runs list are not in the console yet; on a server without the route the page says so.
 */
export function Campaigns(): ReactNode {
  const { data, error } = useLoad(async () => {
    try {
      return await api<Page<Campaign>>('GET', '/v1/campaigns');
    } catch (e) {
      if (e instanceof ApiProblem && (e.status === 404 || e.status === 405)) return 'unavailable' as const;
      throw e;
    }
  }, []);
  return (
    <section aria-labelledby="campaigns-title">
      <h1 id="campaigns-title">{t.campaigns.title}</h1>
      <ErrorNote error={error} />
      {data === 'unavailable' && <p>{t.campaigns.unavailable}</p>}
      {data && data !== 'unavailable' && data.items.length === 0 && <p>{t.common.none}</p>}
      {data && data !== 'unavailable' && data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.broadcasts.name}</th>
              <th scope="col">{t.broadcasts.status}</th>
              <th scope="col">{t.campaigns.schedule}</th>
              <th scope="col">{t.campaigns.nextRun}</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((c) => (
              <tr key={c.campaignId}>
                <td>{c.name}</td>
                <td>
                  <StatusBadge status={c.status} />
                </td>
                <td dir="ltr">
                  {c.schedule?.expression} {c.schedule?.timeZone ?? ''}
                </td>
                <td>{formatTime(c.nextRunAt, navigator.language)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
