import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QuarryError } from '@quarry/contracts';
import { OpenAiEmbeddingProvider, type OpenAiEmbeddingOptions } from './openai';

type Handler = (body: { model: string; input: string[] }, req: IncomingMessage, res: ServerResponse) => void;

/** A vector that encodes the input text's length, so a test can tell which vector belongs to which text. */
const vectorFor = (text: string, dim: number): number[] =>
  Array.from({ length: dim }, (_, i) => (i === 0 ? text.length : 1));

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('OpenAiEmbeddingProvider', () => {
  let server: Server;
  let baseUrl: string;
  let handler: Handler;
  const requests: { model: string; input: string[]; auth: string | undefined; path: string | undefined }[] =
    [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { model: string; input: string[] };
        requests.push({ ...body, auth: req.headers.authorization, path: req.url });
        handler(body, req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    requests.length = 0;
  });

  const provider = (overrides: Partial<OpenAiEmbeddingOptions> = {}): OpenAiEmbeddingProvider =>
    new OpenAiEmbeddingProvider({
      baseUrl,
      apiKey: 'sk-test',
      model: 'm',
      dim: 4,
      batchSize: 3,
      timeoutMs: 2000,
      ...overrides,
    });

  it('batches, orders results by index and normalises', async () => {
    handler = (body, _req, res) => {
      // Answer in reverse order: the provider must reorder by `index`.
      const data = body.input.map((t, index) => ({ object: 'embedding', index, embedding: vectorFor(t, 4) }));
      json(res, 200, { object: 'list', data: data.reverse(), model: body.model });
    };
    const texts = ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff', 'ggggggg'];
    const p = provider();
    const vectors = await p.embed(texts);
    expect(requests.map((r) => r.input)).toEqual([texts.slice(0, 3), texts.slice(3, 6), texts.slice(6)]);
    expect(requests[0]).toMatchObject({ model: 'm', auth: 'Bearer sk-test', path: '/v1/embeddings' });
    vectors.forEach((v, i) => {
      const raw = vectorFor(texts[i]!, 4);
      const n = Math.hypot(...raw);
      expect(Array.from(v)).toEqual(raw.map((x) => Math.fround(x / n)));
    });
    expect(p.id).toBe('openai:m');
    expect(p.dim).toBe(4);
    expect(await p.embed([])).toEqual([]);
    expect(requests).toHaveLength(3);
  });

  it('sends no authorization header without an API key', async () => {
    handler = (body, _req, res) =>
      json(res, 200, { data: body.input.map((t, index) => ({ index, embedding: vectorFor(t, 4) })) });
    await provider({ apiKey: undefined }).embed(['x']);
    expect(requests[0]!.auth).toBeUndefined();
  });

  it.each([500, 503, 429])('turns %i into a retryable embedding_failed', async (status) => {
    handler = (_body, _req, res) => json(res, status, { error: { message: 'overloaded' } });
    const error = await provider()
      .embed(['x'])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuarryError);
    expect(error).toMatchObject({ code: 'embedding_failed', retryable: true, details: { status } });
    expect((error as Error).message).toContain('overloaded');
  });

  it.each([400, 401, 404])('turns %i into a non-retryable embedding_failed', async (status) => {
    handler = (_body, _req, res) => json(res, status, { error: { message: 'bad input' } });
    await expect(provider().embed(['x'])).rejects.toMatchObject({
      code: 'embedding_failed',
      retryable: false,
    });
  });

  it('rejects vectors of the wrong dimension without retrying', async () => {
    handler = (body, _req, res) =>
      json(res, 200, { data: body.input.map((t, index) => ({ index, embedding: vectorFor(t, 3) })) });
    await expect(provider().embed(['x'])).rejects.toMatchObject({
      code: 'embedding_failed',
      retryable: false,
      message: expect.stringMatching(/returned 3 dimensions, configured 4/) as unknown,
    });
  });

  it('rejects a response with missing or repeated indices', async () => {
    handler = (_body, _req, res) => json(res, 200, { data: [{ index: 0, embedding: [1, 0, 0, 0] }] });
    await expect(provider().embed(['x', 'y'])).rejects.toMatchObject({ retryable: false });
    handler = (_body, _req, res) =>
      json(res, 200, {
        data: [
          { index: 0, embedding: [1, 0, 0, 0] },
          { index: 0, embedding: [0, 1, 0, 0] },
        ],
      });
    await expect(provider().embed(['x', 'y'])).rejects.toMatchObject({ retryable: false });
  });

  it('treats a non-JSON success body as transient', async () => {
    handler = (_body, _req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>gateway</html>');
    };
    await expect(provider().embed(['x'])).rejects.toMatchObject({
      code: 'embedding_failed',
      retryable: true,
    });
  });

  it('times out as a retryable failure', async () => {
    handler = () => undefined; // never answers
    const error = await provider({ timeoutMs: 200 })
      .embed(['x'])
      .catch((e: unknown) => e);
    // Only retryable here: under Jest's sandbox the client cannot tell the abort of its timer (a DOMException of
    // another realm) from a lost connection; in the apps it says "timed out after … ms" (e2e analyses test).
    expect(error).toMatchObject({ code: 'embedding_failed', retryable: true });
  });

  it('reports an unreachable server as retryable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await provider({ baseUrl: `http://127.0.0.1:${port}/v1` })
      .embed(['x'])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'embedding_failed', retryable: true });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect((error as Error).message).not.toContain('sk-test');
  });

  it('asks for floats and reports the tokens the server counted', async () => {
    handler = (body, _req, res) =>
      json(res, 200, {
        data: body.input.map((t, index) => ({ index, embedding: vectorFor(t, 4) })),
        usage: { prompt_tokens: 11, total_tokens: 11 },
      });
    const counted: number[] = [];
    await provider({ onTokens: (n) => counted.push(n) }).embed(['x', 'y', 'z', 'w']);
    expect(counted).toEqual([11, 11]);
    expect(requests.map((r) => (r as unknown as { encoding_format?: string }).encoding_format)).toEqual([
      'float',
      'float',
    ]);
  });

  it('naks a 429 with the delay its Retry-After asks for', async () => {
    handler = (_body, _req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify({ error: { message: 'slow down' } }));
    };
    await expect(provider().embed(['x'])).rejects.toMatchObject({
      code: 'embedding_failed',
      retryable: true,
      retryAfterMs: 7000,
    });
  });

  it('validates its options', () => {
    expect(() => provider({ dim: 0 })).toThrow(QuarryError);
    expect(() => provider({ batchSize: 0 })).toThrow(QuarryError);
  });
});
