import { NotFoundException, PayloadTooLargeException, type ArgumentsHost } from '@nestjs/common';
import { QuarryError } from '@quarry/contracts';
import type { Logger } from '@quarry/telemetry';
import { ErrorsFilter } from './errors.filter';

interface Sent {
  status?: number;
  headers: Record<string, string>;
  body?: Record<string, unknown>;
}

/** A fake Fastify reply and request behind Nest's ArgumentsHost, recording what the filter sends. */
function fakeHost(options: { sent?: boolean; method?: string; url?: string } = {}) {
  const out: Sent = { headers: {} };
  const reply = {
    sent: options.sent ?? false,
    status(code: number) {
      out.status = code;
      return reply;
    },
    header(name: string, value: string) {
      out.headers[name.toLowerCase()] = value;
      return reply;
    },
    send(body: Record<string, unknown>) {
      out.body = body;
      return reply;
    },
  };
  const request = { method: options.method ?? 'GET', url: options.url ?? '/v1/jobs?limit=3' };
  const host = {
    switchToHttp: () => ({ getResponse: () => reply, getRequest: () => request }),
  } as unknown as ArgumentsHost;
  return { host, out };
}

function fakeLogger() {
  const error = jest.fn();
  return { logger: { error } as unknown as Logger, error };
}

