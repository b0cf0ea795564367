import multipart from '@fastify/multipart';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { CustomStrategy } from '@nestjs/microservices';
import { SwaggerModule } from '@nestjs/swagger';
import type { AppConfig } from '@quarry/config';
import { JetStreamServer } from '@quarry/messaging';
import { NestPinoLogger, QUARRY_VERSION, QuarryMetrics, type Logger } from '@quarry/telemetry';
import { GatewayModule } from './app.module';
import { registerConsole } from './console/console.routes';
import { FIRECRAWL_ROUTE } from './crawls/firecrawl.controller';
import { observeHttpRequests } from './http/http-metrics';
import { createOpenApiDocument } from './http/openapi';

/** Builds the configured gateway without listening, so tests run exactly what `main.ts` runs. */
export async function createGatewayApp(
  config: AppConfig,
  logger: Logger,
  metrics = new QuarryMetrics({ app: 'gateway', logger: logger.child({ component: 'metrics' }) }),
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: 1024 * 1024, trustProxy: true });
  observeHttpRequests(adapter.getInstance(), metrics);
  // A crawler's delivery carries whole pages: its route alone takes bodies past the 1 MiB every other JSON route has.
  adapter.getInstance().addHook('onRoute', (route) => {
    if (route.url === FIRECRAWL_ROUTE) route.bodyLimit = config.firecrawl.maxDeliveryBytes;
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.forRoot(config, logger, metrics),
    adapter,
    {
      logger: new NestPinoLogger(logger.child({ component: 'nest' })),
      abortOnError: false,
      // Webhook signatures are over the exact bytes received (request.rawBody).
      rawBody: true,
    },
  );
  await app.register(multipart, {
    // Files beyond the limit are cut off and rejected with 413 after the fact (see UploadService).
    throwFileSizeLimit: false,
    limits: {
      fileSize: config.uploads.maxBytes,
      files: config.uploads.maxFiles,
      fields: 20,
      fieldSize: 64 * 1024,
      parts: config.uploads.maxFiles + 20,
      headerPairs: 200,
    },
  });
  // Generated from the zod schemas that validate requests and type the answers (ADR 35).
  SwaggerModule.setup('docs', app, () => createOpenApiDocument(app, config, QUARRY_VERSION), {
    jsonDocumentUrl: 'docs/openapi.json',
  });
  // The web console (ADR 38): public static files at /console, a Fastify scope outside Nest's router, so neither
  // the API key guard nor the OpenAPI document sees it.
  await registerConsole(app.getHttpAdapter().getInstance(), config);
  // The gateway's message handlers (dead-letter recorder, max-deliveries rescue) on the JetStream transport;
  // it stops before the application's shutdown hooks close the connections.
  app.connectMicroservice<CustomStrategy>(
    { strategy: app.get(JetStreamServer) },
    { inheritAppConfig: false },
  );
  await app.startAllMicroservices();
  return app;
}
