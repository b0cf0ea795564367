import { Module } from '@nestjs/common';
import { UsageModule } from '../usage/usage.module';
import { AnalysesController } from './analyses.controller';
import { ReindexController } from './reindex.controller';
import { WorkerJobAcceptor } from './worker-job-acceptor';

/** Analyses and re-embeds: accepted here as jobs, run by the analysis worker (ADR 28, 29). */
@Module({
  imports: [UsageModule],
  controllers: [AnalysesController, ReindexController],
  providers: [WorkerJobAcceptor],
})
export class AnalysesModule {}
