import { QuarryError } from '@quarry/contracts';
import { createHash } from 'node:crypto';
import { promises as dns } from 'node:dns';
import { open, rm, type FileHandle } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { canonicalAddress, classifyAddress, HostAllowList } from './address-policy';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/** Resolves a hostname to every address it has; `dns.promises.lookup(name, { all: true })` by default. */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface SafeFetcherOptions {
  /** Hostnames, IP literals or host:port ('[::1]:8080') exempt from the address policy. */
  readonly allowHosts: readonly string[];
  /** The largest body accepted, in bytes. */
  readonly maxBytes: number;
  /** One deadline for resolution, connection, headers and body, across every redirect. */
  readonly timeoutMs: number;
  readonly maxRedirects?: number;
  readonly userAgent: string;
  readonly lookup?: Resolver;
  /** CA certificates to trust for https instead of the bundled ones (a private PKI; tests). */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
}

export interface FetchToFileOptions {
  /** Cancels the fetch; the promise then rejects with the signal's reason, not a QuarryError. */
  readonly signal?: AbortSignal;
  readonly accept?: string;
}

export interface FetchedResource {
  readonly url: string;
  readonly finalUrl: string;
  readonly status: number;
  readonly contentType: string | null;
  readonly sizeBytes: number;
  readonly sha256: string;
  /** Every URL a redirect led to, in order; the last is `finalUrl`. */
  readonly redirects: readonly string[];
}

export interface SafeFetcher {
  /** GETs the URL and streams the body, as the server encoded it, to destPath (created or truncated). */
  fetchToFile(url: string, destPath: string, options?: FetchToFileOptions): Promise<FetchedResource>;
  /** The scheme, port, resolution and address checks a fetch would make, without connecting. */
  checkUrl(url: string): Promise<void>;
  /**
   * POSTs `body` with the same checks, connecting only to the vetted address. Redirects are not followed: a 3xx is
   * the answer. Any status resolves; only the first `maxResponseBytes` of the answer are kept.
   */
  post(url: string, body: string, options: PostOptions): Promise<PostedResponse>;
}

export interface PostOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly maxResponseBytes?: number;
}

export interface PostedResponse {
  readonly status: number;
  /** The answer's first bytes as UTF-8. */
  readonly body: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

// The Fetch standard's "bad ports": services that tolerate a stray HTTP request well enough to be
// abused through one (SMTP, IRC, …), even on public hosts.
const BAD_PORTS = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

interface VettedTarget {
  readonly url: URL;
  readonly hostname: string;
  readonly port: number;
  readonly addresses: readonly ResolvedAddress[];
}

/** Where a fetch is, for messages and details that never carry credentials or query strings. */
class Trail {
  current: URL | null = null;
  address: string | undefined;

  constructor(private readonly original: string) {}

  get where(): string {
    const first = redactRaw(this.original);
    const now = this.current === null ? first : redact(this.current);
    return now === first ? first : `${first} (redirected to ${now})`;
  }

