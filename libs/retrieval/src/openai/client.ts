import OpenAI from 'openai';

export interface OpenAiClientOptions {
  /** Any OpenAI-compatible base URL: `https://api.openai.com/v1`, Ollama's `/v1`, vLLM, TEI. */
  baseUrl: string;
  /** Servers without authentication (a local Ollama) take none: no Authorization header is sent. */
  apiKey?: string | undefined;
  /** Per request, including reading the body. */
  timeoutMs: number;
}

/**
 * The official client, configured from Quarry's settings alone (never from OPENAI_* variables of the process) and
 * with its own retries off: a failed call surfaces at once, and the job's redelivery — with the server's
 * `Retry-After` as the nak delay, visible in the job's attempts — is the one retry policy.
 */
export function createOpenAiClient(options: OpenAiClientOptions): OpenAI {
  return new OpenAI({
    baseURL: options.baseUrl.replace(/\/+$/, ''),
    // The client insists on a key; without one, the header it would make from it is removed below.
    apiKey: options.apiKey ?? 'unused',
    organization: null,
    project: null,
    timeout: options.timeoutMs,
    maxRetries: 0,
    ...(options.apiKey === undefined ? { defaultHeaders: { authorization: null } } : {}),
  });
}
