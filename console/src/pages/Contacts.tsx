import { type FormEvent, type ReactNode, useState } from 'react';
import { api } from '../api.ts';
import { splitList } from '../logic/broadcast-form.ts';
import { formatTime } from '../logic/format.ts';
import { t } from '../messages.ts';
import type { Contact, HistoryEntry, Page } from '../types.ts';
import { Confirm, ErrorNote, go, messageOf, Notice, StatusBadge, useLoad } from '../ui.tsx';

/** Contacts: search by phone or name prefix; one contact: edit, delete, its messages as a conversation. */
export function ContactsPage({ phone }: { phone?: string }): ReactNode {
  return phone ? <ContactView phone={phone} /> : <ContactSearch />;
}

function ContactSearch(): ReactNode {
  const [text, setText] = useState('');
  const [q, setQ] = useState('');
  const list = useLoad(() => api<Page<Contact>>('GET', '/v1/contacts', { query: { q, limit: 50 } }), [q]);
  return (
    <section aria-labelledby="contacts-title">
      <h1 id="contacts-title">{t.contacts.title}</h1>
      <search>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setQ(text.trim());
          }}
        >
          <label htmlFor="contact-q">{t.contacts.search}</label>
          <input id="contact-q" type="search" value={text} onChange={(e) => setText(e.target.value)} />
          <button type="submit">{t.contacts.searchButton}</button>
        </form>
      </search>
      <ErrorNote error={list.error} />
      {list.data && list.data.items.length === 0 && <p>{t.common.none}</p>}
      {list.data && list.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.detail.phone}</th>
              <th scope="col">{t.contacts.name}</th>
              <th scope="col">{t.contacts.tags}</th>
              <th scope="col">{t.contacts.groups}</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((c) => (
              <tr key={c.phone}>
                <td dir="ltr">
                  <a href={`#/contacts/${encodeURIComponent(c.phone)}`}>{c.phone}</a>
                </td>
                <td>{c.name ?? ''}</td>
                <td>{c.tags.join(', ')}</td>
                <td className="num">{c.groupIds.length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ContactView({ phone }: { phone: string }): ReactNode {
  const path = `/v1/contacts/${encodeURIComponent(phone)}`;
  const contact = useLoad(() => api<Contact>('GET', path), [phone]);
  const history = useLoad(
    () => api<Page<HistoryEntry>>('GET', `${path}/messages`, { query: { limit: 100 } }),
    [phone],
  );
  const [edit, setEdit] = useState<{ name: string; tags: string }>();
  const [asking, setAsking] = useState(false);
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<string>();
  const c = contact.data;

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!edit) return;
    setError(undefined);
    try {
      await api('PUT', path, { body: { name: edit.name.trim(), tags: splitList(edit.tags) } });
      setEdit(undefined);
      setNotice(t.contacts.saved);
      contact.reload();
    } catch (e) {
      setError(messageOf(e));
    }
  }
  async function remove() {
    try {
      await api('DELETE', path);
      go('contacts');
    } catch (e) {
      setError(messageOf(e));
    }
  }
  // Oldest first, as a chat reads.
  const messages = [...(history.data?.items ?? [])].reverse();
  return (
    <section aria-labelledby="contact-title">
      <p>
        <a href="#/contacts">{t.contacts.title}</a>
      </p>
      <h1 id="contact-title">
        {c?.name ? `${c.name} ` : ''}
        <span dir="ltr">{phone}</span>
      </h1>
      <ErrorNote error={contact.error ?? error} />
      <Notice text={notice} />
      {c && (
        <>
          {c.suppressed && <p className="warning">{t.contacts.suppressed}</p>}
          <dl className="facts">
            <dt>{t.contacts.tags}</dt>
            <dd>{c.tags.join(', ')}</dd>
            {Object.entries(c.attributes).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{String(v)}</dd>
              </div>
            ))}
          </dl>
          <div className="actions">
            <button type="button" onClick={() => setEdit({ name: c.name ?? '', tags: c.tags.join(', ') })}>
              {t.contacts.edit}
            </button>
            <button type="button" className="danger" onClick={() => setAsking(true)}>
              {t.common.delete}
            </button>
          </div>
          {edit && (
            <form onSubmit={save} className="panel" aria-label={t.contacts.edit}>
              <label htmlFor="c-name">{t.contacts.name}</label>
              <input
                id="c-name"
                value={edit.name}
                onChange={(e) => setEdit({ ...edit, name: e.target.value })}
              />
              <label htmlFor="c-tags">{t.contacts.tags}</label>
              <input
                id="c-tags"
                value={edit.tags}
                onChange={(e) => setEdit({ ...edit, tags: e.target.value })}
              />
              <button type="submit" className="primary">
                {t.common.save}
              </button>
            </form>
          )}
          <Confirm
            open={asking}
            title={t.common.delete}
            text={t.contacts.deleteConfirm(phone)}
            confirmLabel={t.common.delete}
            onConfirm={() => void remove()}
            onClose={() => setAsking(false)}
          />
        </>
      )}
      <h2>{t.contacts.history}</h2>
      <ErrorNote error={history.error} />
      {history.data && messages.length === 0 && <p>{t.contacts.noHistory}</p>}
      <ol className="conversation">
        {messages.map((m, i) => (
          <li key={m.messageSid ?? i} className={m.direction}>
            <span className="visually-hidden">
              {m.direction === 'outbound' ? t.contacts.outbound : t.contacts.inbound}:{' '}
            </span>
            <p>{m.body ?? m.broadcastName ?? ''}</p>
            <small>
              {formatTime(m.at, navigator.language)} {m.status && <StatusBadge status={m.status} />}
            </small>
          </li>
        ))}
      </ol>
    </section>
  );
}
