import { config, tracing } from './instrument';
import 'reflect-metadata';
import { createLogger, exitCleanlyOnSignals } from '@quarry/telemetry';
import { createGatewayApp } from './bootstrap';

async function main(): Promise<void> {
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, app: 'gateway' });
  try {
    const app = await createGatewayApp(config, logger);
    await app.listen({ host: config.http.host, port: config.http.port });
    exitCleanlyOnSignals(logger, async () => {
      await app.close();
      await tracing.shutdown();
    });
    const url = config.http.publicUrl ?? `http://127.0.0.1:${config.http.port}`;
    logger.info({ url, docs: `${url}/docs`, console: `${url}/console` }, `gateway listening on ${url}`);
  } catch (error) {
    logger.fatal({ err: error }, 'gateway failed to start');
    logger.flush();
    process.exit(1);
  }
}

void main();
