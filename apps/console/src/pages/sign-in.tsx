import { useState } from 'preact/hooks';
import { clientFor } from '../session';
import { ErrorNote } from '../ui';

/** Checks the key with one read before keeping it, so a typo is said here and not on every page. */
export function SignIn(props: { onSignIn: (key: string) => void; notice?: string }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) return;
    setBusy(true);
    setError(null);
    try {
      await clientFor(trimmed).listJobs({ limit: 1 });
      props.onSignIn(trimmed);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card narrow" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in</h1>
      {props.notice && (
        <p class="error" role="alert">
          {props.notice}
        </p>
      )}
      <p>
        Use an API key of your tenant. It is kept in this browser tab only and forgotten when the tab closes.
      </p>
      <form onSubmit={(e) => void submit(e)}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