  details(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const url = redactRaw(this.original);
    const finalUrl = this.current === null ? url : redact(this.current);
    return {
      url,
      ...(finalUrl === url ? {} : { finalUrl }),
      ...(this.address === undefined ? {} : { address: this.address }),
      ...extra,
    };
  }
}

/** Thrown for the local file so it reaches the caller as it is, not as an unreachable URL. */
class LocalFileFailure extends Error {
  constructor(readonly failure: unknown) {
    super('writing the fetched body failed', { cause: failure });
  }
}

/** The fetch's one deadline, joined with the caller's signal; remembers which of the two fired. */
class Deadline {
  readonly signal: AbortSignal;
  timedOut = false;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    ms: number,
    private readonly callerSignal: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error(`timed out after ${ms} ms`));
    }, ms);
    this.signal =
      callerSignal === undefined
        ? this.controller.signal
        : AbortSignal.any([this.controller.signal, callerSignal]);
  }

  get callerAborted(): boolean {
    return this.callerSignal?.aborted === true && !this.timedOut;
  }

  get callerReason(): unknown {
    return this.callerSignal?.reason as unknown;
  }

  /** dns.lookup cannot be cancelled; the fetch stops waiting for it instead. */
  async race<T>(work: Promise<T>): Promise<T> {
    const signal = this.signal;
    if (signal.aborted) throw abortError(signal);
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(abortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([work, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}

function abortError(signal: AbortSignal): Error {
  return new Error('aborted', { cause: signal.reason });
}

export function createSafeFetcher(options: SafeFetcherOptions): SafeFetcher {
  const maxRedirects = options.maxRedirects ?? 5;
  const { maxBytes, timeoutMs, userAgent } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError('maxBytes must be an integer ≥ 0');
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be positive');
  if (!Number.isSafeInteger(maxRedirects) || maxRedirects < 0) {
    throw new RangeError('maxRedirects must be an integer ≥ 0');
  }
  if (userAgent.trim() === '') throw new RangeError('userAgent must not be empty');
  const allowList = new HostAllowList(options.allowHosts);
  const resolve: Resolver = options.lookup ?? ((hostname) => dns.lookup(hostname, { all: true }));

  async function vet(url: URL, trail: Trail, deadline: Deadline): Promise<VettedTarget> {
    trail.current = url;
    trail.address = undefined;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw forbidden(
        trail,
        `the ${url.protocol.replace(/:$/, '')} scheme is not allowed, only http and https`,
      );
    }
    if (url.username !== '' || url.password !== '') throw forbidden(trail, 'URLs may not carry credentials');
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    const hostAllowed = allowList.allowsHost(hostname, port);
    // Only an entry naming the port itself lifts the bad-port rule: allowing a host is not meant to
    // open its mail or SSH port to user-given URLs.
    if (BAD_PORTS.has(port) && !allowList.allowsHost(hostname, port, { portNamed: true })) {
      throw forbidden(trail, `port ${port} is not allowed`);
    }

    const family = isIP(hostname);
    const addresses =
      family === 0 ? await resolveAll(hostname, trail, deadline) : [{ address: hostname, family }];
    if (!hostAllowed) {
      for (const { address } of addresses) {
        if (allowList.allowsAddress(address, port)) continue;
        const verdict = classifyAddress(address);
        if (!verdict.allowed) {
          trail.address = address;
          const what = family === 0 ? `${hostname} resolves to ${address}, which` : address;
          throw forbidden(trail, `${what} is not a public address (${verdict.range})`);
        }
      }
    }
    return { url, hostname, port, addresses };
  }

  async function resolveAll(hostname: string, trail: Trail, deadline: Deadline): Promise<ResolvedAddress[]> {
    let answers: readonly ResolvedAddress[];
    try {
      answers = await deadline.race(resolve(hostname));
    } catch (error) {
      if (deadline.signal.aborted) throw error;
      throw new QuarryError(
        'url_unreachable',
        `${trail.where} is unreachable: cannot resolve ${hostname}: ${messageOf(error)}`,
        {
          cause: error,
          details: trail.details(),
        },
      );
    }
    if (answers.length === 0) {
      throw new QuarryError('url_unreachable', `${trail.where} is unreachable: ${hostname} has no address`, {
        details: trail.details(),
      });
    }
    // The family the resolver claims is not trusted: the pinned lookup hands it to the socket.
    return answers.map(({ address }) => ({ address, family: isIP(address) }));
  }

  function send(
    target: VettedTarget,
    trail: Trail,
    deadline: Deadline,
    accept: string,
    post?: { body: string; headers: Readonly<Record<string, string>> },
  ): Promise<IncomingMessage> {
    const vetted = new Set(target.addresses.map((a) => canonicalAddress(a.address)));
    return new Promise<IncomingMessage>((resolveResponse, reject) => {
      const secure = target.url.protocol === 'https:';
      const requestOptions: https.RequestOptions = {
        method: post ? 'POST' : 'GET',
        hostname: target.hostname,
        port: target.port,
        path: `${target.url.pathname}${target.url.search}`,
        headers: {
          ...post?.headers,
          'user-agent': userAgent,
          accept,
          'accept-encoding': 'identity',
          ...(post ? { 'content-length': String(Buffer.byteLength(post.body)) } : {}),
        },
        // A fresh connection per request: no pooled socket from an earlier resolution, and no proxy
        // from the environment standing between the check and the connection.
        agent: false,
        lookup: pinnedLookup(target.addresses),
        signal: deadline.signal,
        ...(secure && options.ca !== undefined
          ? { ca: options.ca as string | Buffer | (string | Buffer)[] }
          : {}),
      };
      const request = (secure ? https : http).request(requestOptions);
      request.on('socket', (socket: Socket) => {
        const verify = (): void => {
          const remote = socket.remoteAddress;
          trail.address = remote;
          // Defence in depth: the pinned lookup should make this impossible.
          if (remote === undefined || !vetted.has(canonicalAddress(remote))) {
            request.destroy(
              forbidden(trail, `connected to ${remote ?? 'an unknown address'}, which was not vetted`),
            );
          }
        };
        if (socket.remoteAddress === undefined) socket.once('connect', verify);
        else verify();
      });
      request.on('response', resolveResponse);
      // Kept for the request's whole life: an error after the response must not go unhandled.
      request.on('error', reject);
      request.end(post?.body);
    });
  }

  async function saveBody(response: IncomingMessage, destPath: string, trail: Trail, deadline: Deadline) {
    let handle: FileHandle;
    try {
      handle = await open(destPath, 'w');
    } catch (error) {
      throw new LocalFileFailure(error);
    }
    let sizeBytes = 0;
    const hash = createHash('sha256');
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        sizeBytes += chunk.length;
        if (sizeBytes > maxBytes) {
          done(tooLarge(trail));
          return;
        }
        hash.update(chunk);
        writeFully(handle, chunk).then(
          () => done(),
          (error: unknown) => done(new LocalFileFailure(error)),
        );
      },
    });
    let complete = false;
    try {
      await pipeline(response, sink, { signal: deadline.signal });
      complete = true;
      return { sizeBytes, sha256: hash.digest('hex') };
    } finally {
      await handle.close();
      if (!complete) await rm(destPath, { force: true });
    }
  }

  function tooLarge(trail: Trail): QuarryError {
    return new QuarryError('url_too_large', `${trail.where} is too large: more than ${maxBytes} bytes`, {
      details: trail.details({ maxBytes }),
    });
  }

  function translate(error: unknown, trail: Trail, deadline: Deadline): unknown {
    if (error instanceof QuarryError) return error;
    if (error instanceof LocalFileFailure) return error.failure;
    if (deadline.timedOut) {
      return new QuarryError('url_unreachable', `${trail.where} timed out after ${timeoutMs} ms`, {
        cause: error,
        details: trail.details(),
      });
    }
    if (deadline.callerAborted) return deadline.callerReason;
    return new QuarryError('url_unreachable', `${trail.where} is unreachable: ${messageOf(error)}`, {
      cause: error,
      details: trail.details(),
    });
  }

  async function fetchToFile(
    url: string,
    destPath: string,
    fetchOptions: FetchToFileOptions = {},
  ): Promise<FetchedResource> {
    fetchOptions.signal?.throwIfAborted();
    const trail = new Trail(url);
    const deadline = new Deadline(timeoutMs, fetchOptions.signal);
    try {
      const start = parse(url, trail);
      const redirects: string[] = [];
      let current = start;
      for (;;) {
        const target = await vet(current, trail, deadline);
        const response = await send(target, trail, deadline, fetchOptions.accept ?? '*/*');
        const status = response.statusCode ?? 0;
        const location = response.headers.location;
        if (REDIRECT_STATUSES.has(status) && location !== undefined) {
          response.destroy();
          if (redirects.length >= maxRedirects) {
            throw new QuarryError(
              'url_unreachable',
              `${trail.where} is unreachable: too many redirects (more than ${maxRedirects})`,
              { details: trail.details({ status }) },
            );
          }
          current = parseLocation(location, current, trail);
          redirects.push(current.href);
          continue;
        }
        if (status < 200 || status > 299) {
          response.destroy();
          throw new QuarryError('url_http_error', `${trail.where} answered HTTP ${status}`, {
            details: trail.details({ status }),
          });
        }
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          response.destroy();
          throw tooLarge(trail);
        }
        const { sizeBytes, sha256 } = await saveBody(response, destPath, trail, deadline);
        return {
          url: start.href,
          finalUrl: current.href,
          status,
          contentType: response.headers['content-type'] ?? null,
          sizeBytes,
          sha256,
          redirects,
        };
      }
    } catch (error) {
      throw translate(error, trail, deadline);
    } finally {
      deadline.dispose();
    }
  }

  async function checkUrl(url: string): Promise<void> {
    const trail = new Trail(url);
    const deadline = new Deadline(timeoutMs, undefined);
    try {
      await vet(parse(url, trail), trail, deadline);
    } catch (error) {
      throw translate(error, trail, deadline);
    } finally {
      deadline.dispose();
    }
  }

  async function post(url: string, body: string, postOptions: PostOptions): Promise<PostedResponse> {
    const trail = new Trail(url);
    const deadline = new Deadline(timeoutMs, undefined);
    const keep = postOptions.maxResponseBytes ?? 1024;
    try {
      const target = await vet(parse(url, trail), trail, deadline);
      const response = await send(target, trail, deadline, '*/*', { body, headers: postOptions.headers });
      const chunks: Buffer[] = [];
      let kept = 0;
      try {
        for await (const chunk of response as AsyncIterable<Buffer>) {
          if (kept < keep) {
            chunks.push(chunk.subarray(0, keep - kept));
            kept += Math.min(chunk.length, keep - kept);
          }
          // The rest of a long answer is not waited for.
          if (kept >= keep) break;
        }
      } finally {
        response.destroy();
      }
      return { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') };
    } catch (error) {
      throw translate(error, trail, deadline);
    } finally {
      deadline.dispose();
    }
  }

  return { fetchToFile, checkUrl, post };
}

