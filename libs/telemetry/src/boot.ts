import type { DynamicModule, InjectionToken } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AsyncMicroserviceOptions, CustomTransportStrategy } from '@nestjs/microservices';
import type { AppConfig } from '@quarry/config';
import { createLogger, NestPinoLogger, type Logger } from './logger';
import { QuarryMetrics, type QuarryApp } from './metrics';
import { WorkerOps } from './ops-server';
import { Readiness } from './readiness';

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
 * Boots a worker (a Nest microservice on the app's transport, without HTTP): the config read once by the app's
 * `instrument.ts` (which also started tracing before anything else was loaded), one root
 * logger, the process's metrics and an ops server on METRICS_PORT (/metrics, /healthz, /readyz, up
 * before Nest starts so probes get answers at once), shutdown hooks on SIGTERM/SIGINT. A failure to
 * start (the port taken, NATS away) is logged and exits non-zero so a supervisor restarts the process.
 */
export async function bootWorker(
  app: QuarryApp,
  config: AppConfig,
  /** Started by the app's instrument.ts; flushed last so the shutdown's own spans are exported. */
  tracing: { shutdown(): Promise<void> },
  rootModule: (config: AppConfig, logger: Logger, metrics: QuarryMetrics) => DynamicModule,
  /** Provider token of the transport the worker's handlers run on (a Nest CustomTransportStrategy). */
  transport: InjectionToken,
): Promise<void> {
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, app });
  try {
    const metrics = new QuarryMetrics({ app, logger: logger.child({ component: 'metrics' }) });
    const ops = await WorkerOps.start({ host: config.http.host, port: config.metrics.port, metrics, logger });
    // A Nest microservice whose strategy comes from the app's own providers (it needs the NATS connection and
    // the config); closing it stops the transport first, then runs the application's shutdown hooks.
    const worker = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(
      rootModule(config, logger, metrics),
      {
        inject: [transport],
        useFactory: (strategy: CustomTransportStrategy) => ({ strategy }),
        logger: new NestPinoLogger(logger.child({ component: 'nest' })),
        abortOnError: false,
      },
    );
    await worker.listen();
    ops.running(worker.get(Readiness));
    exitCleanlyOnSignals(logger, async () => {
      ops.stopping();
      await worker.close();
      await ops.close();
      await tracing.shutdown();
    });
    logger.info(`${app} started`);
  } catch (error) {
    logger.fatal({ err: error }, `${app} failed to start`);
    logger.flush();
    process.exit(1);
  }
}
