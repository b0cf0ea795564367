import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig, type AppConfig } from '@quarry/config';
import { createLogger, NestPinoLogger, type Logger } from './logger';

/**
 * Boots a worker (a Nest application context without HTTP): config read and validated once, one root
 * logger, shutdown hooks on SIGTERM/SIGINT. A failure to start is logged and exits non-zero so a
 * supervisor restarts the process.
 */
export async function bootWorker(
  app: string,
  rootModule: (config: AppConfig, logger: Logger) => DynamicModule,
): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, app });
  try {
    const context = await NestFactory.createApplicationContext(rootModule(config, logger), {
      logger: new NestPinoLogger(logger.child({ component: 'nest' })),
      abortOnError: false,
    });
    context.enableShutdownHooks();
    logger.info(`${app} started`);
  } catch (error) {
    logger.fatal({ err: error }, `${app} failed to start`);
    logger.flush();
    process.exit(1);
  }
}
