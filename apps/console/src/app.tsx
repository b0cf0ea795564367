import type { QuarryClient } from '@quarry/sdk';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { AnalysesPage } from './pages/analyses';
import { DeadLettersPage } from './pages/dead-letters';
import { JobPage } from './pages/job';
import { JobsPage } from './pages/jobs';
import { SearchPage } from './pages/search';
import { KeysPage } from './pages/keys';
import { SignIn } from './pages/sign-in';
import { UsagePage } from './pages/usage';
import { WebhooksPage } from './pages/webhooks';
import { useRoute, type Route } from './router';
import { clientFor, loadConfig, storedKey, storeKey, type ConsoleConfig } from './session';
import { Link } from './ui';

const TITLES: Record<Route['page'], string> = {
  jobs: 'Jobs',
  job: 'Job',
  search: 'Search',
  'dead-letters': 'Dead letters',
  webhooks: 'Webhooks',
  keys: 'API keys',
  usage: 'Usage',
  analyses: 'Analyses',
  'not-found': 'Not found',
};

export function App() {
  const [apiKey, setApiKey] = useState<string | null>(() => storedKey());
  const [config, setConfig] = useState<ConsoleConfig>({ jaegerUiUrl: null });
  const route = useRoute();
  const [notice, setNotice] = useState('');
  const client = useMemo(
    () =>
      apiKey
        ? clientFor(apiKey, () => {
            storeKey(null);
            setApiKey(null);
            setNotice('The API key was refused (revoked or expired): sign in again.');
          })
        : null,
    [apiKey],
  );
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    void loadConfig().then(setConfig);
  }, []);

  // Each page change: a title that says where one is, and focus on the content for screen readers.
  useEffect(() => {
    document.title = `${TITLES[route.page]} · Quarry console`;
    main.current?.focus();
  }, [route.page, route.page === 'job' ? route.id : '']);

  const signIn = (key: string) => {
    storeKey(key);
    setNotice('');
    setApiKey(key);
  };
  const signOut = () => {
    storeKey(null);
    setApiKey(null);
  };

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="site-header">
        <span class="brand">Quarry console</span>
        {client && (
          <nav aria-label="Main">
            <ul>
              <li>
                <NavLink to="/" current={route.page === 'jobs' || route.page === 'job'}>
                  Jobs
                </NavLink>
              </li>
              <li>
                <NavLink to="/search" current={route.page === 'search'}>
                  Search
                </NavLink>
              </li>
              <li>
                <NavLink to="/analyses" current={route.page === 'analyses'}>
                  Analyses
                </NavLink>
              </li>
              <li>
                <NavLink to="/dead-letters" current={route.page === 'dead-letters'}>
                  Dead letters
                </NavLink>
              </li>
              <li>
                <NavLink to="/webhooks" current={route.page === 'webhooks'}>
                  Webhooks
                </NavLink>
              </li>
              <li>
                <NavLink to="/keys" current={route.page === 'keys'}>
                  Keys
                </NavLink>
              </li>
              <li>
                <NavLink to="/usage" current={route.page === 'usage'}>
                  Usage
                </NavLink>
              </li>
            </ul>
          </nav>
        )}
        {client && (
          <button type="button" class="secondary" onClick={signOut}>
            Sign out
          </button>
        )}
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {client ? (
          <Page route={route} client={client} config={config} />
        ) : (
          <SignIn onSignIn={signIn} notice={notice} />
        )}
      </main>
    </>
  );
}

function NavLink(props: { to: string; current: boolean; children: string }) {
  return (
    <span aria-current={props.current ? 'page' : undefined}>
      <Link to={props.to}>{props.children}</Link>
    </span>
  );
}

function Page(props: { route: Route; client: QuarryClient; config: ConsoleConfig }) {
  const { route, client, config } = props;
  switch (route.page) {
    case 'jobs':
      return <JobsPage client={client} />;
    case 'job':
      return <JobPage key={route.id} client={client} id={route.id} config={config} />;
    case 'search':
      return <SearchPage client={client} />;
    case 'analyses':
      return <AnalysesPage client={client} />;
    case 'dead-letters':
      return <DeadLettersPage client={client} />;
    case 'webhooks':
      return <WebhooksPage client={client} />;
    case 'keys':
      return <KeysPage client={client} />;
    case 'usage':
      return <UsagePage client={client} />;
    default:
      return (
        <>
          <h1>Not found</h1>
          <p>
            There is no such page. <Link to="/">Back to the jobs</Link>.
          </p>
        </>
      );
  }
}
