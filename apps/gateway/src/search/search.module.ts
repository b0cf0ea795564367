import { Module } from '@nestjs/common';
import { SearchController } from './search.controller';

/** Search: asked of the analysis worker through the JetStream client. */
@Module({ controllers: [SearchController] })
export class SearchModule {}
