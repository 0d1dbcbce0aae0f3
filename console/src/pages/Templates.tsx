import type { ReactNode } from 'react';
import { listAll } from '../api.ts';
import { t } from '../messages.ts';
import type { Template } from '../types.ts';
import { ErrorNote, StatusBadge, useLoad } from '../ui.tsx';

/** Templates from Twilio's Content API, with WhatsApp approval status. */
export function Templates(): ReactNode {
  const { data, error } = useLoad(() => listAll<Template>('/v1/templates'), []);
  return (
    <section aria-labelledby="templates-title">
      <h1 id="templates-title">{t.templates.title}</h1>
      <ErrorNote error={error} />
      {!data ? (
        <p>{t.common.loading}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.templates.name}</th>
              <th scope="col">{t.templates.language}</th>
              <th scope="col">{t.templates.category}</th>
              <th scope="col">{t.templates.approval}</th>
              <th scope="col">{t.templates.body}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((x) => (
              <tr key={x.contentSid}>
                <td>{x.friendlyName}</td>
                <td>{x.language}</td>
                <td>{x.category ?? ''}</td>
                <td>
                  <StatusBadge status={x.approval} />
                </td>
                <td>{x.body}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
