import createClient, { type Client } from 'openapi-fetch';
import { apiErrorOf, QuarryApiError } from './errors';
import type { paths } from './generated/openapi';
import { readEventStream, type EventStreamOptions } from './events';
import { TERMINAL_JOB_STATUSES, type Job, type StreamedEvent } from './types';

export interface QuarryClientOptions {
  /** The gateway, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  apiKey: string;
  /** A fetch of your own (a proxy agent, tests); the global one by default. */
  fetch?: typeof fetch;
}

/** A file to upload: a path (Node), a File or Blob (browsers and Node), or bytes with a name. */
export type UploadInput =
  string | File | { name: string; data: Blob | Uint8Array | ArrayBuffer; type?: string };

export interface UploadOptions {
  /** Resolve when the job has ended (default), or as soon as it is accepted. */
  wait?: boolean;
  /** Called on every event of the job while waiting: its documents' progress. */
  onProgress?: (progress: JobProgress) => void;
  tags?: string[];
  metadata?: Record<string, string | number | boolean | null>;
  /** Labels to classify each document by once indexed. */
  classify?: string[];
  lane?: 'interactive' | 'bulk';
  /** The same key answers with the same job (a retried request creates nothing twice). */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/** Where a job stands, from its event stream. */
export interface JobProgress {
  jobId: string;
  status: string;
  /** Each document's latest status, by id. */
  documents: Record<string, { filename: string | null; status: string }>;
  total: number;
  /** Documents that reached indexed, failed or cancelled. */
  finished: number;
  failed: number;
  event: StreamedEvent;
}

const FINISHED_DOCUMENT = new Set(['indexed', 'failed', 'cancelled']);

/**
 * The Quarry API for Node ≥ 22 and browsers: plain `fetch`, typed errors (QuarryApiError with the API's `code`),
 * and the parts a generated client does not give — uploads that wait with progress, a job's live events with
 * reconnects, and webhook verification (`verifyWebhook`).
 */
export class QuarryClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  /**
   * Every route, typed from the OpenAPI document (openapi-fetch over the generated `paths`):
   * `const { data, error } = await quarry.api.GET('/v1/jobs/{id}', { params: { path: { id } } })`.
   */
  readonly api: Client<paths>;

  constructor(private readonly options: QuarryClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.api = createClient<paths>({
      baseUrl: this.baseUrl,
      headers: { authorization: `Bearer ${options.apiKey}` },
      fetch: (request) => this.fetchImpl(request),
    });
  }

