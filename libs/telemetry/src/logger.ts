import type { LoggerService } from '@nestjs/common';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  app: string;
  /** Where JSON lines go (stdout unless given; tests capture them). */
  destination?: pino.DestinationStream;
}

/** Keys whose values never reach a log line, wherever they appear in the logged object. */
const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'headers.cookie',
  'req.headers.cookie',
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  'key',
  'password',
  '*.password',
  'bootstrapApiKey',
  '*.bootstrapApiKey',
  'databaseUrl',
  '*.databaseUrl',
  'database.url',
  '*.database.url',
];

/** Secrets embedded in strings (a connection URL in an error message) are masked too. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi;

export function maskSecretsInText(text: string): string {
  return text.replace(URL_PASSWORD, '$1[redacted]@');
}

/**
 * The ids of the span active when a line is written: every line of a job's work (a consumer's
 * delivery, the HTTP request that created it) can be joined to its trace in Jaeger.
 */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpan(context.active());
  // A span the sampler dropped has ids too, but no trace to find them in.
  if (!span?.isRecording()) return {};
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

export function createLogger(options: LoggerOptions): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level,
    base: { app: options.app },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: traceFields,
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      logMethod(args, method) {
        // The message itself may quote a secret (a connection string in a driver's error).
        const masked = args.map((a) => (typeof a === 'string' ? maskSecretsInText(a) : a));
        method.apply(this, masked as Parameters<typeof method>);
      },
    },
    serializers: {
      err: (error: unknown) => {
        const serialized = pino.stdSerializers.err(error as Error);
        if (typeof serialized.message === 'string')
          serialized.message = maskSecretsInText(serialized.message);
        if (typeof serialized.stack === 'string') serialized.stack = maskSecretsInText(serialized.stack);
        return serialized;
      },
    },
    ...(options.pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,app' },
          },
        }
      : {}),
  };
  return options.destination && !options.pretty ? pino(settings, options.destination) : pino(settings);
}

/** Lets Nest's own messages (bootstrap, route mapping, exceptions) go through the same pino logger. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}

/** Nest injection token for the app's root pino logger. */
export const LOGGER = Symbol('LOGGER');
