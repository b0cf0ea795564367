import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { NATS_CONNECTION } from '@quarry/messaging';
import { JobsRepository } from '@quarry/persistence';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/api-key.guard';

async function check(probe: () => Promise<unknown>, timeoutMs = 2000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), timeoutMs))),
    ]);
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

@ApiExcludeController()
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly jobs: JobsRepository,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
  ) {}

  /** Liveness: the process answers. Never checks dependencies, so an outage does not restart every pod. */
  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  /** Readiness: PostgreSQL and NATS reachable. */
  @Get('readyz')
  async readyz(@Res({ passthrough: true }) reply: FastifyReply) {
    const [database, nats] = await Promise.all([
      check(() => this.jobs.ping()),
      check(() => (this.nc.isClosed() ? Promise.reject(new Error('closed')) : this.nc.flush())),
    ]);
    const ready = database === 'ok' && nats === 'ok';
    void reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', checks: { database, nats } };
  }
}
