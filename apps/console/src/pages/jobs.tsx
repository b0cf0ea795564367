import type { Job, QuarryClient } from '@quarry/sdk';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ErrorNote, formatTime, isTerminal, Link, ProgressBar, shortId, StatusBadge } from '../ui';

const STATUSES = ['queued', 'running', 'succeeded', 'completed_with_failures', 'failed', 'cancelled'];
/** A safety net under the live stream: active jobs on screen are read again this often (missed events, reconnects). */
const RECONCILE_MS = 10_000;

type LiveState = 'connecting' | 'live' | 'stopped';

/** The tenant's jobs, newest first, updated live from the tenant's event stream; an upload form on top. */
export function JobsPage(props: { client: QuarryClient }) {
  const { client } = props;
  const [status, setStatus] = useState('');
  const [stuck, setStuck] = useState(false);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<LiveState>('connecting');
  const [eventCount, setEventCount] = useState(0);
  const pending = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  const filter = useRef({ status, stuck });
  filter.current = { status, stuck };

  const load = useCallback(
    async (cursor?: string) => {
      setLoading(true);
      setError(null);
      try {
        const page = await client.listJobs({
          limit: 20,
          ...(status ? { status } : {}),
          ...(stuck ? { stuck: true } : {}),
          ...(cursor ? { cursor } : {}),
        });
        setJobs((current) => (cursor ? [...current, ...page.items] : page.items));
        setNextCursor(page.nextCursor);
      } catch (e) {
        setError(e);
      } finally {
        setLoading(false);
      }
    },
    [client, status, stuck],
  );

  useEffect(() => {
    void load();
  }, [load]);

  /** Reads one job again and puts it in the list where the filter wants it. */
  const refresh = useCallback(
    async (id: string) => {
      try {
        const job = await client.getJob(id);
        setJobs((current) => {
          const at = current.findIndex((j) => j.id === id);
          const wanted = !filter.current.status || job.status === filter.current.status;
          if (at >= 0) {
            if (!wanted && !filter.current.stuck) return current.filter((j) => j.id !== id);
            const copy = [...current];
            copy[at] = job;
            return copy;
          }
          return wanted && !filter.current.stuck ? [job, ...current] : current;
        });
      } catch {
        // Deleted or unreadable: the next listing says so.
      }
    },
    [client],
  );

  const schedule = useCallback(
    (id: string) => {
      if (pending.current.has(id)) return;
      pending.current.set(
        id,
        setTimeout(() => {
          pending.current.delete(id);
          void refresh(id);
        }, 150),
      );
    },
    [refresh],
  );

  // The tenant's job and document events from now on (the SDK reconnects with Last-Event-ID).
  useEffect(() => {
    const abort = new AbortController();
    setLive('connecting');
    void (async () => {
      try {
        const stream = client.events({ types: ['job.*', 'document.*'] }, { signal: abort.signal });
        setLive('live');
        for await (const event of stream) {
          setEventCount((n) => n + 1);
          if (event.jobId) schedule(event.jobId);
        }
      } catch {
        if (!abort.signal.aborted) setLive('stopped');
      }
    })();
    const timers = pending.current;
    return () => {
      abort.abort();
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    };
  }, [client, schedule]);

  const jobsRef = useRef(jobs);
  jobsRef.current = jobs;
  useEffect(() => {
    const timer = setInterval(() => {
      for (const job of jobsRef.current) if (!isTerminal(job.status)) schedule(job.id);
    }, RECONCILE_MS);
    return () => clearInterval(timer);
  }, [schedule]);

  return (
    <>
      <h1>Jobs</h1>
      <UploadForm
        client={client}
        onUploaded={(job) => {
          setJobs((current) => [job, ...current.filter((j) => j.id !== job.id)]);
          schedule(job.id);
        }}
      />
      <section aria-labelledby="jobs-title">
        <div class="section-head">
          <h2 id="jobs-title">Recent jobs</h2>
          <p class={`live live-${live}`} role="status" data-events={eventCount}>
            {live === 'live'
              ? `Live updates on · ${eventCount} events`
              : live === 'connecting'
                ? 'Connecting…'
                : 'Live updates stopped'}
          </p>
        </div>
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <div class="field">
            <label for="job-status">Status</label>
            <select id="job-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">Any</option>
              {STATUSES.map((s) => (
                <option value={s} key={s}>
                  {s.replaceAll('_', ' ')}
                </option>
              ))}
            </select>
          </div>
          <div class="field checkbox">
            <input
              id="job-stuck"
              type="checkbox"
              checked={stuck}
              onChange={(e) => setStuck(e.currentTarget.checked)}
            />
            <label for="job-stuck">Only stuck jobs</label>
          </div>
        </form>
        <ErrorNote error={error} />
        {!loading && jobs.length === 0 && !error && <p>No jobs yet. Upload a file to start one.</p>}
        <ul class="job-list">
          {jobs.map((job) => (
            <JobRow job={job} key={job.id} />
          ))}
        </ul>
        {nextCursor && (
          <button type="button" class="secondary" disabled={loading} onClick={() => void load(nextCursor)}>
            Load more jobs
          </button>
        )}
      </section>
    </>
  );
}

function JobRow(props: { job: Job }) {
  const { job } = props;
  const done = job.documents.filter((d) => ['indexed', 'failed', 'cancelled'].includes(d.status)).length;
  return (
    <li class="job card" data-job-id={job.id} data-status={job.status}>
      <div class="job-head">
        <Link to={`/jobs/${job.id}`}>
          {job.type} job {shortId(job.id)}
        </Link>
        <StatusBadge status={job.status} />
      </div>
      <ProgressBar job={job} label={`Progress of job ${shortId(job.id)}`} />
      <p class="muted">
        {job.documents.length > 0 ? `${done} of ${job.documents.length} documents finished · ` : ''}
        {formatTime(job['createdAt'])}
      </p>
      {job.error && <p class="error">{job.error.message}</p>}
    </li>
  );
}

function UploadForm(props: { client: QuarryClient; onUploaded: (job: Job) => void }) {
  const [files, setFiles] = useState<File[]>([]);
  const [tags, setTags] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState('');
  const input = useRef<HTMLInputElement>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (files.length === 0) return;
    setBusy(true);
    setError(null);
    setMessage('');
    try {
      const tagList = tags
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '');
      const job = await props.client.uploadFiles(files, {
        wait: false,
        ...(tagList.length ? { tags: tagList } : {}),
      });
      // The 202 answers a job in brief: enough to show it until the stream or a read fills it in.
      props.onUploaded({
        ...job,
        type: job.type ?? 'ingest',
        progress: job.progress ?? {},
        error: job.error ?? null,
      });
      setMessage(`Uploaded ${files.length} file${files.length === 1 ? '' : 's'} as job ${shortId(job.id)}.`);
      setFiles([]);
      if (input.current) input.current.value = '';
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload documents</h2>
      <form class="upload" onSubmit={(e) => void submit(e)}>
        <div class="field">
          <label for="upload-files">Files</label>
          <input
            id="upload-files"
            ref={input}
            type="file"
            multiple
            onChange={(e) => setFiles([...(e.currentTarget.files ?? [])])}
          />
        </div>
        <div class="field">
          <label for="upload-tags">Tags (comma-separated, optional)</label>
          <input id="upload-tags" type="text" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={busy || files.length === 0}>
          {busy ? 'Uploading…' : files.length > 1 ? `Upload ${files.length} files` : 'Upload'}
        </button>
      </form>
      <p role="status">{message}</p>
      <ErrorNote error={error} />
    </section>
  );
}
