import type { Job, QuarryClient } from '@quarry/sdk';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ErrorNote, Link, ProgressBar, shortId, StatusBadge } from '../ui';

interface Citation {
  documentId: string;
  filename: string;
  page: number;
  chunkId: string;
  quote: string;
}

interface AnswerResult {
  type: 'answer';
  method: string;
  question: string;
  answer: string | null;
  citations: Citation[];
}

interface ClassifyResult {
  type: 'classify';
  method: string;
  model: string;
  results: {
    documentId: string;
    filename: string;
    labels: string[];
    scores: { name: string; score: number }[];
  }[];
}

type Result = AnswerResult | ClassifyResult;

function tagFilter(tags: string): Record<string, unknown> {
  const list = tags
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  return list.length ? { tags: list } : {};
}

/**
 * Runs an analysis job and follows it: its events until it ends, then the stored job with its result. Returns the
 * job as it goes, so the page shows a bar while it runs.
 */
function useAnalysis(client: QuarryClient) {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);

  const run = async (request: Record<string, unknown>) => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setBusy(true);
    setError(null);
    setJob(null);
    try {
      const accepted = await client.request<Job>('POST', '/v1/analyses', { json: request });
      const read = () => client.request<Job>('GET', `/v1/analyses/${encodeURIComponent(accepted.id)}`);
      setJob(await read());
      for await (const event of client.jobEvents(accepted.id, { signal: controller.signal })) {
        if (event.type.startsWith('job.')) setJob(await read());
      }
      if (!controller.signal.aborted) setJob(await read());
    } catch (e) {
      if (!controller.signal.aborted) setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { job, error, busy, run };
}

export function AnalysesPage(props: { client: QuarryClient }) {
  return (
    <>
      <h1>Analyses</h1>
      <p>Analyses read your indexed documents as jobs of their own; each result says how it was made.</p>
      <Ask client={props.client} />
      <Classify client={props.client} />
    </>
  );
}

function Ask(props: { client: QuarryClient }) {
  const [question, setQuestion] = useState('');
  const [tags, setTags] = useState('');
  const { job, error, busy, run } = useAnalysis(props.client);
  const result = job?.['result'] as Result | undefined;

  return (
    <section class="card" aria-labelledby="ask-title">
      <h2 id="ask-title">Ask a question</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const filter = tagFilter(tags);
          void run({
            type: 'answer',
            question: question.trim(),
            ...(Object.keys(filter).length ? { filter } : {}),
          });
        }}
      >
        <div class="field grow">
          <label for="ask-question">Question</label>
          <input
            id="ask-question"
            type="text"
            required
            value={question}
            onInput={(e) => setQuestion(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="ask-tags">Only documents with tags (optional)</label>
          <input id="ask-tags" type="text" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={busy}>
          {busy ? 'Asking…' : 'Ask'}
        </button>
      </form>
      <ErrorNote error={error} />
      {job && <AnalysisStatus job={job} />}
      {result?.type === 'answer' && (
        <div class="analysis-result" data-analysis="answer">
          <h3>Answer ({result.method})</h3>
          <p>{result.answer ?? 'Nothing in the documents answers this.'}</p>
          <Citations citations={result.citations} />
        </div>
      )}
    </section>
  );
}

function Classify(props: { client: QuarryClient }) {
  const [labels, setLabels] = useState('invoice: a bill asking for payment\nletter: correspondence');
  const [tags, setTags] = useState('');
  const [multiLabel, setMultiLabel] = useState(false);
  const [problem, setProblem] = useState('');
  const { job, error, busy, run } = useAnalysis(props.client);
  const result = job?.['result'] as Result | undefined;

  const submit = (event: Event) => {
    event.preventDefault();
    const parsed = labels
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .map((line) => {
        const at = line.indexOf(':');
        const name = (at < 0 ? line : line.slice(0, at)).trim();
        const description = at < 0 ? '' : line.slice(at + 1).trim();
        return description ? { name, description } : { name };
      });
    if (parsed.length < 2) {
      setProblem('Give at least two labels, one per line.');
      return;
    }
    setProblem('');
    void run({ type: 'classify', labels: parsed, multiLabel, filter: tagFilter(tags) });
  };

  return (
    <section class="card" aria-labelledby="classify-title">
      <h2 id="classify-title">Classify a set of documents</h2>
      <form onSubmit={submit}>
        <div class="field grow">
          <label for="classify-labels">Labels, one per line (name: description)</label>
          <textarea
            id="classify-labels"
            rows={4}
            required
            value={labels}
            onInput={(e) => setLabels(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="classify-tags">Documents with tags (empty: all)</label>
          <input
            id="classify-tags"
            type="text"
            value={tags}
            onInput={(e) => setTags(e.currentTarget.value)}
          />
        </div>
        <div class="field checkbox">
          <input
            id="classify-multi"
            type="checkbox"
            checked={multiLabel}
            onChange={(e) => setMultiLabel(e.currentTarget.checked)}
          />
          <label for="classify-multi">Several labels per document</label>
        </div>
        <button type="submit" disabled={busy}>
          {busy ? 'Classifying…' : 'Classify'}
        </button>
      </form>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <ErrorNote error={error} />
      {job && <AnalysisStatus job={job} />}
      {result?.type === 'classify' && (
        <div class="analysis-result" data-analysis="classify">
          <h3>
            {result.results.length} documents ({result.method}, {result.model})
          </h3>
          <ul class="classified">
            {result.results.map((r) => (
              <li key={r.documentId}>
                <strong>{r.filename}</strong>: {r.labels.join(', ') || 'no label'}
                <span class="muted">
                  {' '}
                  ({r.scores.map((s) => `${s.name} ${s.score.toFixed(2)}`).join(' · ')})
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

function AnalysisStatus(props: { job: Job }) {
  const { job } = props;
  return (
    <div class="analysis-status">
      <p>
        <Link to={`/jobs/${job.id}`}>Analysis job {shortId(job.id)}</Link> <StatusBadge status={job.status} />
      </p>
      <ProgressBar job={job} label={`Progress of analysis ${shortId(job.id)}`} />
      {job.error && <p class="error">{job.error.message}</p>}
    </div>
  );
}

function Citations(props: { citations: Citation[] }) {
  if (props.citations.length === 0) return null;
  return (
    <>
      <h4>Sources</h4>
      <ol class="citations">
        {props.citations.map((c) => (
          <li key={c.chunkId}>
            <blockquote>{c.quote}</blockquote>
            <p class="muted">
              {c.filename}, page {c.page}
            </p>
          </li>
        ))}
      </ol>
    </>
  );
}
