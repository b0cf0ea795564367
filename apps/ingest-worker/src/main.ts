import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@quarry/config';
import { createLogger, NestPinoLogger } from '@quarry/telemetry';
import { IngestWorkerModule } from './worker.module';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, app: 'ingest-worker' });
  try {
    const app = await NestFactory.createApplicationContext(IngestWorkerModule.forRoot(config, logger), {
      logger: new NestPinoLogger(logger.child({ component: 'nest' })),
      abortOnError: false,
    });
    app.enableShutdownHooks();
    logger.info('ingest worker consuming');
  } catch (error) {
    logger.fatal({ err: error }, 'ingest worker failed to start');
    logger.flush();
    process.exit(1);
  }
}

void main();
