/** One Server-Sent Event as a client reads it. */
export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/**
 * Reads a Server-Sent Events response over a real socket, frame by frame, the way EventSource does, until the server
 * ends the stream or `stopAfter` says to hang up (the caller then reconnects with the last id). Comment lines
 * (heartbeats) are counted, not returned.
 */
export async function readSse(
  url: string,
  options: {
    headers: Record<string, string>;
    stopAfter?: (e: SseEvent, all: SseEvent[]) => boolean;
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
    let buffer = '';
    const decoder = new TextDecoder();
    const reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { status: res.status, events, comments, endedByServer: true };
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: SseEvent = { id: undefined, event: undefined, data: '' };
        let isEvent = false;
        for (const line of frame.split('\n')) {
          if (line.startsWith(':')) comments++;
          else if (line.startsWith('id: ')) e.id = line.slice(4);
          else if (line.startsWith('event: ')) e.event = line.slice(7);
          else if (line.startsWith('data: ')) {
            e.data += line.slice(6);
            isEvent = true;
          }
        }
        if (!isEvent) continue;
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
