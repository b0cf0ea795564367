import { loadConfig } from '@quarry/config';
import { startTracing } from '@quarry/otel';

/**
 * The first import of main.ts: reads the config once and starts tracing before http, Fastify, Nest,
 * pg and Prisma are loaded, so that they are patched. Everything else gets the config from here.
 */
export const config = loadConfig();
export const tracing = startTracing({ app: 'analysis-worker', config: config.telemetry });