function parse(url: string, trail: Trail): URL {
  try {
    return new URL(url);
  } catch (error) {
    throw new QuarryError('url_forbidden', `${trail.where} is forbidden: it is not a valid URL`, {
      cause: error,
      details: trail.details(),
    });
  }
}

function parseLocation(location: string, base: URL, trail: Trail): URL {
  try {
    return new URL(location, base);
  } catch (error) {
    throw new QuarryError('url_forbidden', `${trail.where} is forbidden: it redirects to an invalid URL`, {
      cause: error,
      details: trail.details(),
    });
  }
}

function forbidden(trail: Trail, why: string): QuarryError {
  return new QuarryError('url_forbidden', `${trail.where} is forbidden: ${why}`, {
    details: trail.details(),
  });
}

/**
 * Hands the socket only what was vetted, whatever name it asks for: no second resolution happens
 * between the check and the connection, so a DNS answer cannot change in between (rebinding).
 */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, lookupOptions, callback) => {
    const family = lookupOptions.family;
    const wanted = family === 4 || family === 'IPv4' ? 4 : family === 6 || family === 'IPv6' ? 6 : 0;
    const usable = wanted === 0 ? addresses : addresses.filter((a) => a.family === wanted);
    const first = usable[0];
    if (first === undefined) {
      const error: NodeJS.ErrnoException = new Error(`no vetted IPv${wanted} address`);
      error.code = 'ENOTFOUND';
      callback(error, '', 0);
    } else if (lookupOptions.all === true) {
      callback(
        null,
        usable.map(({ address, family: f }) => ({ address, family: f })),
      );
    } else {
      callback(null, first.address, first.family);
    }
  };
}

async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

function messageOf(error: unknown): string {
  // Duck-typed: errors from node internals may come from another realm (a VM context, Jest).
  if (typeof error !== 'object' || error === null || !('message' in error)) return String(error);
  const message = String(error.message);
  const code = 'code' in error ? error.code : undefined;
  // Node reports a body cut short as a bare 'aborted'.
  if (message === 'aborted' && code === 'ECONNRESET')
    return 'the connection closed before the body was complete';
  return message;
}

/** The URL without credentials, query or fragment: those may carry secrets (signed links, tokens). */
function redact(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search === '' ? '' : '?…'}`;
}

function redactRaw(raw: string): string {
  const parsed = URL.parse(raw);
  if (parsed !== null) return redact(parsed);
  const cut = raw.replace(/[?#].*$/s, '').replace(/\/\/[^/]*@/, '//');
  return JSON.stringify(cut.length > 200 ? `${cut.slice(0, 200)}…` : cut);
}
