import { QuarryError, type ErrorCode } from '@quarry/contracts';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createSafeFetcher, type Resolver, type SafeFetcherOptions } from './safe-fetch';

interface TestServer {
  readonly port: number;
  readonly origin: string;
  readonly requests: http.IncomingMessage[];
}

const closers: (() => Promise<void>)[] = [];
let dir: string;
let fileCount = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'safe-fetch-'));
});

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function dest(): string {
  fileCount += 1;
  return join(dir, `body-${fileCount}.bin`);
}

async function listen(server: http.Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    if (server instanceof http.Server) server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

async function serve(handler: http.RequestListener): Promise<TestServer> {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  // Destroyed requests (a refused body, a timeout) must not crash the server under test.
  server.on('clientError', (_error, socket) => socket.destroy());
  const port = await listen(server);
  return { port, origin: `http://127.0.0.1:${port}`, requests };
}

/** A server that answers every connection with these exact bytes, for responses node:http won't write. */
async function serveRaw(response: string, options: { end: boolean }): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => sockets.delete(socket));
    socket.once('data', () => {
      socket.write(response);
      if (options.end) socket.end();
    });
  });
  const port = await listen(server);
  closers.unshift(() => {
    for (const socket of sockets) socket.destroy();
    return Promise.resolve();
  });
  return `http://127.0.0.1:${port}`;
}

const base: SafeFetcherOptions = {
  allowHosts: ['127.0.0.1'],
  maxBytes: 1024,
  timeoutMs: 2_000,
  userAgent: 'quarry-test/1.0',
};

function fetcher(overrides: Partial<SafeFetcherOptions> = {}) {
  return createSafeFetcher({ ...base, ...overrides });
}

/** A resolver answering from a table, counting the questions. */
function resolverOf(table: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = (hostname: string) => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (addresses === undefined) {
      return Promise.reject(
        Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }),
      );
    }
    return Promise.resolve(addresses.map((address) => ({ address, family: net.isIP(address) })));
  };
  return Object.assign(resolver, { calls });
}

