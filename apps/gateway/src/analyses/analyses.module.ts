import { Module } from '@nestjs/common';
import { AnalysesController } from './analyses.controller';
import { ReindexController } from './reindex.controller';
import { WorkerJobAcceptor } from './worker-job-acceptor';

/** Analyses and re-embeds: accepted here as jobs, run by the analysis worker (ADR 28, 29). */
@Module({ controllers: [AnalysesController, ReindexController], providers: [WorkerJobAcceptor] })
export class AnalysesModule {}
