import {
  Controller,
  Get,
  Headers,
  Inject,
  Param,
  Query,
  Res,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import {
  eventTypeMatches,
  EventTypePattern,
  isTerminalJobStatus,
  QuarryError,
  TERMINAL_JOB_EVENT_TYPES,
  type Topology,
} from '@quarry/contracts';
import { PublicEventStreams, TOPOLOGY, type StreamedEvent } from '@quarry/messaging';
import { EventsRepository, JobsRepository } from '@quarry/persistence';
import { LOGGER, type Logger } from '@quarry/telemetry';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { ApiErrors, ApiEventStream, ApiZodQuery } from '../http/openapi';
import { Uuid } from '../http/request-schemas';
import { Event } from '../http/response-schemas';
import { parseInput } from '../http/validation';
import { SseWriter } from './sse-writer';

const LastEventId = z.coerce.number().int().min(0).optional();
const LAST_EVENT_ID_HEADER = {
  name: 'Last-Event-ID',
  required: false,
  description: 'The `id:` of the last event received: the stream continues after it',
  schema: { type: 'integer' as const, minimum: 0 },
};
const TenantStreamQuery = z
  .object({
    jobId: Uuid.optional(),
    type: z
      .string()
      .describe('Comma-separated event type patterns: `job.succeeded`, `document.*`, `*`')
      .optional()
      .transform((v) => (v ? v.split(',').map((p) => p.trim()) : []))
      .pipe(z.array(EventTypePattern).max(20)),
  })
  .strict();

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1')
export class EventsController implements BeforeApplicationShutdown {
  /** Streams being served: a shutdown ends them, or the HTTP server would wait for clients that never leave. */
  private readonly streaming = new Set<SseWriter>();

  constructor(
    private readonly jobs: JobsRepository,
    private readonly events: EventsRepository,
    private readonly streams: PublicEventStreams,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Get('jobs/:id/events')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'streamJobEvents',
    summary: "A job's events as Server-Sent Events, from its first (or after Last-Event-ID) until it ends",
    description:
      'Each event has an `id:` line (its sequence in the events stream): reconnect with `Last-Event-ID` to ' +
      'resume without gaps or repeats. A comment line every 15 s keeps idle connections open. The stream ends ' +
      'after the event that makes the job terminal.',
  })
  @ApiHeader(LAST_EVENT_ID_HEADER)
  @ApiEventStream(Event, "The job's events until it ends")
  @ApiErrors('not_found')
  async jobEvents(
    @CurrentTenant() tenant: TenantContext,
    @Param('id') id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const jobId = parseInput(Uuid, id, 'job id');
    const after = parseInput(LastEventId, lastEventId || undefined, 'Last-Event-ID header');
    const job = await this.jobs.getJob(tenant.tenantId, jobId);
    if (!job) throw new QuarryError('not_found', `job ${jobId} not found`);
    const stream = await this.streams.open(
      this.topology.publicEventFilter({ tenantId: tenant.tenantId, scopeId: jobId }),
      after === undefined ? 'start' : { afterSeq: after },
    );
    const sse = this.writer(reply, () => stream.close());
    // A job that ended before this request, with nothing left to send (a reconnect after its last event).
    if (isTerminalJobStatus(job.status) && (await this.sentEverything(jobId, after ?? 0))) {
      stream.close();
      sse.end();
      return;
    }
    let ending = false;
    void this.pipe(sse, stream.events, async (e) => {
      ending ||= (TERMINAL_JOB_EVENT_TYPES as readonly string[]).includes(e.event.type);
      // Events its ending wrote after the job's own (its documents cancelled with it) still come before the end.
      return ending && e.pending === 0 && (await this.sentEverything(jobId, e.seq));
    }).finally(() => stream.close());
  }

  /**
   * Whether a client that has read up to `seq` has every event the job wrote: none is waiting for the relay (which
   * publishes before it commits, so a reader can be ahead of the table) and none is past `seq`.
   */
  private async sentEverything(jobId: string, seq: number): Promise<boolean> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const mark = await this.events.jobMark(jobId);
      if (!mark.waiting) return mark.lastSeq === null || seq >= mark.lastSeq;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  @Get('events')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'streamEvents',
    summary:
      "The tenant's events as Server-Sent Events, new ones (or after Last-Event-ID), filtered by job and type",
    description:
      '`type` takes comma-separated patterns: `job.succeeded`, `document.*`, `*`. Resumable with Last-Event-ID ' +
      'like a job stream; it stays open until the client leaves.',
  })
  @ApiHeader(LAST_EVENT_ID_HEADER)
  @ApiZodQuery(TenantStreamQuery)
  @ApiEventStream(Event, "The tenant's events, as long as the client stays")
  async tenantEvents(
    @CurrentTenant() tenant: TenantContext,
    @Query() query: Record<string, unknown>,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const q = parseInput(TenantStreamQuery, query, 'query');
    const after = parseInput(LastEventId, lastEventId || undefined, 'Last-Event-ID header');
    // One pattern narrows the subject itself; several are matched here, over the tenant's (or job's) subject.
    const single = q.type.length === 1 ? q.type[0] : undefined;
    const stream = await this.streams.open(
      this.topology.publicEventFilter({ tenantId: tenant.tenantId, scopeId: q.jobId, type: single }),
      after === undefined ? 'new' : { afterSeq: after },
    );
    const sse = this.writer(reply, () => stream.close());
    const wanted = (type: string) => q.type.length === 0 || q.type.some((p) => eventTypeMatches(p, type));
    void this.pipe(sse, stream.events, () => Promise.resolve(false), wanted).finally(() => stream.close());
  }

  /** Streams served right now. */
  openStreams(): number {
    return this.streaming.size;
  }

  /** Ends every stream; clients reconnect (EventSource does) to another replica with their Last-Event-ID. */
  beforeApplicationShutdown(): void {
    for (const sse of this.streaming) sse.end();
  }

  private writer(reply: FastifyReply, onClose: () => void): SseWriter {
    const sse = new SseWriter(reply, this.config.events.sseHeartbeatMs, () => {
      this.streaming.delete(sse);
      onClose();
    });
    this.streaming.add(sse);
    return sse;
  }

  private async pipe(
    sse: SseWriter,
    events: AsyncIterable<StreamedEvent>,
    isLast: (e: StreamedEvent) => Promise<boolean>,
    wanted: (type: string) => boolean = () => true,
  ): Promise<void> {
    try {
      for await (const e of events) {
        if (sse.closed) break;
        if (wanted(e.event.type)) await sse.send(e.seq, e.event.type, e.event);
        if (await isLast(e)) break;
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'event stream failed; closing it');
    } finally {
      sse.end();
    }
  }
}
