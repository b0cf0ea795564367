import { createParser } from 'eventsource-parser';

/** One Server-Sent Event as a client reads it. */
export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/**
 * Reads a Server-Sent Events response over a real socket with the parser the SDK uses (eventsource-parser), until
 * the server ends the stream or `stopAfter` says to hang up (the caller then reconnects with the last id). Comment
 * lines (heartbeats) are counted, not returned.
 */
export async function readSse(
  url: string,
  options: {
    headers: Record<string, string>;
    stopAfter?: (e: SseEvent, all: SseEvent[]) => boolean;
    /** Hang up once this many comment lines (heartbeats) have arrived. */
    stopAfterComments?: number;
    timeoutMs?: number;
  },
): Promise<{ status: number; events: SseEvent[]; comments: number; endedByServer: boolean; body?: string }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error('SSE read timed out')), options.timeoutMs ?? 20_000);
  try {
    const res = await fetch(url, {
      headers: { accept: 'text/event-stream', ...options.headers },
      signal: abort.signal,
    });
    if (!res.ok || !res.body) {
      return { status: res.status, events: [], comments: 0, endedByServer: true, body: await res.text() };
    }
    const events: SseEvent[] = [];
    let comments = 0;
    const parsed: SseEvent[] = [];
    const parser = createParser({
      onEvent: (m) => parsed.push({ id: m.id, event: m.event, data: m.data }),
      onComment: () => comments++,
    });
    const decoder = new TextDecoder();
    const reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { status: res.status, events, comments, endedByServer: true };
      parser.feed(decoder.decode(value, { stream: true }));
      if (options.stopAfterComments !== undefined && comments >= options.stopAfterComments) {
        await reader.cancel();
        return { status: res.status, events: [...events, ...parsed], comments, endedByServer: false };
      }
      for (let e = parsed.shift(); e; e = parsed.shift()) {
        events.push(e);
        if (options.stopAfter?.(e, events)) {
          await reader.cancel();
          return { status: res.status, events, comments, endedByServer: false };
        }
      }
    }
  } finally {
    clearTimeout(timer);
  }
}
