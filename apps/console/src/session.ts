import { QuarryClient } from '@quarry/sdk';

/** The API key lives in this tab's sessionStorage only: never in a URL, a cookie or localStorage. */
const KEY = 'quarry.console.apiKey';

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, key);
}

/** The console talks to the gateway that served it; a 401 (a key revoked or expired meanwhile) is reported. */
export function clientFor(apiKey: string, onUnauthorized?: () => void): QuarryClient {
  return new QuarryClient({
    baseUrl: window.location.origin,
    apiKey,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (response.status === 401) onUnauthorized?.();
      return response;
    },
  });
}

export interface ConsoleConfig {
  /** Jaeger's UI, for links to a job's trace; null when the operator set none. */
  jaegerUiUrl: string | null;
}

/** The gateway's public settings for the console (GET /console/config.json, no key needed). */
export async function loadConfig(): Promise<ConsoleConfig> {
  try {
    const response = await fetch('/console/config.json', { headers: { accept: 'application/json' } });
    if (!response.ok) return { jaegerUiUrl: null };
    const body = (await response.json()) as Partial<ConsoleConfig>;
    return { jaegerUiUrl: typeof body.jaegerUiUrl === 'string' ? body.jaegerUiUrl : null };
  } catch {
    return { jaegerUiUrl: null };
  }
}
