import { type FormEvent, type ReactNode, useState } from 'react';
import { api, listAll } from '../api.ts';
import { formatTime } from '../logic/format.ts';
import { t } from '../messages.ts';
import type { Contact, Group, Page } from '../types.ts';
import { ErrorNote, messageOf, useLoad } from '../ui.tsx';
import { ImportCsv } from './ImportCsv.tsx';

/** Groups with member counts, create; one group: its members and a CSV import into it. */
export function GroupsPage({ groupId }: { groupId?: string }): ReactNode {
  return groupId ? <GroupView groupId={groupId} /> : <GroupList />;
}

function GroupList(): ReactNode {
  const groups = useLoad(() => listAll<Group>('/v1/groups'), []);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<string>();
  async function create(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    try {
      await api('POST', '/v1/groups', {
        body: { name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}) },
      });
      setName('');
      setDescription('');
      groups.reload();
    } catch (e) {
      setError(messageOf(e));
    }
  }
  return (
    <section aria-labelledby="groups-title">
      <h1 id="groups-title">{t.groups.title}</h1>
      <ErrorNote error={groups.error} />
      {groups.data && groups.data.length === 0 && <p>{t.common.none}</p>}
      {groups.data && groups.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.groups.name}</th>
              <th scope="col">{t.groups.description}</th>
              <th scope="col">{t.groups.members}</th>
              <th scope="col">{t.broadcasts.created}</th>
            </tr>
          </thead>
          <tbody>
            {groups.data.map((g) => (
              <tr key={g.groupId}>
                <td>
                  <a href={`#/groups/${g.groupId}`}>{g.name}</a>
                </td>
                <td>{g.description ?? ''}</td>
                <td className="num">{g.memberCount}</td>
                <td>{formatTime(g.createdAt, navigator.language)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form onSubmit={create} className="panel" aria-labelledby="new-group-title">
        <h2 id="new-group-title">{t.groups.create}</h2>
        <label htmlFor="g-name">{t.groups.name}</label>
        <input id="g-name" required value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="g-description">{t.groups.description}</label>
        <input id="g-description" value={description} onChange={(e) => setDescription(e.target.value)} />
        <ErrorNote error={error} />
        <button type="submit" className="primary">
          {t.groups.create}
        </button>
      </form>
    </section>
  );
}

function GroupView({ groupId }: { groupId: string }): ReactNode {
  const path = `/v1/groups/${encodeURIComponent(groupId)}`;
  const group = useLoad(() => api<Group>('GET', path), [groupId]);
  const members = useLoad(
    () => api<Page<Contact>>('GET', `${path}/members`, { query: { limit: 100 } }),
    [groupId],
  );
  return (
    <section aria-labelledby="group-title">
      <p>
        <a href="#/groups">{t.groups.title}</a>
      </p>
      <h1 id="group-title">{group.data?.name ?? groupId}</h1>
      <ErrorNote error={group.error ?? members.error} />
      {group.data && (
        <p>
          {t.groups.members}: {group.data.memberCount}
        </p>
      )}
      <ImportCsv
        groupId={groupId}
        onDone={() => {
          group.reload();
          members.reload();
        }}
      />
      <h2>{t.groups.members}</h2>
      {members.data && members.data.items.length === 0 && <p>{t.common.none}</p>}
      {members.data && members.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.detail.phone}</th>
              <th scope="col">{t.contacts.name}</th>
              <th scope="col">{t.contacts.tags}</th>
            </tr>
          </thead>
          <tbody>
            {members.data.items.map((c) => (
              <tr key={c.phone}>
                <td dir="ltr">
                  <a href={`#/contacts/${encodeURIComponent(c.phone)}`}>{c.phone}</a>
                </td>
                <td>{c.name ?? ''}</td>
                <td>{c.tags.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
