import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@quarry/config';
import { createLogger, NestPinoLogger } from '@quarry/telemetry';
import { AnalysisWorkerModule } from './worker.module';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, app: 'analysis-worker' });
  try {
    const app = await NestFactory.createApplicationContext(AnalysisWorkerModule.forRoot(config, logger), {
      logger: new NestPinoLogger(logger.child({ component: 'nest' })),
      abortOnError: false,
    });
    app.enableShutdownHooks();
    logger.info('analysis worker consuming');
  } catch (error) {
    logger.fatal({ err: error }, 'analysis worker failed to start');
    logger.flush();
    process.exit(1);
  }
}

void main();
