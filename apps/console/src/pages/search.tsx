import type { QuarryClient } from '@quarry/sdk';
import { useState } from 'preact/hooks';
import { ErrorNote } from '../ui';

interface Hit {
  documentId: string;
  filename: string | null;
  page: number | null;
  chunkId: string;
  text: string;
  score: number;
  highlights?: { start: number; end: number }[];
}

interface SearchAnswer {
  mode: string;
  results: Hit[];
  nextCursor: string | null;
}

/** Splits a hit's text at the API's highlight offsets: the matched words are marked, the rest is plain. */
export function highlighted(text: string, highlights: readonly { start: number; end: number }[] = []) {
  const parts: (string | { mark: string })[] = [];
  let at = 0;
  for (const h of [...highlights].sort((a, b) => a.start - b.start)) {
    const start = Math.max(at, Math.min(h.start, text.length));
    const end = Math.max(start, Math.min(h.end, text.length));
    if (end === start) continue;
    if (start > at) parts.push(text.slice(at, start));
    parts.push({ mark: text.slice(start, end) });
    at = end;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts.map((p, i) => (typeof p === 'string' ? p : <mark key={i}>{p.mark}</mark>));
}

export function SearchPage(props: { client: QuarryClient }) {
  const [query, setQuery] = useState('');
  const [mode, setMode] = useState<'hybrid' | 'keyword' | 'vector'>('hybrid');
  const [tags, setTags] = useState('');
  const [answer, setAnswer] = useState<SearchAnswer | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [asked, setAsked] = useState<{ query: string; filter: Record<string, unknown> } | null>(null);

  const search = async (cursor?: string) => {
    const request = cursor && asked ? asked : { query: query.trim(), filter: filterOf(tags) };
    if (!request.query) return;
    setBusy(true);
    setError(null);
    try {
      const result = await props.client.search<SearchAnswer>({
        query: request.query,
        mode,
        topK: 10,
        ...(Object.keys(request.filter).length ? { filter: request.filter } : {}),
        ...(cursor ? { cursor } : {}),
      });
      setAsked(request);
      setAnswer((current) =>
        cursor && current ? { ...result, results: [...current.results, ...result.results] } : result,
      );
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1>Search</h1>
      <form
        class="card search-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        <div class="field grow">
          <label for="search-query">Search the documents</label>
          <input
            id="search-query"
            type="search"
            required
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="search-mode">Mode</label>
          <select
            id="search-mode"
            value={mode}
            onChange={(e) => setMode(e.currentTarget.value as typeof mode)}
          >
            <option value="hybrid">Hybrid</option>
            <option value="keyword">Keyword</option>
            <option value="vector">Vector</option>
          </select>
        </div>
        <div class="field">
          <label for="search-tags">Only with tags (comma-separated)</label>
          <input id="search-tags" type="text" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={busy}>
          {busy ? 'Searching…' : 'Search'}
        </button>
      </form>
      <ErrorNote error={error} />
      {answer && (
        <section aria-labelledby="search-results">
          <h2 id="search-results">
            {answer.results.length === 0 ? 'No results' : `${answer.results.length} results`} ({answer.mode})
          </h2>
          <ol class="hits">
            {answer.results.map((hit) => (
              <li class="card hit" key={hit.chunkId}>
                <p class="hit-head">
                  <strong>{hit.filename ?? hit.documentId}</strong>
                  {hit.page ? ` · page ${hit.page}` : ''} · score {hit.score.toFixed(3)}
                </p>
                <p class="hit-text">{highlighted(hit.text, hit.highlights)}</p>
              </li>
            ))}
          </ol>
          {answer.nextCursor && (
            <button
              type="button"
              class="secondary"
              disabled={busy}
              onClick={() => void search(answer.nextCursor ?? undefined)}
            >
              More results
            </button>
          )}
        </section>
      )}
    </>
  );
}

function filterOf(tags: string): Record<string, unknown> {
  const list = tags
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  return list.length ? { tags: list } : {};
}
