import { Module } from '@nestjs/common';
import { UsageModule } from '../usage/usage.module';
import { FirecrawlController } from './firecrawl.controller';
import { FirecrawlReceiver } from './firecrawl.service';

/** Crawler deliveries (Firecrawl's signed webhooks) become one job per crawl. */
@Module({
  imports: [UsageModule],
  controllers: [FirecrawlController],
  providers: [FirecrawlReceiver],
})
export class CrawlsModule {}