async function failure(work: Promise<unknown>, code: ErrorCode): Promise<QuarryError> {
  const error = await work.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(QuarryError);
  expect((error as QuarryError).code).toBe(code);
  return error as QuarryError;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('fetchToFile', () => {
  it('stores what an allowed server sent, with its hash, size, status and type', async () => {
    const body = 'a document body, stored byte for byte\n';
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    });
    const path = dest();

    const result = await fetcher().fetchToFile(`${server.origin}/doc.txt?v=1`, path, {
      accept: 'text/plain',
    });

    expect(result).toEqual({
      url: `${server.origin}/doc.txt?v=1`,
      finalUrl: `${server.origin}/doc.txt?v=1`,
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      sizeBytes: Buffer.byteLength(body),
      sha256: sha256(body),
      redirects: [],
    });
    expect(await readFile(path, 'utf8')).toBe(body);
    const headers = server.requests[0]!.headers;
    expect(server.requests[0]!.url).toBe('/doc.txt?v=1');
    expect(headers['user-agent']).toBe('quarry-test/1.0');
    expect(headers.accept).toBe('text/plain');
    expect(headers['accept-encoding']).toBe('identity');
  });

  it('keeps an encoded body as the server encoded it', async () => {
    const gzipped = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x03, 0x00]);
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(gzipped);
    });
    const path = dest();

    const result = await fetcher().fetchToFile(`${server.origin}/`, path);

    expect(await readFile(path)).toEqual(gzipped);
    expect(result.contentType).toBeNull();
    expect(result.sha256).toBe(sha256(gzipped));
  });

  it('accepts a body of exactly maxBytes', async () => {
    const server = await serve((_req, res) => res.end(Buffer.alloc(1024, 7)));
    const result = await fetcher().fetchToFile(`${server.origin}/`, dest());
    expect(result.sizeBytes).toBe(1024);
  });

  it('refuses the same loopback URL without the allow-list, before connecting', async () => {
    const server = await serve((_req, res) => res.end('secret'));
    const path = dest();

    const error = await failure(
      fetcher({ allowHosts: [] }).fetchToFile(`${server.origin}/x`, path),
      'url_forbidden',
    );

    expect(error.message).toContain('127.0.0.1');
    expect(error.message).toContain('loopback');
    expect(error.details).toMatchObject({ url: `${server.origin}/x`, address: '127.0.0.1' });
    expect(server.requests).toHaveLength(0);
    expect(existsSync(path)).toBe(false);
  });

  it('connects to the vetted address only, keeping the hostname for the Host header', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    let calls = 0;
    // A rebinding resolver: the first answer passes the check, any later one points elsewhere.
    const lookup: Resolver = () => {
      calls += 1;
      return Promise.resolve([{ address: calls === 1 ? '127.0.0.1' : '127.0.0.2', family: 4 }]);
    };

    const result = await fetcher({ allowHosts: ['Docs.Example.'], lookup }).fetchToFile(
      `http://DOCS.example:${server.port}/a`,
      dest(),
    );

    expect(result.status).toBe(200);
    expect(calls).toBe(1);
    expect(server.requests[0]!.headers.host).toBe(`docs.example:${server.port}`);
  });

  it('honours a host:port allow entry and nothing wider', async () => {
    const allowed = await serve((_req, res) => res.end('ok'));
    const other = await serve((_req, res) => res.end('other'));
    const f = fetcher({ allowHosts: [`127.0.0.1:${allowed.port}`] });

    await expect(f.fetchToFile(`${allowed.origin}/`, dest())).resolves.toMatchObject({ status: 200 });
    await failure(f.fetchToFile(`${other.origin}/`, dest()), 'url_forbidden');
    expect(other.requests).toHaveLength(0);
  });

  it('resolves localhost through the system resolver when it is allow-listed', async () => {
    const server = await serve((_req, res) => res.end('via localhost'));
    const path = dest();

    await fetcher({ allowHosts: ['localhost'] }).fetchToFile(`http://localhost:${server.port}/`, path);

    expect(await readFile(path, 'utf8')).toBe('via localhost');
  });

  describe('redirects', () => {
    const statuses = [301, 302, 303, 307, 308];

    async function chain(): Promise<TestServer> {
      return serve((req, res) => {
        const n = Number(/^\/r\/(\d+)$/.exec(req.url ?? '')?.[1] ?? 0);
        if (n === 0) {
          res.end('end of chain');
          return;
        }
        res.writeHead(statuses[n % statuses.length]!, { location: `/r/${n - 1}` });
        res.end();
      });
    }

    it(`follows ${5} redirects of every kind`, async () => {
      const server = await chain();
      const path = dest();

      const result = await fetcher().fetchToFile(`${server.origin}/r/5`, path);

      expect(result.finalUrl).toBe(`${server.origin}/r/0`);
      expect(result.redirects).toEqual([4, 3, 2, 1, 0].map((n) => `${server.origin}/r/${n}`));
      expect(await readFile(path, 'utf8')).toBe('end of chain');
    });

    it('refuses a sixth redirect', async () => {
      const server = await chain();
      const path = dest();

      const error = await failure(fetcher().fetchToFile(`${server.origin}/r/6`, path), 'url_unreachable');

      expect(error.message).toMatch(/too many redirects \(more than 5\)/);
      expect(server.requests).toHaveLength(6);
      expect(existsSync(path)).toBe(false);
    });

    it('honours a smaller maxRedirects', async () => {
      const server = await chain();
      await failure(
        fetcher({ maxRedirects: 1 }).fetchToFile(`${server.origin}/r/2`, dest()),
        'url_unreachable',
      );
      await expect(
        fetcher({ maxRedirects: 0 }).fetchToFile(`${server.origin}/r/0`, dest()),
      ).resolves.toMatchObject({ redirects: [] });
    });

    it('resolves relative locations against the current URL', async () => {
      const server = await serve((req, res) => {
        const next: Record<string, string> = {
          '/a/b': 'c',
          '/a/c': '../d?x=1',
          '/d?x=1': `//127.0.0.1:${(req.socket.address() as AddressInfo).port}/final`,
        };
        const location = next[req.url ?? ''];
        res.writeHead(location === undefined ? 200 : 302, location === undefined ? {} : { location });
        res.end(location === undefined ? req.url : undefined);
      });

      const result = await fetcher().fetchToFile(`${server.origin}/a/b`, dest());

      expect(result.redirects).toEqual([
        `${server.origin}/a/c`,
        `${server.origin}/d?x=1`,
        `${server.origin}/final`,
      ]);
      expect(result.url).toBe(`${server.origin}/a/b`);
      expect(result.finalUrl).toBe(`${server.origin}/final`);
    });

    it('refuses a redirect from an allowed host to a private address', async () => {
      const lookup = resolverOf({ 'files.example': ['127.0.0.1'], 'intranet.example': ['10.1.2.3'] });
      const server = await serve((_req, res) => {
        res.writeHead(302, { location: `http://intranet.example/admin?token=hunter2` });
        res.end();
      });
      const f = fetcher({ allowHosts: ['files.example'], lookup });

      const error = await failure(
        f.fetchToFile(`http://files.example:${server.port}/start`, dest()),
        'url_forbidden',
      );

      expect(error.details).toEqual({
        url: `http://files.example:${server.port}/start`,
        finalUrl: 'http://intranet.example/admin?…',
        address: '10.1.2.3',
      });
      expect(error.message).toContain('intranet.example resolves to 10.1.2.3');
      expect(error.message).not.toContain('hunter2');
    });

    it.each([
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://100.100.100.200/latest/meta-data/',
      'http://[::ffff:10.0.0.1]/',
      'file:///etc/passwd',
    ])('refuses a redirect to %s', async (location) => {
      const server = await serve((_req, res) => {
        res.writeHead(307, { location });
        res.end();
      });
      await failure(fetcher().fetchToFile(`${server.origin}/`, dest()), 'url_forbidden');
    });

    it('refuses a redirect to another port of an address allowed only on one port', async () => {
      const internal = await serve((_req, res) => res.end('internal'));
      const front = await serve((_req, res) => {
        res.writeHead(301, { location: `${internal.origin}/` });
        res.end();
      });

      await failure(
        fetcher({ allowHosts: [`127.0.0.1:${front.port}`] }).fetchToFile(`${front.origin}/`, dest()),
        'url_forbidden',
      );
      expect(internal.requests).toHaveLength(0);
    });
  });

  describe('size limit', () => {
    it('refuses a declared Content-Length above maxBytes without writing a file', async () => {
      // Declares the size and sends nothing: only the declared length can refuse this in time.
      const server = await serve((_req, res) => {
        res.writeHead(200, { 'content-length': 5000 });
        res.flushHeaders();
      });
      const path = dest();

      const error = await failure(fetcher().fetchToFile(`${server.origin}/`, path), 'url_too_large');

      expect(error.message).toContain('more than 1024 bytes');
      expect(existsSync(path)).toBe(false);
    });

    it('stops a chunked body once it passes maxBytes, without waiting for its end', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        // Never ends: only counting the streamed bytes can stop this fetch in time.
        res.write(Buffer.alloc(600));
        res.write(Buffer.alloc(600));
      });
      const path = dest();

      await failure(fetcher().fetchToFile(`${server.origin}/`, path), 'url_too_large');

      expect(existsSync(path)).toBe(false);
    });

    it('counts a body delimited by the connection closing', async () => {
      const origin = await serveRaw(`HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n${'x'.repeat(3000)}`, {
        end: true,
      });
      const path = dest();

      await failure(fetcher().fetchToFile(`${origin}/`, path), 'url_too_large');

      expect(existsSync(path)).toBe(false);
    });

    it('stores no more than a Content-Length that understates the body', async () => {
      const origin = await serveRaw(`HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n${'y'.repeat(3000)}`, {
        end: true,
      });
      const path = dest();

      const result = await fetcher().fetchToFile(`${origin}/`, path);

      expect(result.sizeBytes).toBe(10);
      expect(await readFile(path, 'utf8')).toBe('y'.repeat(10));
    });

    it('reports a body cut short of its Content-Length as unreachable and removes the partial file', async () => {
      const origin = await serveRaw(`HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n${'z'.repeat(100)}`, {
        end: true,
      });
      const path = dest();

      const error = await failure(fetcher().fetchToFile(`${origin}/`, path), 'url_unreachable');

      expect(error.message).toContain('closed before the body was complete');
      expect(existsSync(path)).toBe(false);
    });

    it('replaces a file already at destPath rather than appending to it', async () => {
      const server = await serve((_req, res) => res.end('new'));
      const path = dest();
      await writeFile(path, 'old content that is longer');

      await fetcher().fetchToFile(`${server.origin}/`, path);

      expect(await readFile(path, 'utf8')).toBe('new');
    });
  });

  describe('deadline', () => {
    it('gives up on a server that never answers, within the budget', async () => {
      const server = await serve(() => undefined);
      const started = Date.now();

      const error = await failure(
        fetcher({ timeoutMs: 300 }).fetchToFile(`${server.origin}/slow`, dest()),
        'url_unreachable',
      );

      const elapsed = Date.now() - started;
      expect(error.message).toContain('timed out after 300 ms');
      expect(server.requests).toHaveLength(1);
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1_500);
    });

    it('counts the body against the same deadline and removes the partial file', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(200);
        res.write('the first few bytes, and then nothing more');
      });
      const path = dest();

      const error = await failure(
        fetcher({ timeoutMs: 300 }).fetchToFile(`${server.origin}/`, path),
        'url_unreachable',
      );

      expect(error.message).toContain('timed out after 300 ms');
      expect(existsSync(path)).toBe(false);
    });

    it('bounds a resolver that never answers', async () => {
      const lookup: Resolver = () => new Promise(() => undefined);
      const error = await failure(
        fetcher({ timeoutMs: 200, lookup }).checkUrl('https://hanging.example/'),
        'url_unreachable',
      );
      expect(error.message).toContain('timed out after 200 ms');
    });

    it("rejects with the caller's reason when the caller aborts", async () => {
      const controller = new AbortController();
      const reason = new Error('shutting down');
      const server = await serve(() => controller.abort(reason));

      const error = await fetcher()
        .fetchToFile(`${server.origin}/`, dest(), { signal: controller.signal })
        .then(
          () => null,
          (e: unknown) => e,
        );

      expect(error).toBe(reason);
    });
  });

  describe('failures', () => {
    it.each([404, 500])('reports HTTP %i as url_http_error with the status', async (status) => {
      const server = await serve((_req, res) => {
        res.writeHead(status);
        res.end('nope');
      });
      const path = dest();

      const error = await failure(fetcher().fetchToFile(`${server.origin}/missing`, path), 'url_http_error');

      expect(error.message).toContain(`HTTP ${status}`);
      expect(error.message).toContain(`${server.origin}/missing`);
      expect(error.details).toMatchObject({ status, url: `${server.origin}/missing` });
      expect(existsSync(path)).toBe(false);
    });

    it('reports a 3xx without a Location as an HTTP error', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(302);
        res.end();
      });
      const error = await failure(fetcher().fetchToFile(`${server.origin}/`, dest()), 'url_http_error');
      expect(error.details).toMatchObject({ status: 302 });
    });

    it('reports a refused connection as unreachable with its cause', async () => {
      // A port that was just listened on and released: nothing accepts there.
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const closed = (probe.address() as AddressInfo).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));

      const error = await failure(
        fetcher().fetchToFile(`http://127.0.0.1:${closed}/`, dest()),
        'url_unreachable',
      );

      expect(error.message).toContain('ECONNREFUSED');
      expect(error.details).toMatchObject({ url: `http://127.0.0.1:${closed}/` });
    });

    it('reports a reset connection as unreachable', async () => {
      const server = await serve((req) => req.socket.destroy());
      const error = await failure(fetcher().fetchToFile(`${server.origin}/`, dest()), 'url_unreachable');
      expect(error.message).toMatch(/socket hang up|ECONNRESET/);
    });

    it('reports an unresolvable name as unreachable', async () => {
      const lookup = resolverOf({});
      const error = await failure(
        fetcher({ lookup }).fetchToFile('https://gone.example/doc', dest()),
        'url_unreachable',
      );
      expect(error.message).toContain('cannot resolve gone.example: getaddrinfo ENOTFOUND gone.example');
      expect(lookup.calls).toEqual(['gone.example']);
    });

    it('surfaces a local file error as itself, not as a URL failure', async () => {
      const server = await serve((_req, res) => res.end('body'));
      const error = await fetcher()
        .fetchToFile(`${server.origin}/`, join(dir, 'no-such-dir', 'file'))
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: 'ENOENT' });
      expect(error).not.toBeInstanceOf(QuarryError);
    });
  });
});

