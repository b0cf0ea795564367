import { config, tracing } from './instrument';
import 'reflect-metadata';
import { JetStreamServer } from '@quarry/messaging';
import { bootWorker } from '@quarry/telemetry';
import { IngestWorkerModule } from './worker.module';

void bootWorker(
  'ingest-worker',
  config,
  tracing,
  (c, logger, metrics) => IngestWorkerModule.forRoot(c, logger, metrics),
  JetStreamServer,
);
