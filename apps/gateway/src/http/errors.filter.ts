import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { ErrorCodes, QuarryError, type ErrorCode } from '@quarry/contracts';
import { isDatabaseUnavailable } from '@quarry/persistence';
import { LOGGER, type Logger } from '@quarry/telemetry';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
}

/** Fastify and @fastify/multipart errors that are the client's fault, by their error code. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_REQ_FILE_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_FILES_LIMIT: 'too_many_files',
  FST_PARTS_LIMIT: 'too_many_files',
  FST_FIELDS_LIMIT: 'validation_failed',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'not_multipart',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'validation_failed',
  FST_ERR_CTP_INVALID_JSON_BODY: 'validation_failed',
  FST_PROTO_VIOLATION: 'validation_failed',
};

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'validation_failed',
  401: 'unauthorized',
  403: 'insufficient_scope',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/** Retry-After is in whole seconds (RFC 9110 §10.2.3); rounding down would invite a retry that is refused again. */
export const retryAfterSeconds = (waitMs: number): number => Math.max(1, Math.ceil(waitMs / 1000));

/**
 * Every error leaves as `{code, message}` with the status its code maps to. A 5xx that is not a known
 * infrastructure code gets an `errorId` that is also in the log line, and never leaks internals.
 */
@Catch()
export class ErrorsFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const { status, body } = this.translate(exception, request);
    if (reply.sent) return;
    // RFC 9110 §11.6.1: a 401 names the scheme the client should use.
    if (status === 401) void reply.header('www-authenticate', 'Bearer');
    if (exception instanceof QuarryError && exception.retryAfterMs !== undefined) {
      void reply.header('retry-after', String(retryAfterSeconds(exception.retryAfterMs)));
    }
    void reply.status(status).header('content-type', 'application/json').send(body);
  }

  private translate(
    exception: unknown,
    request: FastifyRequest,
  ): { status: number; body: Record<string, unknown> } {
    if (isDatabaseUnavailable(exception)) {
      return this.serverFault(
        exception,
        request,
        'dependency_unavailable',
        503,
        'database unavailable; retry later',
      );
    }
    if (exception instanceof QuarryError) {
      const status = ErrorCodes[exception.code].status;
      if (status >= 500)
        return this.serverFault(exception, request, exception.code, status, exception.message);
      return {
        status,
        body: { code: exception.code, message: exception.message, ...(exception.details ?? {}) },
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = STATUS_CODES[status] ?? (status >= 500 ? 'internal' : 'validation_failed');
      if (status >= 500) return this.serverFault(exception, request, code, status);
      const message =
        status === 404 ? `no route ${request.method} ${request.url.split('?')[0] ?? ''}` : exception.message;
      return { status, body: { code, message } };
    }
    const fe = exception as FastifyLikeError;
    const mapped = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
    if (mapped)
      return { status: ErrorCodes[mapped].status, body: { code: mapped, message: fe.message ?? mapped } };
    if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return {
        status: fe.statusCode,
        body: { code: STATUS_CODES[fe.statusCode] ?? 'validation_failed', message: fe.message },
      };
    }
    return this.serverFault(exception, request, 'internal', 500);
  }

  private serverFault(
    exception: unknown,
    request: FastifyRequest,
    code: string,
    status: number,
    message?: string,
  ) {
    const errorId = randomUUID();
    this.logger.error(
      { err: exception, errorId, method: request.method, url: request.url },
      'request failed',
    );
    return {
      status,
      body: {
        code,
        message: message ?? 'internal error; quote the errorId when reporting it',
        errorId,
      },
    };
  }
}