describe('URL rules', () => {
  it.each([
    ['ftp://127.0.0.1/file', 'the ftp scheme is not allowed'],
    ['file:///etc/passwd', 'the file scheme is not allowed'],
    ['data:text/plain,hello', 'the data scheme is not allowed'],
    ['javascript:alert(1)', 'the javascript scheme is not allowed'],
    ['gopher://127.0.0.1:70/', 'the gopher scheme is not allowed'],
    ['http://user:pass@127.0.0.1/', 'may not carry credentials'],
    ['http://user@127.0.0.1/', 'may not carry credentials'],
    ['not a url', 'not a valid URL'],
    ['', 'not a valid URL'],
    ['http://', 'not a valid URL'],
    ['http://127.0.0.1:25/', 'port 25 is not allowed'],
  ])('refuses %j (%s)', async (url, reason) => {
    const error = await failure(fetcher().checkUrl(url), 'url_forbidden');
    expect(error.message).toContain(reason);
    expect(error.message).not.toContain('pass@');
  });

  it('lifts the bad-port rule only for an entry naming that port', async () => {
    const lookup = resolverOf({ 'mail.example': ['93.184.215.14'] });
    await failure(fetcher({ lookup }).checkUrl('http://mail.example:25/'), 'url_forbidden');
    await failure(
      fetcher({ lookup, allowHosts: ['mail.example'] }).checkUrl('http://mail.example:25/'),
      'url_forbidden',
    );
    await expect(
      fetcher({ lookup, allowHosts: ['mail.example:25'] }).checkUrl('http://mail.example:25/'),
    ).resolves.toBeUndefined();
    await expect(fetcher({ lookup }).checkUrl('http://mail.example:8080/')).resolves.toBeUndefined();
  });

  it('keeps credentials and query strings out of messages and details', async () => {
    const lookup = resolverOf({ 'api.example': ['10.0.0.8'] });
    const error = await failure(
      fetcher({ lookup }).checkUrl('https://api.example/hook?sig=s3cr3t#frag'),
      'url_forbidden',
    );
    expect(error.details).toEqual({ url: 'https://api.example/hook?…', address: '10.0.0.8' });
    expect(JSON.stringify([error.message, error.details])).not.toMatch(/s3cr3t|frag/);

    const unparsable = await failure(fetcher().checkUrl('http://bob:hunter2@[bad/?k=v'), 'url_forbidden');
    expect(unparsable.message).not.toMatch(/hunter2|k=v/);
  });

  it.each([
    'http://127.0.0.1/',
    'http://2130706433/',
    'http://0x7f.1/',
    'http://0/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'http://100.100.100.200/',
    'http://192.168.0.1/',
    'http://[fe80::1]/',
    'http://[64:ff9b::a9fe:a9fe]/',
    'http://[2002:a00:1::]/',
  ])('refuses the literal address in %s', async (url) => {
    await failure(fetcher({ allowHosts: [] }).checkUrl(url), 'url_forbidden');
  });

  it('accepts a name that resolves only to public addresses', async () => {
    const lookup = resolverOf({
      'docs.example': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    });
    await expect(fetcher({ lookup }).checkUrl('https://docs.example/a.pdf')).resolves.toBeUndefined();
    expect(lookup.calls).toEqual(['docs.example']);
  });

  it('refuses a name with one public and one private address', async () => {
    const lookup = resolverOf({ 'mixed.example': ['93.184.215.14', '192.168.10.20'] });
    const error = await failure(fetcher({ lookup }).checkUrl('https://mixed.example/'), 'url_forbidden');
    expect(error.details).toMatchObject({ address: '192.168.10.20' });
    expect(error.message).toContain('mixed.example resolves to 192.168.10.20');
  });

  it('refuses a name resolving to a cloud metadata address over IPv6', async () => {
    const lookup = resolverOf({ 'meta.example': ['2606:4700::1', 'fd00:ec2::254'] });
    await failure(fetcher({ lookup }).checkUrl('http://meta.example/'), 'url_forbidden');
  });

  it('refuses a resolver answer that is not an address', async () => {
    const lookup = resolverOf({ 'odd.example': ['not-an-ip'] });
    await failure(fetcher({ lookup }).checkUrl('http://odd.example/'), 'url_forbidden');
  });

  it('reports a name without addresses as unreachable', async () => {
    const lookup = resolverOf({ 'empty.example': [] });
    const error = await failure(fetcher({ lookup }).checkUrl('http://empty.example/'), 'url_unreachable');
    expect(error.message).toContain('empty.example has no address');
  });

  it('reports a failed real DNS lookup as unreachable', async () => {
    const error = await failure(
      fetcher({ timeoutMs: 4_000 }).checkUrl('https://quarry-safe-fetch-test.invalid/'),
      'url_unreachable',
    );
    expect(error.message).toContain('quarry-safe-fetch-test.invalid');
  });

  it('rejects malformed options', () => {
    expect(() => fetcher({ maxBytes: -1 })).toThrow(RangeError);
    expect(() => fetcher({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => fetcher({ maxRedirects: 1.5 })).toThrow(RangeError);
    expect(() => fetcher({ allowHosts: ['http://x/'] })).toThrow(RangeError);
  });
});

describe('https', () => {
  let key: string;
  let cert: string;

  beforeAll(async () => {
    // A throwaway self-signed certificate for docs.example only, so a passing fetch proves the
    // certificate was checked against the hostname while the socket went to 127.0.0.1.
    const tls = await mkdtemp(join(tmpdir(), 'safe-fetch-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=docs.example',
        '-addext',
        'subjectAltName=DNS:docs.example',
        '-keyout',
        join(tls, 'key.pem'),
        '-out',
        join(tls, 'cert.pem'),
      ],
      { stdio: 'pipe' },
    );
    key = await readFile(join(tls, 'key.pem'), 'utf8');
    cert = await readFile(join(tls, 'cert.pem'), 'utf8');
    await rm(tls, { recursive: true, force: true });
  });

  async function serveTls(): Promise<{ port: number; servernames: (string | false | null)[] }> {
    const servernames: (string | false | null)[] = [];
    const server = https.createServer({ key, cert }, (req, res) => {
      servernames.push((req.socket as TLSSocket).servername);
      res.writeHead(200, { 'content-type': 'application/pdf' });
      res.end('%PDF-1.7 over tls');
    });
    server.on('tlsClientError', () => undefined);
    return { port: await listen(server), servernames };
  }

  it('fetches over TLS from the pinned address with the hostname as SNI and certificate name', async () => {
    const { port, servernames } = await serveTls();
    const lookup = resolverOf({ 'docs.example': ['127.0.0.1'] });
    const path = dest();

    const result = await fetcher({ allowHosts: ['docs.example'], lookup, ca: cert }).fetchToFile(
      `https://docs.example:${port}/doc.pdf`,
      path,
    );

    expect(result).toMatchObject({ status: 200, contentType: 'application/pdf' });
    expect(await readFile(path, 'utf8')).toBe('%PDF-1.7 over tls');
    expect(servernames).toEqual(['docs.example']);
  });

  it('reports an untrusted certificate as unreachable', async () => {
    const { port } = await serveTls();
    const lookup = resolverOf({ 'docs.example': ['127.0.0.1'] });

    const error = await failure(
      fetcher({ allowHosts: ['docs.example'], lookup }).fetchToFile(`https://docs.example:${port}/`, dest()),
      'url_unreachable',
    );

    expect(error.message).toMatch(/self[- ]signed/i);
  });
});

describe('post', () => {
  it('posts the body with its headers and keeps the first bytes of any answer, 2xx or not', async () => {
    const bodies: string[] = [];
    const server = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(503, { 'content-type': 'text/plain' }).end('x'.repeat(5000));
      });
    });
    const answer = await fetcher().post(`${server.origin}/hook`, '{"a":1}', {
      headers: { 'content-type': 'application/json', 'webhook-id': 'evt-1' },
      maxResponseBytes: 100,
    });
    expect(answer).toEqual({ status: 503, body: 'x'.repeat(100) });
    expect(bodies).toEqual(['{"a":1}']);
    expect(server.requests[0]?.method).toBe('POST');
    expect(server.requests[0]?.headers['webhook-id']).toBe('evt-1');
    expect(server.requests[0]?.headers['content-length']).toBe('7');
  });

  it('answers a redirect with its status instead of following it', async () => {
    const target = await serve((_req, res) => res.end('followed'));
    const server = await serve((_req, res) => res.writeHead(307, { location: `${target.origin}/` }).end());
    const answer = await fetcher().post(`${server.origin}/`, '{}', { headers: {} });
    expect(answer.status).toBe(307);
    expect(target.requests).toHaveLength(0);
  });

  it('refuses a private address before connecting', async () => {
    const server = await serve((_req, res) => res.end('never'));
    await failure(
      fetcher({ allowHosts: [] }).post(`${server.origin}/`, '{}', { headers: {} }),
      'url_forbidden',
    );
    const resolver = resolverOf({ 'hooks.example': ['10.0.0.7'] });
    await failure(
      fetcher({ allowHosts: [], lookup: resolver }).post('http://hooks.example/in', '{}', { headers: {} }),
      'url_forbidden',
    );
    expect(server.requests).toHaveLength(0);
  });
});
