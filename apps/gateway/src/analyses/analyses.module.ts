import { Module } from '@nestjs/common';
import { AnalysesController } from './analyses.controller';

/** Analyses: accepted here as jobs, run by the analysis worker (ADR 28). */
@Module({ controllers: [AnalysesController] })
export class AnalysesModule {}
