import 'reflect-metadata';
import { bootWorker } from '@quarry/telemetry';
import { AnalysisWorkerModule } from './worker.module';

void bootWorker('analysis-worker', (config, logger) => AnalysisWorkerModule.forRoot(config, logger));
