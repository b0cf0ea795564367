import { Controller, Get, Res, type OnModuleInit } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { JobsRepository } from '@quarry/persistence';
import { Readiness } from '@quarry/telemetry';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/api-key.guard';

@ApiExcludeController()
@Public()
@Controller()
export class HealthController implements OnModuleInit {
  constructor(
    private readonly jobs: JobsRepository,
    /** The same checks a worker's ops server runs; messaging has added `nats`. */
    private readonly readiness: Readiness,
  ) {}

  onModuleInit(): void {
    this.readiness.add('database', () => this.jobs.ping());
  }

  /** Liveness: the process answers. Never checks dependencies, so an outage does not restart every pod. */
  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  /** Readiness: PostgreSQL and NATS reachable. */
  @Get('readyz')
  async readyz(@Res({ passthrough: true }) reply: FastifyReply) {
    const { ready, checks } = await this.readiness.check();
    void reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', checks };
  }
}
