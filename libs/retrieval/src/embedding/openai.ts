import { QuarryError } from '@quarry/contracts';
import { batches, type EmbeddingProvider } from './provider';
import { l2Normalize } from './vector';

export interface OpenAiEmbeddingOptions {
  /** e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1` (Ollama), a vLLM or TEI server. */
  baseUrl: string;
  apiKey?: string | undefined;
  model: string;
  /** The dimension the model returns; a response of any other length is rejected. */
  dim: number;
  batchSize: number;
  /** Per request (one batch), including reading the body. */
  timeoutMs: number;
}

interface EmbeddingsResponse {
  data: { index: number; embedding: number[] }[];
}

const MAX_BODY_IN_MESSAGE = 300;

/**
 * Any server speaking OpenAI's `POST /embeddings`. It never retries on its own: failures surface as
 * `embedding_failed`, retryable for network errors, timeouts, 429 and 5xx, so the job's redelivery
 * (with backoff, visible in the job's attempts) is the one retry policy.
 */
export class OpenAiEmbeddingProvider implements EmbeddingProvider {
  readonly id: string;
  readonly dim: number;
  private readonly url: string;
  private closed = false;

  constructor(private readonly options: OpenAiEmbeddingOptions) {
    if (!Number.isInteger(options.dim) || options.dim < 1) {
      throw new QuarryError('validation_failed', 'embedding dimension must be a positive integer');
    }
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new QuarryError('validation_failed', 'embedding batch size must be a positive integer');
    }
    this.id = `openai:${options.model}`;
    this.dim = options.dim;
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/embeddings`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    if (this.closed) throw new QuarryError('internal', 'embedding provider is closed');
    const out: Float32Array[] = [];
    for (const batch of batches(texts, this.options.batchSize)) out.push(...(await this.request(batch)));
    return out;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private async request(input: string[]): Promise<Float32Array[]> {
    const { model, apiKey, timeoutMs } = this.options;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    let body: string;
    let status: number;
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model, input }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      body = await res.text();
    } catch (cause) {
      const timedOut = nameOf(cause) === 'TimeoutError';
      const reason = timedOut ? `timed out after ${timeoutMs} ms` : describe(cause);
      throw new QuarryError('embedding_failed', `embedding request to ${this.url} failed: ${reason}`, {
        cause,
        retryable: true,
      });
    }
    if (status < 200 || status > 299) {
      // 408 and 429 are the server asking to come back later; other 4xx (bad key, unknown model, input
      // too long) fail the same way every time.
      const retryable = status >= 500 || status === 429 || status === 408;
      throw new QuarryError('embedding_failed', `embedding server answered ${status}: ${snippet(body)}`, {
        retryable,
        details: { status },
      });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (cause) {
      // A 2xx with a body that is not JSON is a proxy or a cut connection, not the model's answer.
      throw new QuarryError('embedding_failed', `embedding server sent invalid JSON: ${snippet(body)}`, {
        cause,
        retryable: true,
      });
    }
    return this.vectors(parsed, input.length);
  }

  /** Vectors in input order. A malformed answer is a misconfiguration (wrong model or server): not retried. */
  private vectors(parsed: unknown, expected: number): Float32Array[] {
    const fail = (message: string): never => {
      throw new QuarryError('embedding_failed', message, { retryable: false });
    };
    if (!isEmbeddingsResponse(parsed)) return fail('embedding server response has no `data` array');
    if (parsed.data.length !== expected) {
      fail(`embedding server returned ${parsed.data.length} vectors for ${expected} inputs`);
    }
    const out = new Array<Float32Array | undefined>(expected);
    for (const item of parsed.data) {
      const { index, embedding } = item;
      if (!Number.isInteger(index) || index < 0 || index >= expected || out[index] !== undefined) {
        fail(`embedding server returned an invalid or repeated index ${String(index)}`);
      }
      if (!Array.isArray(embedding) || embedding.length !== this.dim) {
        fail(
          `embedding model ${this.options.model} returned ${Array.isArray(embedding) ? embedding.length : 'no'} ` +
            `dimensions, configured ${this.dim}`,
        );
      }
      const v = Float32Array.from(embedding);
      if (v.some((x) => !Number.isFinite(x))) fail('embedding server returned a non-numeric component');
      out[index] = l2Normalize(v);
    }
    return out.map((v) => v ?? fail('embedding server response is missing a vector'));
  }
}

function isEmbeddingsResponse(x: unknown): x is EmbeddingsResponse {
  if (typeof x !== 'object' || x === null || !('data' in x) || !Array.isArray(x.data)) return false;
  return x.data.every((item: unknown) => typeof item === 'object' && item !== null);
}

function snippet(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_BODY_IN_MESSAGE
    ? `${flat.slice(0, MAX_BODY_IN_MESSAGE)}…`
    : flat || '(empty body)';
}

// Duck-typed rather than `instanceof`: fetch's errors come from undici's realm, which is not the
// caller's under Jest's module sandbox.
function nameOf(x: unknown): string | undefined {
  return typeof x === 'object' && x !== null && 'name' in x && typeof x.name === 'string'
    ? x.name
    : undefined;
}

function messageOf(x: unknown): string | undefined {
  return typeof x === 'object' && x !== null && 'message' in x && typeof x.message === 'string'
    ? x.message
    : undefined;
}

function describe(cause: unknown): string {
  const outer = messageOf(cause) ?? String(cause);
  // undici hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`.
  const inner =
    typeof cause === 'object' && cause !== null && 'cause' in cause ? messageOf(cause.cause) : undefined;
  return inner === undefined ? outer : `${outer}: ${inner}`;
}
