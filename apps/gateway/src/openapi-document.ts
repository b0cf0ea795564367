import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { loadConfig, type AppConfig } from '@quarry/config';
import { createLogger, QUARRY_VERSION, QuarryMetrics } from '@quarry/telemetry';
import { writeFileSync } from 'node:fs';
import { GatewayModule } from './app.module';
import { createOpenApiDocument } from './http/openapi';

/**
 * The OpenAPI document without a running gateway: Nest's preview mode reads the modules, controllers and their
 * decorators but instantiates nothing, so no database or NATS is touched. It is the document `/docs/openapi.json`
 * serves (the same function writes both); the SDK generator and the document tests read it from here.
 *
 * `node dist/apps/gateway/src/openapi-document.js [file]` writes it (to stdout without a file).
 */
export async function buildOpenApiDocument(config: AppConfig = offlineConfig()): Promise<OpenAPIObject> {
  const app = await previewGatewayApp(config);
  try {
    return createOpenApiDocument(app, config, QUARRY_VERSION);
  } finally {
    await app.close();
  }
}

/** The gateway's modules and controllers, read but not instantiated: nothing connects, nothing listens. */
export async function previewGatewayApp(
  config: AppConfig = offlineConfig(),
): Promise<NestFastifyApplication> {
  const logger = createLogger({ level: 'silent', pretty: false, app: 'openapi' });
  return NestFactory.create<NestFastifyApplication>(
    GatewayModule.forRoot(config, logger, new QuarryMetrics({ app: 'gateway', logger })),
    new FastifyAdapter(),
    { preview: true, logger: false, abortOnError: false },
  );
}

/**
 * Settings for a gateway that never connects: the defaults, so the document written offline is the same on every
 * machine (a running gateway's shows its own limits, MAX_URLS_PER_REQUEST).
 */
export function offlineConfig(): AppConfig {
  return loadConfig({ DATABASE_URL: 'postgresql://offline@127.0.0.1:5432/offline', LOG_LEVEL: 'silent' });
}

if (require.main === module) {
  void buildOpenApiDocument().then((document) => {
    const text = `${JSON.stringify(document, null, 2)}\n`;
    const file = process.argv[2];
    if (file) writeFileSync(file, text);
    else process.stdout.write(text);
  });
}
