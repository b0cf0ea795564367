import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { apiErrorOf, QuarryApiError } from './errors';
import { TERMINAL_JOB_STATUSES, type QuarryEvent, type StreamedEvent } from './types';

export interface EventStreamOptions {
  /** Continue after this event id (a previous stream's last `eventId`); from the start (a job) or now (a tenant). */
  lastEventId?: string;
  signal?: AbortSignal;
  /** Wait before reconnecting when the server gave no `retry:` (ms). */
  reconnectDelayMs?: number;
  /** Consecutive failed connections before giving up (a 4xx answer is never retried). */
  maxReconnects?: number;
}

/** How the stream reader reaches the server: one GET that answers text/event-stream. */
export type StreamOpener = (lastEventId: string | undefined, signal: AbortSignal) => Promise<Response>;

const TERMINAL = new Set(TERMINAL_JOB_STATUSES.map((status) => `job.${status}`));

/**
 * Reads a Server-Sent Events stream of Quarry events and reconnects with `Last-Event-ID` whenever the connection
 * drops or a gateway ends it early (a restart), so the caller sees every event once, in order. A job's stream ends
 * after its terminal event (`endsWithJob`); a tenant's runs until the signal aborts.
 */
export async function* readEventStream(
  open: StreamOpener,
  options: EventStreamOptions & { endsWithJob: boolean },
): AsyncGenerator<StreamedEvent, void, undefined> {
  let lastEventId = options.lastEventId;
  let retryMs = options.reconnectDelayMs ?? 1000;
  let failures = 0;
  const maxReconnects = options.maxReconnects ?? 10;
  for (;;) {
    if (options.signal?.aborted) return;
    const connection = new AbortController();
    const abort = () => connection.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      let response: Response;
      try {
        response = await open(lastEventId, connection.signal);
      } catch (error) {
        if (options.signal?.aborted) return;
        if (++failures > maxReconnects) throw error;
        await pause(retryMs, options.signal);
        continue;
      }
      if (!response.ok) {
        const error = await apiErrorOf(response);
        // The request itself is wrong (a 404, a bad key): reconnecting would answer the same.
        if (response.status < 500 && response.status !== 429) throw error;
        if (++failures > maxReconnects) throw error;
        await pause(error.retryAfterMs ?? retryMs, options.signal);
        continue;
      }
      failures = 0;
      const queue: EventSourceMessage[] = [];
      const parser = createParser({
        onEvent: (message) => queue.push(message),
        onRetry: (ms) => (retryMs = ms),
      });
      let ended = false;
      try {
        for await (const text of textChunks(response)) {
          parser.feed(text);
          while (queue.length > 0) {
            const message = queue.shift() as EventSourceMessage;
            const event = JSON.parse(message.data) as QuarryEvent;
            if (message.id) lastEventId = message.id;
            yield { ...event, eventId: message.id ?? '' };
            if (options.endsWithJob && TERMINAL.has(event.type)) ended = true;
          }
          if (ended) return;
        }
      } catch (error) {
        if (options.signal?.aborted) return;
        if (error instanceof QuarryApiError) throw error;
        // The connection broke mid-stream: resume after the last event seen.
        if (++failures > maxReconnects) throw error;
      }
      // The server closed the stream before the job ended (a gateway restarting): come back after a pause.
      await pause(retryMs, options.signal);
    } finally {
      options.signal?.removeEventListener('abort', abort);
      connection.abort();
    }
  }
}

async function* textChunks(response: Response): AsyncGenerator<string> {
  if (!response.body) return;
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
