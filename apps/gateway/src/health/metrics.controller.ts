import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { QUARRY_METRICS, type QuarryMetrics } from '@quarry/telemetry';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/api-key.guard';

/** Prometheus scrapes without an API key, like the probes; the text is not part of the API. */
@ApiExcludeController()
@Public()
@Controller()
export class MetricsController {
  constructor(@Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics) {}

  @Get('metrics')
  @Header('cache-control', 'no-store')
  async scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const text = await this.metrics.metrics();
    void reply.header('content-type', this.metrics.contentType);
    return text;
  }
}
