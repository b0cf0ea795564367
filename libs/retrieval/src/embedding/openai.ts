import { QuarryError } from '@quarry/contracts';
import type OpenAI from 'openai';
import { createOpenAiClient } from '../openai/client';
import { fromOpenAiError } from '../openai/errors';
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
  /** Told the tokens each request used, as the server counted them (absent from some servers' answers). */
  onTokens?: (tokens: number) => void;
}

/**
 * Any server speaking OpenAI's `POST /embeddings`, through the official client with its retries off: failures
 * surface as `embedding_failed`, retryable for network errors, timeouts, 429 and 5xx (429 with the server's
 * `Retry-After` as the nak delay), so the job's redelivery is the one retry policy.
 */
export class OpenAiEmbeddingProvider implements EmbeddingProvider {
  readonly id: string;
  readonly dim: number;
  private readonly client: OpenAI;
  private readonly server: string;
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
    this.client = createOpenAiClient(options);
    this.server = `embedding server ${options.baseUrl.replace(/\/+$/, '')}`;
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
    let parsed: unknown;
    try {
      // Floats, not the client's default base64: Ollama and TEI answer only floats.
      parsed = await this.client.embeddings.create({
        model: this.options.model,
        input,
        encoding_format: 'float',
      });
    } catch (error) {
      if (error instanceof SyntaxError) {
        // A 2xx with a body that is not JSON is a proxy or a cut connection, not the model's answer.
        throw new QuarryError('embedding_failed', `${this.server} sent invalid JSON: ${error.message}`, {
          cause: error,
          retryable: true,
        });
      }
      throw fromOpenAiError(error, 'embedding_failed', this.server, this.options.timeoutMs);
    }
    if (typeof parsed === 'string') {
      // The client hands over a body that is not JSON as text: a proxy's page or a cut connection, not the model's.
      throw new QuarryError('embedding_failed', `${this.server} sent a body that is not JSON`, {
        retryable: true,
      });
    }
    const vectors = this.vectors(parsed, input.length);
    const tokens = usedTokens(parsed);
    if (tokens !== undefined) this.options.onTokens?.(tokens);
    return vectors;
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

interface EmbeddingsResponse {
  data: { index: number; embedding: number[] }[];
}

function usedTokens(x: unknown): number | undefined {
  if (typeof x !== 'object' || x === null || !('usage' in x)) return undefined;
  const { usage } = x;
  if (typeof usage !== 'object' || usage === null || !('prompt_tokens' in usage)) return undefined;
  return typeof usage.prompt_tokens === 'number' ? usage.prompt_tokens : undefined;
}

function isEmbeddingsResponse(x: unknown): x is EmbeddingsResponse {
  if (typeof x !== 'object' || x === null || !('data' in x) || !Array.isArray(x.data)) return false;
  return x.data.every((item: unknown) => typeof item === 'object' && item !== null);
}
