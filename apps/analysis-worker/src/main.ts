import { config, tracing } from './instrument';
import 'reflect-metadata';
import { JetStreamServer } from '@quarry/messaging';
import { bootWorker } from '@quarry/telemetry';
import { AnalysisWorkerModule } from './worker.module';

void bootWorker(
  'analysis-worker',
  config,
  tracing,
  (c, logger, metrics) => AnalysisWorkerModule.forRoot(c, logger, metrics),
  JetStreamServer,
);
