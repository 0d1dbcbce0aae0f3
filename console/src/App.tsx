import { type ReactNode, useEffect, useState } from 'react';
import { whenUnauthorized } from './api.ts';
import { t } from './messages.ts';
import { ApiKeys } from './pages/ApiKeys.tsx';
import { Audit } from './pages/Audit.tsx';
import { BroadcastDetail } from './pages/BroadcastDetail.tsx';
import { BroadcastsList } from './pages/BroadcastsList.tsx';
import { Campaigns } from './pages/Campaigns.tsx';
import { ContactsPage } from './pages/Contacts.tsx';
import { Dashboard } from './pages/Dashboard.tsx';
import { GroupsPage } from './pages/Groups.tsx';
import { NewBroadcast } from './pages/NewBroadcast.tsx';
import { Settings } from './pages/Settings.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { Suppressions } from './pages/Suppressions.tsx';
import { Templates } from './pages/Templates.tsx';
import { forgetKey, storedKey } from './session.ts';
import { useRoute } from './ui.tsx';

const NAV: readonly [string, string][] = [
  ['dashboard', t.nav.dashboard],
  ['broadcasts', t.nav.broadcasts],
  ['contacts', t.nav.contacts],
  ['groups', t.nav.groups],
  ['templates', t.nav.templates],
  ['campaigns', t.nav.campaigns],
  ['suppressions', t.nav.suppressions],
  ['settings', t.nav.settings],
  ['keys', t.nav.apiKeys],
  ['audit', t.nav.audit],
];

export function App(): ReactNode {
  const [signedIn, setSignedIn] = useState(() => storedKey() !== undefined);
  const [reason, setReason] = useState<string>();
  useEffect(() => {
    whenUnauthorized((message) => {
      setReason(t.signIn.expired(message));
      setSignedIn(false);
    });
  }, []);
  if (!signedIn)
    return (
      <SignIn
        reason={reason}
        onSignedIn={() => {
          setReason(undefined);
          setSignedIn(true);
        }}
      />
    );
  return (
    <Shell
      onSignOut={() => {
        forgetKey();
        setReason(undefined);
        setSignedIn(false);
      }}
    />
  );
}

function Shell({ onSignOut }: { onSignOut: () => void }): ReactNode {
  const route = useRoute();
  const [section = 'broadcasts', id] = route;
  useEffect(() => {
    document.title = `${NAV.find(([k]) => k === section)?.[1] ?? t.appName} · ${t.appName}`;
  }, [section]);
  return (
    <div className="shell">
      <header className="top">
        <span className="brand">{t.appName}</span>
        <nav aria-label={t.nav.label}>
          <ul>
            {NAV.map(([key, label]) => (
              <li key={key}>
                <a href={`#/${key}`} aria-current={section === key ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" onClick={onSignOut}>
          {t.nav.signOut}
        </button>
      </header>
      <main>{page(section, id)}</main>
    </div>
  );
}

function page(section: string, id: string | undefined): ReactNode {
  switch (section) {
    case 'dashboard':
      return <Dashboard />;
    case 'broadcasts':
      if (id === 'new') return <NewBroadcast />;
      return id ? <BroadcastDetail id={id} /> : <BroadcastsList />;
    case 'contacts':
      return <ContactsPage phone={id} />;
    case 'groups':
      return <GroupsPage groupId={id} />;
    case 'templates':
      return <Templates />;
    case 'campaigns':
      return <Campaigns campaignId={id} />;
    case 'suppressions':
      return <Suppressions />;
    case 'settings':
      return <Settings />;
    case 'keys':
      return <ApiKeys />;
    case 'audit':
      return <Audit />;
    default:
      return <BroadcastsList />;
  }
}
