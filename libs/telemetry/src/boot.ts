import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig, type AppConfig } from '@quarry/config';
import { createLogger, NestPinoLogger, type Logger } from './logger';

/**
 * SIGTERM/SIGINT run Nest's shutdown (consumers stop pulling, in-flight work finishes or is handed back
 * within SHUTDOWN_TIMEOUT_MS, connections drain), then the process exits with code 0. A second signal
 * exits at once. (Nest's own shutdown hooks re-raise the signal, which reads as a crash to supervisors.)
 */
export function exitCleanlyOnSignals(logger: Logger, close: () => Promise<void>): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    logger.info({ signal }, 'shutting down');
    close()
      .then(() => {
        logger.info('shut down cleanly');
        logger.flush();
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

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
    exitCleanlyOnSignals(logger, () => context.close());
    logger.info(`${app} started`);
  } catch (error) {
    logger.fatal({ err: error }, `${app} failed to start`);
    logger.flush();
    process.exit(1);
  }
}
