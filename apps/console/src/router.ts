import { useEffect, useState } from 'preact/hooks';

/** Paths inside the console, without the /console prefix the gateway serves it under. */
const BASE = '/console';

export type Route =
  | { page: 'jobs' }
  | { page: 'job'; id: string }
  | { page: 'search' }
  | { page: 'dead-letters' }
  | { page: 'webhooks' }
  | { page: 'keys' }
  | { page: 'usage' }
  | { page: 'analyses' }
  | { page: 'not-found' };

const SIMPLE = ['search', 'analyses', 'dead-letters', 'webhooks', 'keys', 'usage'] as const;

export function parseRoute(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = rest.split('/').filter((p) => p !== '');
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'jobs')) return { page: 'jobs' };
  if (parts.length === 2 && parts[0] === 'jobs' && parts[1])
    return { page: 'job', id: decodeURIComponent(parts[1]) };
  const simple = SIMPLE.find((page) => parts.length === 1 && parts[0] === page);
  if (simple) return { page: simple };
  return { page: 'not-found' };
}

export function href(path: string): string {
  return `${BASE}${path}`;
}

export function navigate(path: string): void {
  window.history.pushState(null, '', href(path));
  window.dispatchEvent(new PopStateEvent('popstate'));
}

/** The current route, following pushState navigation and the browser's back and forward. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return route;
}

/** A same-tab click on an in-console link navigates without a page load; others (new tab) go to the browser. */
export function onLinkClick(event: MouseEvent, path: string): void {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(path);
}