  /** Any route: JSON in and out, a QuarryApiError for an error answer. */
  async request<T>(
    method: string,
    path: string,
    init: {
      json?: unknown;
      body?: RequestInit['body'];
      query?: Record<string, string | number | boolean | undefined>;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    } = {},
  ): Promise<T> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.apiKey}`,
      ...init.headers,
    };
    let body = init.body;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    const response = await this.fetchImpl(this.url(path, init.query), {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(init.signal ? { signal: init.signal } : {}),
    });
    if (!response.ok) throw await apiErrorOf(response);
    const text = await response.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  getJob(id: string, signal?: AbortSignal): Promise<Job> {
    return this.request<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}`, signal ? { signal } : {});
  }

  listJobs(query: { status?: string; limit?: number; cursor?: string; stuck?: boolean } = {}) {
    return this.request<{ items: Job[]; nextCursor: string | null }>('GET', '/v1/jobs', { query });
  }

  cancelJob(id: string): Promise<Job> {
    return this.request<Job>('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  retryJob(id: string): Promise<Job> {
    return this.request<Job>('POST', `/v1/jobs/${encodeURIComponent(id)}/retry`);
  }

  search<T = Record<string, unknown>>(request: {
    query: string;
    topK?: number;
    mode?: 'hybrid' | 'vector' | 'keyword';
    filter?: Record<string, unknown>;
    cursor?: string;
  }): Promise<T> {
    return this.request<T>('POST', '/v1/search', { json: request });
  }

  /**
   * Uploads files as one job. With `wait` (the default) it follows the job's events until it ends, reporting each
   * step to `onProgress`, and resolves with the finished job; otherwise with the job as accepted.
   */
  async uploadFiles(files: readonly UploadInput[], options: UploadOptions = {}): Promise<Job> {
    if (files.length === 0) throw new TypeError('uploadFiles needs at least one file');
    const form = new FormData();
    // Fields first: the gateway applies them to the files that follow.
    if (options.metadata) form.append('metadata', JSON.stringify(options.metadata));
    if (options.tags) form.append('tags', JSON.stringify(options.tags));
    // Labels are objects ({name}) to the gateway: a JSON array of bare names would be refused.
    if (options.classify) form.append('classify', JSON.stringify(options.classify.map((name) => ({ name }))));
    for (const file of files) {
      const { name, blob } = await asBlob(file);
      form.append('files', blob, name);
    }
    const headers: Record<string, string> = {};
    if (options.lane) headers['quarry-lane'] = options.lane;
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const accepted = await this.request<Job>('POST', '/v1/documents', {
      body: form,
      headers,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (options.wait === false) return accepted;
    return this.waitForJob(accepted.id, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Resolves with the job once it has ended, following its event stream (reconnecting as needed) and reporting
   * progress; the job is read once more at the end, so the answer is the stored job, not a reconstruction.
   */
  async waitForJob(
    id: string,
    options: { onProgress?: (progress: JobProgress) => void; signal?: AbortSignal } = {},
  ): Promise<Job> {
    const progress: JobProgress = {
      jobId: id,
      status: 'queued',
      documents: {},
      total: 0,
      finished: 0,
      failed: 0,
      event: undefined as unknown as StreamedEvent,
    };
    for await (const event of this.jobEvents(id, options.signal ? { signal: options.signal } : {})) {
      if (event.type.startsWith('job.')) {
        const status = event.data['status'];
        if (typeof status === 'string') progress.status = status;
      } else if (event.documentId) {
        progress.documents[event.documentId] = {
          filename: typeof event.data['filename'] === 'string' ? event.data['filename'] : null,
          status: String(event.data['status']),
        };
        const all = Object.values(progress.documents);
        progress.total = all.length;
        progress.finished = all.filter((d) => FINISHED_DOCUMENT.has(d.status)).length;
        progress.failed = all.filter((d) => d.status === 'failed').length;
      }
      progress.event = event;
      options.onProgress?.({ ...progress, documents: { ...progress.documents } });
    }
    options.signal?.throwIfAborted();
    const job = await this.getJob(id, options.signal);
    if (!TERMINAL_JOB_STATUSES.includes(job.status)) {
      throw new QuarryApiError(
        500,
        'internal',
        `job ${id} stream ended while it is ${job.status}`,
        {
          code: 'internal',
          message: 'stream ended early',
        },
        undefined,
      );
    }
    return job;
  }

  /** A job's events from its first (or after `lastEventId`) until it ends, reconnecting when the stream drops. */
  jobEvents(id: string, options: EventStreamOptions = {}): AsyncGenerator<StreamedEvent, void, undefined> {
    return readEventStream(
      (last, signal) => this.openStream(`/v1/jobs/${encodeURIComponent(id)}/events`, {}, last, signal),
      {
        ...options,
        endsWithJob: true,
      },
    );
  }

  /** The tenant's events from now on (or after `lastEventId`), filtered by job and type patterns, until aborted. */
  events(
    filter: { jobId?: string; types?: string[] } = {},
    options: EventStreamOptions = {},
  ): AsyncGenerator<StreamedEvent, void, undefined> {
    const query = {
      ...(filter.jobId ? { jobId: filter.jobId } : {}),
      ...(filter.types?.length ? { type: filter.types.join(',') } : {}),
    };
    return readEventStream((last, signal) => this.openStream('/v1/events', query, last, signal), {
      ...options,
      endsWithJob: false,
    });
  }

  private openStream(
    path: string,
    query: Record<string, string>,
    lastEventId: string | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.apiKey}`,
      accept: 'text/event-stream',
    };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    return this.fetchImpl(this.url(path, query), { headers, signal });
  }

  private url(path: string, query: Record<string, string | number | boolean | undefined> = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }
}

async function asBlob(file: UploadInput): Promise<{ name: string; blob: Blob }> {
  if (typeof file === 'string') {
    // A path: Node only, read lazily so browsers never load node:fs. openAsBlob streams the file when sent.
    const fs = await import('node:fs');
    const nodePath = await import('node:path');
    return { name: nodePath.basename(file), blob: await fs.openAsBlob(file) };
  }
  if (typeof File !== 'undefined' && file instanceof File) return { name: file.name, blob: file };
  const named = file as { name: string; data: Blob | Uint8Array | ArrayBuffer; type?: string };
  const blob =
    named.data instanceof Blob
      ? named.data
      : new Blob(
          [named.data instanceof ArrayBuffer ? new Uint8Array(named.data) : ownBytes(named.data)],
          named.type ? { type: named.type } : {},
        );
  return { name: named.name, blob };
}

/** A browser's Blob takes bytes over an ArrayBuffer only: a view over a SharedArrayBuffer is copied first. */
function ownBytes(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return data.buffer instanceof ArrayBuffer ? (data as Uint8Array<ArrayBuffer>) : new Uint8Array(data);
}
