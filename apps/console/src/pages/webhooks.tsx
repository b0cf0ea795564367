import type { QuarryClient } from '@quarry/sdk';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ErrorNote, errorText, formatTime, StatusBadge } from '../ui';

interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  disabledReason: string | null;
  failingSince: string | null;
  createdAt: string;
}

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastResponseStatus: number | null;
  createdAt: string;
  attemptLog: {
    attemptedAt: string;
    latencyMs: number;
    responseStatus: number | null;
    error: string | null;
  }[];
}

/** The tenant's webhook endpoints (admin keys): register one, turn it off and on, read and replay its deliveries. */
export function WebhooksPage(props: { client: QuarryClient }) {
  const { client } = props;
  const [items, setItems] = useState<Webhook[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      setItems((await client.request<{ items: Webhook[] }>('GET', '/v1/webhooks')).items);
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
      <h1>Webhooks</h1>
      <CreateWebhook client={client} onCreated={(w) => setItems((all) => [w, ...all])} />
      <section aria-labelledby="webhooks-title">
        <h2 id="webhooks-title">Endpoints</h2>
        <ErrorNote error={error} />
        {!loading && !error && items.length === 0 && <p>No webhooks yet.</p>}
        <ul class="webhook-list">
          {items.map((w) => (
            <WebhookRow
              client={client}
              webhook={w}
              key={w.id}
              onChange={(changed) => setItems((all) => all.map((x) => (x.id === changed.id ? changed : x)))}
            />
          ))}
        </ul>
      </section>
    </>
  );
}

function CreateWebhook(props: { client: QuarryClient; onCreated: (w: Webhook) => void }) {
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('job.*');
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSecret(null);
    try {
      const created = await props.client.request<Webhook & { secret: string }>('POST', '/v1/webhooks', {
        json: {
          url: url.trim(),
          events: events
            .split(',')
            .map((e) => e.trim())
            .filter((e) => e !== ''),
          description: description.trim(),
        },
      });
      setSecret(created.secret);
      props.onCreated(created);
      setUrl('');
      setDescription('');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="webhook-new">
      <h2 id="webhook-new">Register an endpoint</h2>
      <form onSubmit={(e) => void submit(e)}>
        <div class="field grow">
          <label for="webhook-url">Endpoint URL</label>
          <input
            id="webhook-url"
            type="url"
            required
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="webhook-events">Events (comma-separated patterns)</label>
          <input
            id="webhook-events"
            type="text"
            required
            value={events}
            onInput={(e) => setEvents(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="webhook-description">Description (optional)</label>
          <input
            id="webhook-description"
            type="text"
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
        </div>
        <button type="submit" disabled={busy}>
          {busy ? 'Registering…' : 'Register webhook'}
        </button>
      </form>
      <ErrorNote error={error} />
      {secret && (
        <p role="status" class="secret">
          Signing secret, shown only now: <code>{secret}</code>
        </p>
      )}
    </section>
  );
}

function WebhookRow(props: { client: QuarryClient; webhook: Webhook; onChange: (w: Webhook) => void }) {
  const { client, webhook: w } = props;
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState('');

  const loadDeliveries = async () => {
    try {
      const page = await client.request<{ items: Delivery[] }>(
        'GET',
        `/v1/webhooks/${encodeURIComponent(w.id)}/deliveries`,
        { query: { limit: 20 } },
      );
      setDeliveries(page.items);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const toggleDeliveries = async () => {
    if (open) {
      setOpen(false);
      return;
    }
    setOpen(true);
    await loadDeliveries();
  };

  const setEnabled = async (enabled: boolean) => {
    setBusy(true);
    setError(null);
    try {
      props.onChange(
        await client.request<Webhook>('PATCH', `/v1/webhooks/${encodeURIComponent(w.id)}`, {
          json: { enabled },
        }),
      );
      setMessage(enabled ? 'Webhook turned on.' : 'Webhook turned off.');
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const replay = async (delivery: Delivery) => {
    setError(null);
    try {
      await client.request(
        'POST',
        `/v1/webhooks/${encodeURIComponent(w.id)}/deliveries/${encodeURIComponent(delivery.id)}/replay`,
      );
      setMessage(`Delivery of ${delivery.eventType} queued again.`);
      await loadDeliveries();
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <li class="card" data-webhook-id={w.id}>
      <div class="job-head">
        <span class="mono">{w.url}</span>
        <StatusBadge status={w.enabled ? 'enabled' : 'disabled'} />
      </div>
      <p class="muted">
        {w.events.join(', ')}
        {w.description ? ` · ${w.description}` : ''}
      </p>
      {w.disabledReason && <p class="error">{w.disabledReason}</p>}
      {w.failingSince && <p class="error">Failing since {formatTime(w.failingSince)}</p>}
      <div class="actions">
        <button
          type="button"
          class="secondary"
          aria-expanded={open}
          aria-controls={`deliveries-${w.id}`}
          onClick={() => void toggleDeliveries()}
        >
          {open ? 'Hide deliveries' : 'Show deliveries'}
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={() => void setEnabled(!w.enabled)}>
          {w.enabled ? 'Turn off' : 'Turn on'}
        </button>
      </div>
      <p role="status">{message}</p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {open && (
        <div id={`deliveries-${w.id}`}>
          {!deliveries && !error && <p role="status">Loading deliveries…</p>}
          {deliveries && deliveries.length === 0 && <p>No deliveries yet.</p>}
          {deliveries && deliveries.length > 0 && (
            <ul class="delivery-list" aria-label="Latest deliveries">
              {deliveries.map((d) => (
                <li key={d.id} data-delivery-id={d.id} class="delivery">
                  <div class="job-head">
                    <span>{d.eventType}</span>
                    <StatusBadge status={d.status} />
                  </div>
                  <p class="muted">
                    {d.attempts} attempt{d.attempts === 1 ? '' : 's'} · last answer{' '}
                    {d.lastResponseStatus ?? d.attemptLog.at(-1)?.error ?? 'none yet'} ·{' '}
                    {formatTime(d.createdAt)}
                  </p>
                  <button type="button" class="secondary" onClick={() => void replay(d)}>
                    Replay {d.eventType}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </li>
  );
}
