import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAKE_EMBEDDING_DIM = 32;
export const FAKE_EMBEDDING_MODEL = 'chaos-fake';

/** A deterministic unit vector per text, so a re-embedded chunk gets the very same vector. */
function vectorFor(text: string): number[] {
  const digest = createHash('sha256').update(text).digest();
  const raw = Array.from(
    { length: FAKE_EMBEDDING_DIM },
    (_, i) => (digest[i % digest.length]! - 127.5) / 128,
  );
  const norm = Math.hypot(...raw) || 1;
  return raw.map((x) => x / norm);
}

/**
 * An OpenAI-compatible `/embeddings` endpoint on loopback. The suite tests delivery, not a model: the
 * real one in a worker thread would dominate the run time on two shared cores. A batch holding the
 * poison marker gets a 500 while `poisoned` is on, which is the cause the dead-letter scenario fixes
 * from outside before it replays.
 */
export class FakeEmbeddingServer {
  poisoned = false;
  /** The next this-many requests get a 503, whatever they hold (a model server restarting). */
  failNext = 0;
  requests = 0;
  failures = 0;

  private readonly server: Server;

  private constructor(readonly poisonMarker: string) {
    this.server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        let body: { input: string[]; model: string };
        try {
          body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { input: string[]; model: string };
        } catch (error) {
          reply(400, { error: { message: `bad request: ${String(error)}` } });
          return;
        }
        this.requests++;
        if (this.failNext > 0) {
          this.failNext--;
          this.failures++;
          reply(503, { error: { message: 'model server restarting' } });
          return;
        }
        if (this.poisoned && body.input.some((t) => t.includes(this.poisonMarker))) {
          this.failures++;
          reply(500, { error: { message: 'upstream model crashed on this input' } });
          return;
        }
        reply(200, {
          object: 'list',
          model: body.model,
          data: body.input.map((t, index) => ({ object: 'embedding', index, embedding: vectorFor(t) })),
        });
      });
    });
  }

  static async start(poisonMarker = 'CHAOS-POISON'): Promise<FakeEmbeddingServer> {
    const fake = new FakeEmbeddingServer(poisonMarker);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
