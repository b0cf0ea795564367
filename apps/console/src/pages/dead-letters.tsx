import type { QuarryClient } from '@quarry/sdk';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ErrorNote, errorText, formatTime, Link, shortId } from '../ui';

interface DeadLetter {
  id: string;
  command: string;
  code: string;
  reason: string;
  jobId: string | null;
  documentId: string | null;
  deliveryCount: number;
  createdAt: string;
  replayedAt: string | null;
  replayCount: number;
  lastReplayJobId: string | null;
}

/** Messages that could not be processed, newest first, each replayable as a new job. */
export function DeadLettersPage(props: { client: QuarryClient }) {
  const { client } = props;
  const [items, setItems] = useState<DeadLetter[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(
    async (cursor?: string) => {
      setLoading(true);
      setError(null);
      try {
        const page = await client.request<{ items: DeadLetter[]; nextCursor: string | null }>(
          'GET',
          '/v1/dead-letters',
          {
            query: { limit: 20, ...(cursor ? { cursor } : {}) },
          },
        );
        setItems((current) => (cursor ? [...current, ...page.items] : page.items));
        setNextCursor(page.nextCursor);
      } catch (e) {
        setError(e);
      } finally {
        setLoading(false);
      }
    },
    [client],
  );

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <>
      <h1>Dead letters</h1>
      <p>
        Commands the workers gave up on. Replaying one starts a new job that retries its document from that
        step.
      </p>
      <ErrorNote error={error} />
      {!loading && !error && items.length === 0 && <p>No dead letters.</p>}
      <ul class="dl-list">
        {items.map((d) => (
          <DeadLetterRow
            client={client}
            item={d}
            key={d.id}
            onReplayed={(updated) => setItems((all) => all.map((x) => (x.id === updated.id ? updated : x)))}
          />
        ))}
      </ul>
      {nextCursor && (
        <button type="button" class="secondary" disabled={loading} onClick={() => void load(nextCursor)}>
          Load more
        </button>
      )}
    </>
  );
}

function DeadLetterRow(props: {
  client: QuarryClient;
  item: DeadLetter;
  onReplayed: (d: DeadLetter) => void;
}) {
  const { client, item: d } = props;
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ jobId: string } | null>(null);
  const [error, setError] = useState<string | null>(null);

  const replay = async () => {
    setBusy(true);
    setError(null);
    try {
      const answer = await client.request<{ deadLetterId: string; jobId: string }>(
        'POST',
        `/v1/dead-letters/${encodeURIComponent(d.id)}/replay`,
      );
      setResult({ jobId: answer.jobId });
      props.onReplayed({
        ...d,
        replayCount: d.replayCount + 1,
        replayedAt: new Date().toISOString(),
        lastReplayJobId: answer.jobId,
      });
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <li class="card dl" data-dead-letter-id={d.id}>
      <div class="job-head">
        <strong>{d.command}</strong>
        <span class="badge badge-failed">{d.code}</span>
      </div>
      <p>{d.reason}</p>
      <dl class="facts">
        <dt>Job</dt>
        <dd>{d.jobId ? <Link to={`/jobs/${d.jobId}`}>job {shortId(d.jobId)}</Link> : '—'}</dd>
        <dt>Deliveries</dt>
        <dd>{d.deliveryCount}</dd>
        <dt>Recorded</dt>
        <dd>{formatTime(d.createdAt)}</dd>
        <dt>Replays</dt>
        <dd>
          {d.replayCount}
          {d.lastReplayJobId && (
            <>
              {' '}
              (last: <Link to={`/jobs/${d.lastReplayJobId}`}>job {shortId(d.lastReplayJobId)}</Link>)
            </>
          )}
        </dd>
      </dl>
      <button type="button" disabled={busy || !d.jobId} onClick={() => void replay()}>
        {busy ? 'Replaying…' : `Replay ${d.command}`}
      </button>
      <p role="status" class="replay-result">
        {result && (
          <>
            Replayed as <Link to={`/jobs/${result.jobId}`}>job {shortId(result.jobId)}</Link>.
          </>
        )}
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
