import type { QuarryClient } from '@quarry/sdk';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ErrorNote, errorText, formatTime, StatusBadge } from '../ui';

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const SCOPES = ['read', 'write', 'admin'] as const;

/** The tenant's API keys (admin keys only): create one (its secret shown once) and revoke one. */
export function KeysPage(props: { client: QuarryClient }) {
  const { client } = props;
  const [items, setItems] = useState<ApiKey[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      setItems((await client.request<{ items: ApiKey[] }>('GET', '/v1/api-keys')).items);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <>
      <h1>API keys</h1>
      <CreateKey client={client} onCreated={(k) => setItems((all) => [k, ...all])} />
      <section aria-labelledby="keys-title">
        <h2 id="keys-title">Keys of this tenant</h2>
        <ErrorNote error={error} />
        {!loading && !error && items.length === 0 && <p>No keys.</p>}
        <ul class="key-list">
          {items.map((k) => (
            <KeyRow
              client={client}
              apiKey={k}
              key={k.id}
              onRevoked={(id) =>
                setItems((all) =>
                  all.map((x) => (x.id === id ? { ...x, revokedAt: new Date().toISOString() } : x)),
                )
              }
            />
          ))}
        </ul>
      </section>
    </>
  );
}

function CreateKey(props: { client: QuarryClient; onCreated: (k: ApiKey) => void }) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['read']);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSecret(null);
    try {
      const created = await props.client.request<ApiKey & { key: string }>('POST', '/v1/api-keys', {
        json: { name: name.trim(), scopes },
      });
      setSecret(created.key);
      props.onCreated(created);
      setName('');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="key-new">
      <h2 id="key-new">Create a key</h2>
      <form onSubmit={(e) => void submit(e)}>
        <div class="field grow">
          <label for="key-name">Name</label>
          <input
            id="key-name"
            type="text"
            required
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </div>
        <fieldset class="scopes">
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <div class="field checkbox" key={s}>
              <input
                id={`key-scope-${s}`}
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) =>
                  setScopes((all) => (e.currentTarget.checked ? [...all, s] : all.filter((x) => x !== s)))
                }
              />
              <label for={`key-scope-${s}`}>{s}</label>
            </div>
          ))}
        </fieldset>
        <button type="submit" disabled={busy || scopes.length === 0}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </form>
      <ErrorNote error={error} />
      {secret && (
        <p role="status" class="secret">
          The new key, shown only now: <code>{secret}</code>
        </p>
      )}
    </section>
  );
}

function KeyRow(props: { client: QuarryClient; apiKey: ApiKey; onRevoked: (id: string) => void }) {
  const { client, apiKey: k } = props;
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const revoke = async () => {
    setError(null);
    try {
      await client.request('DELETE', `/v1/api-keys/${encodeURIComponent(k.id)}`);
      props.onRevoked(k.id);
      setConfirming(false);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <li class="card" data-key-id={k.id}>
      <div class="job-head">
        <strong>{k.name}</strong>
        <StatusBadge status={k.revokedAt ? 'revoked' : 'active'} />
      </div>
      <dl class="facts">
        <dt>Prefix</dt>
        <dd class="mono">{k.prefix}</dd>
        <dt>Scopes</dt>
        <dd>{k.scopes.join(', ')}</dd>
        <dt>Created</dt>
        <dd>{formatTime(k.createdAt)}</dd>
        <dt>Last used</dt>
        <dd>{formatTime(k.lastUsedAt)}</dd>
        {k.expiresAt && (
          <>
            <dt>Expires</dt>
            <dd>{formatTime(k.expiresAt)}</dd>
          </>
        )}
      </dl>
      {!k.revokedAt && !confirming && (
        <button type="button" class="secondary" onClick={() => setConfirming(true)}>
          Revoke {k.name}
        </button>
      )}
      {!k.revokedAt && confirming && (
        <div class="actions" role="group" aria-label={`Revoke ${k.name}?`}>
          <button type="button" class="danger" onClick={() => void revoke()}>
            Yes, revoke {k.name}
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
