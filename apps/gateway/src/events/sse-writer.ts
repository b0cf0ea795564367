import type { FastifyReply } from 'fastify';

/**
 * One Server-Sent Events response on Fastify's raw socket: the headers at once, then `id:`/`event:`/`data:` frames,
 * a comment line as a heartbeat, and the end. Backpressure: a frame waits for the socket to drain.
 */
export class SseWriter {
  private readonly heartbeat: NodeJS.Timeout;
  closed = false;

  constructor(
    private readonly reply: FastifyReply,
    heartbeatMs: number,
    onClose: () => void,
  ) {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Proxies (nginx) must not buffer the stream.
      'x-accel-buffering': 'no',
    });
    // Tells EventSource how long to wait before reconnecting.
    raw.write('retry: 2000\n\n');
    this.heartbeat = setInterval(() => {
      if (!this.closed) raw.write(': heartbeat\n\n');
    }, heartbeatMs);
    raw.on('close', () => {
      this.closed = true;
      clearInterval(this.heartbeat);
      onClose();
    });
  }

  async send(id: number, event: string, data: unknown): Promise<void> {
    if (this.closed) return;
    const ok = this.reply.raw.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    if (ok) return;
    await new Promise<void>((resolve) => {
      this.reply.raw.once('drain', resolve);
      this.reply.raw.once('close', resolve);
    });
  }

  end(): void {
    clearInterval(this.heartbeat);
    if (this.closed) return;
    this.closed = true;
    this.reply.raw.end();
  }
}
