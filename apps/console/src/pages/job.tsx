import type { Job, JobDocument, QuarryClient, Schemas } from '@quarry/sdk';
import { useEffect, useState } from 'preact/hooks';
import type { ConsoleConfig } from '../session';
import {
  ErrorNote,
  errorText,
  formatDuration,
  formatMs,
  formatTime,
  isTerminal,
  Link,
  ProgressBar,
  shortId,
  StatusBadge,
} from '../ui';

interface Page {
  pageNumber: number;
  text: string;
  method?: string;
  ocrConfidence?: number | null;
}

/** One job: status, timings, trace link, and each document with its status, error and extracted pages. */
export function JobPage(props: { client: QuarryClient; id: string; config: ConsoleConfig }) {
  const { client, id, config } = props;
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [action, setAction] = useState<{ busy: boolean; message: string; error: unknown }>({
    busy: false,
    message: '',
    error: null,
  });

  useEffect(() => {
    const abort = new AbortController();
    void (async () => {
      try {
        const first = await client.getJob(id, abort.signal);
        setJob(first);
        if (isTerminal(first.status)) return;
        // Live until the job ends: its stream from the first event, each one followed by a fresh read.
        for await (const event of client.jobEvents(id, { signal: abort.signal })) {
          if (event.type.startsWith('job.') || event.documentId)
            setJob(await client.getJob(id, abort.signal));
        }
        setJob(await client.getJob(id, abort.signal));
      } catch (e) {
        if (!abort.signal.aborted) setError(e);
      }
    })();
    return () => abort.abort();
  }, [client, id]);

  const run = async (what: 'cancel' | 'retry') => {
    setAction({ busy: true, message: '', error: null });
    try {
      if (what === 'cancel') {
        setJob(await client.cancelJob(id));
        setAction({ busy: false, message: 'Job cancelled.', error: null });
      } else {
        const retry = await client.retryJob(id);
        setAction({
          busy: false,
          message: `Retrying the failed documents as job ${shortId(retry.id)}.`,
          error: null,
        });
      }
    } catch (e) {
      setAction({ busy: false, message: '', error: e });
    }
  };

  if (error) {
    return (
      <>
        <h1>Job {shortId(id)}</h1>
        <ErrorNote error={error} />
        <p>
          <Link to="/">Back to the jobs</Link>
        </p>
      </>
    );
  }
  if (!job) return <p role="status">Loading job…</p>;

  const traceId = typeof job['traceId'] === 'string' ? job['traceId'] : null;
  const retryOf = typeof job['retryOfJobId'] === 'string' ? job['retryOfJobId'] : null;
  const steps = Array.isArray(job['steps']) ? (job['steps'] as Schemas['JobStep'][]) : [];
  return (
    <>
      <p class="breadcrumb">
        <Link to="/">Jobs</Link> / {shortId(job.id)}
      </p>
      <div class="section-head">
        <h1>
          {job.type} job {shortId(job.id)}
        </h1>
        <StatusBadge status={job.status} />
      </div>
      <ProgressBar job={job} label="Job progress" />
      {job.error && (
        <p class="error" role="alert">
          {job.error.message} ({job.error.code})
        </p>
      )}
      <section class="card" aria-labelledby="job-facts">
        <h2 id="job-facts">Details and timings</h2>
        <dl class="facts">
          <dt>Job id</dt>
          <dd class="mono">{job.id}</dd>
          <dt>Lane</dt>
          <dd>{job.lane}</dd>
          <dt>Attempts</dt>
          <dd>{typeof job['attempts'] === 'number' ? job['attempts'] : '—'}</dd>
          <dt>Created</dt>
          <dd>{formatTime(job['createdAt'])}</dd>
          <dt>Waited in queue</dt>
          <dd>{formatDuration(job['createdAt'], job['startedAt'])}</dd>
          <dt>Ran for</dt>
          <dd>{formatDuration(job['startedAt'], job['finishedAt'])}</dd>
          <dt>Total</dt>
          <dd>{formatDuration(job['createdAt'], job['finishedAt'])}</dd>
          {typeof job.progress['details'] === 'string' && (
            <>
              <dt>Last step</dt>
              <dd>{job.progress['details']}</dd>
            </>
          )}
          {retryOf && (
            <>
              <dt>Retry of</dt>
              <dd>
                <Link to={`/jobs/${retryOf}`}>job {shortId(retryOf)}</Link>
              </dd>
            </>
          )}
          <dt>Trace</dt>
          <dd>
            {traceId && config.jaegerUiUrl ? (
              <a
                href={`${config.jaegerUiUrl.replace(/\/+$/, '')}/trace/${traceId}`}
                target="_blank"
                rel="noreferrer"
              >
                Open trace {traceId.slice(0, 8)} in Jaeger
              </a>
            ) : traceId ? (
              <span class="mono">{traceId}</span>
            ) : (
              '—'
            )}
          </dd>
        </dl>
        <div class="actions">
          {!isTerminal(job.status) && (
            <button type="button" class="secondary" disabled={action.busy} onClick={() => void run('cancel')}>
              Cancel job
            </button>
          )}
          {(job.status === 'failed' || job.status === 'completed_with_failures') && (
            <button type="button" disabled={action.busy} onClick={() => void run('retry')}>
              Retry failed documents
            </button>
          )}
        </div>
        <p role="status">{action.message}</p>
        <ErrorNote error={action.error} />
      </section>
      {steps.length > 0 && (
        <section class="card" aria-labelledby="job-steps">
          <h2 id="job-steps">Steps</h2>
          <div class="table-scroll" tabIndex={0} role="region" aria-label="Steps of the job">
            <table>
              <caption class="visually-hidden">
                Each step of the job with its progress and how long it ran
              </caption>
              <thead>
                <tr>
                  <th scope="col">Step</th>
                  <th scope="col">Status</th>
                  <th scope="col">Done</th>
                  <th scope="col">Started</th>
                  <th scope="col">Took</th>
                </tr>
              </thead>
              <tbody>
                {steps.map((s) => (
                  <tr key={s.name}>
                    <th scope="row">{s.name}</th>
                    <td>{s.status}</td>
                    <td>
                      {s.done} / {s.total}
                    </td>
                    <td>{formatTime(s.startedAt)}</td>
                    <td>{s.durationMs === null ? '—' : formatMs(s.durationMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      <section aria-labelledby="job-documents">
        <h2 id="job-documents">Documents ({job.documents.length})</h2>
        <ul class="doc-list">
          {job.documents.map((d) => (
            <DocumentRow client={client} document={d} key={d.id} />
          ))}
        </ul>
      </section>
    </>
  );
}

function DocumentRow(props: { client: QuarryClient; document: JobDocument }) {
  const { client, document: d } = props;
  const [pages, setPages] = useState<Page[] | null>(null);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const detectedType = typeof d['detectedType'] === 'string' ? d['detectedType'] : null;

  const toggle = async () => {
    if (open) {
      setOpen(false);
      return;
    }
    setOpen(true);
    if (pages) return;
    try {
      const body = await client.request<{ pages: Page[] }>(
        'GET',
        `/v1/documents/${encodeURIComponent(d.id)}`,
      );
      setPages(body.pages);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <li class="card doc" data-document-id={d.id} data-status={d.status}>
      <div class="job-head">
        <span class="doc-name">{d.filename ?? d.id}</span>
        <StatusBadge status={d.status} />
      </div>
      <p class="muted">
        {detectedType ?? 'type not detected yet'} · <span class="mono">{shortId(d.id)}</span>
      </p>
      {d.error && (
        <p class="error">
          {d.error.message} ({d.error.code})
        </p>
      )}
      <button
        type="button"
        class="secondary"
        aria-expanded={open}
        aria-controls={`pages-${d.id}`}
        onClick={() => void toggle()}
      >
        {open ? 'Hide pages' : `Show pages of ${d.filename ?? 'the document'}`}
      </button>
      {open && (
        <div id={`pages-${d.id}`} class="pages">
          {error && <p class="error">{error}</p>}
          {!error && !pages && <p role="status">Loading pages…</p>}
          {pages && pages.length === 0 && <p>No text extracted yet.</p>}
          {pages?.map((p) => (
            <figure class="page" key={p.pageNumber}>
              <figcaption>
                Page {p.pageNumber}
                {p.method ? ` · ${p.method}` : ''}
                {typeof p.ocrConfidence === 'number'
                  ? ` · OCR confidence ${Math.round(p.ocrConfidence)}%`
                  : ''}
              </figcaption>
              <pre>{p.text.length > 1200 ? `${p.text.slice(0, 1200)}…` : p.text}</pre>
            </figure>
          ))}
        </div>
      )}
    </li>
  );
}
