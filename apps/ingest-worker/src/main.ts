import 'reflect-metadata';
import { bootWorker } from '@quarry/telemetry';
import { IngestWorkerModule } from './worker.module';

void bootWorker('ingest-worker', (config, logger) => IngestWorkerModule.forRoot(config, logger));