describe('ErrorsFilter', () => {
  it('answers an unexpected error with 500 internal, an errorId, and logs the error under the same errorId', () => {
    const { logger, error } = fakeLogger();
    const { host, out } = fakeHost({ method: 'POST', url: '/v1/search' });
    const boom = new Error('connection to postgresql://admin:s3cret@db/quarry refused');

    new ErrorsFilter(logger).catch(boom, host);

    expect(out.status).toBe(500);
    expect(out.headers['content-type']).toBe('application/json');
    expect(out.body).toEqual({
      code: 'internal',
      message: expect.any(String) as unknown,
      errorId: expect.any(String) as unknown,
    });
    const errorId = out.body!['errorId'] as string;
    expect(errorId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(JSON.stringify(out.body)).not.toMatch(/s3cret|postgresql|refused/);

    expect(error).toHaveBeenCalledTimes(1);
    const [fields, message] = error.mock.calls[0] as [Record<string, unknown>, string];
    expect(fields).toMatchObject({ err: boom, errorId, method: 'POST', url: '/v1/search' });
    expect(message).toEqual(expect.any(String) as unknown);
  });

  it('gives every server fault its own errorId', () => {
    const { logger } = fakeLogger();
    const ids = [1, 2, 3].map(() => {
      const { host, out } = fakeHost();
      new ErrorsFilter(logger).catch(new Error('x'), host);
      return out.body!['errorId'];
    });
    expect(new Set(ids).size).toBe(3);
  });

  it('answers a thrown non-Error (a string) as 500 internal too', () => {
    const { logger, error } = fakeLogger();
    const { host, out } = fakeHost();
    new ErrorsFilter(logger).catch('something odd', host);
    expect(out.status).toBe(500);
    expect(out.body).toMatchObject({ code: 'internal' });
    expect(error).toHaveBeenCalledWith(
      expect.objectContaining({ errorId: out.body!['errorId'] }),
      expect.any(String) as unknown,
    );
  });

  it('answers a 5xx QuarryError with its own code and message plus an errorId', () => {
    const { logger, error } = fakeLogger();
    const { host, out } = fakeHost();
    new ErrorsFilter(logger).catch(
      new QuarryError('search_unavailable', 'search service did not answer'),
      host,
    );
    expect(out.status).toBe(503);
    expect(out.body).toEqual({
      code: 'search_unavailable',
      message: 'search service did not answer',
      errorId: expect.any(String) as unknown,
    });
    expect(error).toHaveBeenCalledWith(
      expect.objectContaining({ errorId: out.body!['errorId'] }),
      expect.any(String) as unknown,
    );
  });

  it.each([
    ['validation_failed', 400],
    ['unauthorized', 401],
    ['not_found', 404],
    ['conflict', 409],
    ['payload_too_large', 413],
    ['too_many_files', 400],
    ['no_files', 400],
    ['empty_file', 400],
    ['not_multipart', 415],
    ['insufficient_scope', 403],
    ['rate_limited', 429],
  ] as const)('answers QuarryError %s with %i, {code, message}, no errorId and no log', (code, status) => {
    const { logger, error } = fakeLogger();
    const { host, out } = fakeHost();
    new ErrorsFilter(logger).catch(new QuarryError(code, `because ${code}`), host);
    expect(out.status).toBe(status);
    expect(out.body).toEqual({ code, message: `because ${code}` });
    expect(error).not.toHaveBeenCalled();
  });

  it('names the Bearer scheme on a 401', () => {
    const { logger } = fakeLogger();
    const { host, out } = fakeHost();
    new ErrorsFilter(logger).catch(new QuarryError('unauthorized', 'no key'), host);
    expect(out.headers['www-authenticate']).toBe('Bearer');
  });

  it('says when to come back in whole seconds, rounded up, when the error knows (Retry-After)', () => {
    const sent = [1, 999, 1000, 1001, 59_500].map((retryAfterMs) => {
      const { logger } = fakeLogger();
      const { host, out } = fakeHost();
      new ErrorsFilter(logger).catch(new QuarryError('rate_limited', 'slow down', { retryAfterMs }), host);
      expect(out.status).toBe(429);
      return out.headers['retry-after'];
    });
    expect(sent).toEqual(['1', '1', '1', '2', '60']);
    const { logger } = fakeLogger();
    const { host, out } = fakeHost();
    new ErrorsFilter(logger).catch(new QuarryError('conflict', 'no'), host);
    expect(out.headers['retry-after']).toBeUndefined();
  });

  it('keeps validation details (the failing fields) in a 400', () => {
    const { logger } = fakeLogger();
    const { host, out } = fakeHost();
    const issues = [{ path: 'limit', message: 'too big' }];
    new ErrorsFilter(logger).catch(
      new QuarryError('validation_failed', 'invalid query', { details: { issues } }),
      host,
    );
    expect(out.body).toEqual({ code: 'validation_failed', message: 'invalid query', issues });
  });

  it("answers Nest's NotFoundException (unknown route) as 404 not_found naming the path without its query", () => {
    const { logger } = fakeLogger();
    const { host, out } = fakeHost({ method: 'GET', url: '/v1/nope?token=abc' });
    new ErrorsFilter(logger).catch(new NotFoundException(), host);
    expect(out.status).toBe(404);
    expect(out.body).toEqual({ code: 'not_found', message: 'no route GET /v1/nope' });
  });

  it('maps other HttpExceptions by status', () => {
    const { logger } = fakeLogger();
    const { host, out } = fakeHost();
    new ErrorsFilter(logger).catch(new PayloadTooLargeException('too big'), host);
    expect(out.status).toBe(413);
    expect(out.body).toMatchObject({ code: 'payload_too_large' });
  });

  it.each([
    ['FST_FILES_LIMIT', 400, 'too_many_files'],
    ['FST_PARTS_LIMIT', 400, 'too_many_files'],
    ['FST_REQ_FILE_TOO_LARGE', 413, 'payload_too_large'],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 'payload_too_large'],
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 'validation_failed'],
  ])('maps the Fastify error %s to %i %s', (fastifyCode, status, code) => {
    const { logger, error } = fakeLogger();
    const { host, out } = fakeHost();
    new ErrorsFilter(logger).catch(
      Object.assign(new Error('fastify says no'), { code: fastifyCode, statusCode: 400 }),
      host,
    );
    expect(out.status).toBe(status);
    expect(out.body).toEqual({ code, message: 'fastify says no' });
    expect(error).not.toHaveBeenCalled();
  });

  it('sends nothing when the reply has already been sent', () => {
    const { logger } = fakeLogger();
    const { host, out } = fakeHost({ sent: true });
    new ErrorsFilter(logger).catch(new Error('late'), host);
    expect(out).toEqual({ headers: {} });
  });
});
