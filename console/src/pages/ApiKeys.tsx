import { type FormEvent, type ReactNode, useState } from 'react';
import { api, listAll } from '../api.ts';
import { formatTime } from '../logic/format.ts';
import { t } from '../messages.ts';
import { Confirm, ErrorNote, messageOf, useLoad } from '../ui.tsx';

interface ApiKey {
  keyId: string;
  name: string;
  role: 'admin' | 'sender' | 'viewer';
  createdAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

const ROLES = ['viewer', 'sender', 'admin'] as const;

/** The confirmation's title and button: "Rotate <name>" or "Revoke <name>". */
const label = (asking: { action: 'rotate' | 'revoke'; key: ApiKey } | undefined) =>
  !asking
    ? ''
    : asking.action === 'rotate'
      ? t.apiKeys.rotate(asking.key.name)
      : t.apiKeys.revoke(asking.key.name);

/** The tenant's API keys (admin keys only): create one (its secret shown once), rotate, revoke. */
export function ApiKeys(): ReactNode {
  const list = useLoad(() => listAll<ApiKey>('/v1/api-keys'), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState<(typeof ROLES)[number]>('viewer');
  const [secret, setSecret] = useState<{ name: string; apiKey: string }>();
  const [error, setError] = useState<string>();
  // Rotating or revoking cuts off whoever uses the key now: asked first, as cancel and retry are.
  const [asking, setAsking] = useState<{ action: 'rotate' | 'revoke'; key: ApiKey }>();
  async function run(action: () => Promise<unknown>) {
    setError(undefined);
    try {
      await action();
      list.reload();
    } catch (e) {
      setError(messageOf(e));
    }
  }
  function rotate(k: ApiKey) {
    void run(async () => {
      const made = await api<{ name: string; apiKey: string }>('POST', `/v1/api-keys/${k.keyId}/rotate`);
      setSecret({ name: made.name, apiKey: made.apiKey });
    });
  }
  function create(event: FormEvent) {
    event.preventDefault();
    void run(async () => {
      const made = await api<{ name: string; apiKey: string }>('POST', '/v1/api-keys', {
        body: { name: name.trim(), role },
      });
      setSecret({ name: made.name, apiKey: made.apiKey });
      setName('');
    });
  }
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">{t.apiKeys.title}</h1>
      <form onSubmit={create} className="panel" aria-label={t.apiKeys.create}>
        <label htmlFor="k-name">{t.apiKeys.name}</label>
        <input id="k-name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="k-role">{t.apiKeys.role}</label>
        <select id="k-role" value={role} onChange={(e) => setRole(e.target.value as (typeof ROLES)[number])}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t.apiKeys.roles[r]}
            </option>
          ))}
        </select>
        <button type="submit" className="primary">
          {t.apiKeys.create}
        </button>
      </form>
      {secret && (
        <div role="status" className="panel">
          <p>{t.apiKeys.shownOnce(secret.name)}</p>
          <label htmlFor="k-secret">{t.apiKeys.newSecret}</label>
          <input id="k-secret" dir="ltr" readOnly value={secret.apiKey} onFocus={(e) => e.target.select()} />
        </div>
      )}
      <ErrorNote error={error ?? list.error} />
      <Confirm
        open={asking !== undefined}
        title={label(asking)}
        text={
          asking?.action === 'rotate'
            ? t.apiKeys.rotateConfirm(asking.key.name)
            : asking
              ? t.apiKeys.revokeConfirm(asking.key.name)
              : ''
        }
        confirmLabel={label(asking)}
        onConfirm={() => {
          if (asking?.action === 'rotate') rotate(asking.key);
          else if (asking) void run(() => api('DELETE', `/v1/api-keys/${asking.key.keyId}`));
        }}
        onClose={() => setAsking(undefined)}
      />
      {list.data && list.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.apiKeys.name}</th>
              <th scope="col">{t.apiKeys.role}</th>
              <th scope="col">{t.apiKeys.created}</th>
              <th scope="col">{t.apiKeys.lastUsed}</th>
              <th scope="col">{t.apiKeys.state}</th>
              <th scope="col">
                <span className="visually-hidden">{t.apiKeys.actions}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((k) => (
              <tr key={k.keyId}>
                <td>
                  {k.name} <small dir="ltr">{k.keyId}</small>
                </td>
                <td>{k.role}</td>
                <td>{formatTime(k.createdAt, navigator.language)}</td>
                <td>{k.lastUsedAt ? formatTime(k.lastUsedAt, navigator.language) : '—'}</td>
                <td>
                  {k.revokedAt
                    ? t.apiKeys.revoked(formatTime(k.revokedAt, navigator.language))
                    : t.apiKeys.active}
                </td>
                <td>
                  {!k.revokedAt && (
                    <>
                      <button type="button" onClick={() => setAsking({ action: 'rotate', key: k })}>
                        {t.apiKeys.rotate(k.name)}
                      </button>
                      <button type="button" onClick={() => setAsking({ action: 'revoke', key: k })}>
                        {t.apiKeys.revoke(k.name)}
                      </button>
                    </>
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
