import { Controller, Module, type INestMicroservice, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  MessageIds,
  QuarryError,
  type IngestDocumentCommand,
  type SearchReply,
  type SearchRequest,
} from '@quarry/contracts';
import { waitFor } from '@quarry/test-kit';
import { jetstreamManager } from '@nats-io/jetstream';
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import pino from 'pino';
import { Outcome, type HandlerOutcome } from '../handler';
import { QuarryHeaders } from '../headers';
import { JetStreamPublisher, type PublishResult } from '../publisher';
import { requestService } from '../services';
import { provisionTestJetStream, TEST_CONSUMER_OPTIONS, type TestJetStream } from '../__fixtures__/jetstream';
import { JetStreamClient, JetStreamRecord } from './jetstream.client';
import { DeadLetterContext, JetStreamContext } from './jetstream-context';
import { JetStreamServer, type JetStreamServerOptions } from './jetstream.server';
import { OnCommand, OnDeadLetter, OnRequest, servicePattern } from './patterns';
import { HandlerWiringError } from './wiring';

const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

/** What the handlers saw, and what the next ingest delivery should do. */
const seen = {
  commands: [] as { cmd: IngestDocumentCommand; ctx: unknown }[],
  deadLetters: [] as { cmd: IngestDocumentCommand; ctx: unknown }[],
  next: (): Promise<HandlerOutcome> => Promise.resolve(Outcome.ack()),
};

@Controller()
class IngestController {
  @OnCommand('ingestDocument')
  handle(@Payload() cmd: IngestDocumentCommand, @Ctx() ctx: JetStreamContext): Promise<HandlerOutcome> {
    seen.commands.push({ cmd, ctx });
    ctx.working();
    return seen.next();
  }

  @OnDeadLetter('ingestDocument')
  deadLettered(@Payload() cmd: IngestDocumentCommand, @Ctx() ctx: DeadLetterContext): Promise<void> {
    seen.deadLetters.push({ cmd, ctx });
    return Promise.resolve();
  }
}

/** A search request of a tenant of its own. */
const searchRequest = (): SearchRequest => ({
  v: 1,
  tenantId: randomUUID(),
  query: 'hello',
  topK: 3,
  mode: 'hybrid',
  offset: 0,
});

@Controller()
class SearchController {
  @OnRequest('search')
  search(@Payload() request: SearchRequest): Promise<SearchReply> {
    if (request.query === 'boom') return Promise.reject(new QuarryError('validation_failed', 'no booms'));
    return Promise.resolve({ ok: true, model: 'echo', mode: request.mode, more: false, results: [] });
  }
}

@Module({ controllers: [IngestController, SearchController] })
class BothModule {}

@Module({ controllers: [IngestController] })
class IngestOnlyModule {}

describe('JetStreamServer: the Nest transport on real JetStream', () => {
  let js: TestJetStream;
  let app: INestMicroservice | undefined;

  const options = (over: Partial<JetStreamServerOptions> = {}): JetStreamServerOptions => ({
    consumes: { ingestDocument: { interactive: 1, bulk: 1 } },
    serves: ['search'],
    delivery: {
      ackWaitMs: TEST_CONSUMER_OPTIONS.ackWaitMs,
      maxDeliver: TEST_CONSUMER_OPTIONS.maxDeliver,
      retryBaseDelayMs: TEST_CONSUMER_OPTIONS.retryBaseDelayMs,
      retryMaxDelayMs: TEST_CONSUMER_OPTIONS.retryMaxDelayMs,
    },
    shutdownTimeoutMs: 2000,
    isOutage: () => false,
    ...over,
  });

  const boot = async (module: Type<unknown>, over: Partial<JetStreamServerOptions> = {}) => {
    const server = new JetStreamServer(js.nc, js.t, new JetStreamPublisher(js.nc), options(over), logger);
    app = await NestFactory.createMicroservice(module, { strategy: server, logger: false });
    await app.listen();
  };

  const send = (cmd: IngestDocumentCommand) =>
    new JetStreamPublisher(js.nc).publish(js.t.commandSubject('ingestDocument'), cmd, {
      msgId: MessageIds.command('ingestDocument', cmd.jobId, cmd.documentId),
    });

  const command = (): IngestDocumentCommand => ({
    v: 1,
    jobId: randomUUID(),
    tenantId: randomUUID(),
    documentId: randomUUID(),
  });

  beforeEach(async () => {
    js = await provisionTestJetStream('transport');
    seen.commands.length = 0;
    seen.deadLetters.length = 0;
    seen.next = () => Promise.resolve(Outcome.ack());
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await js.remove();
  });

  it('runs an @OnCommand handler with the validated payload and its delivery, and acks its outcome', async () => {
    await boot(BothModule);
    const cmd = command();
    await send(cmd);
    await waitFor(() => seen.commands.length === 1, { description: 'handled' });
    const jsm = await jetstreamManager(js.nc);
    await waitFor(async () => (await jsm.streams.info(js.t.jobsStream)).state.messages === 0, {
      description: 'acked and removed from the work queue',
    });
    const [first] = seen.commands;
    expect(first?.cmd).toEqual(cmd);
    expect(first?.ctx).toBeInstanceOf(JetStreamContext);
    expect((first?.ctx as JetStreamContext).deliveryCount).toBe(1);
    expect((first?.ctx as JetStreamContext).subject).toBe(js.t.commandSubject('ingestDocument'));
  });

  it('hands a thrown error to the transport as it was thrown: its code dead-letters, and the hook hears why', async () => {
    await boot(BothModule);
    seen.next = () => Promise.reject(new QuarryError('unsupported_type', 'not a document we read'));
    const cmd = command();
    await send(cmd);
    await waitFor(() => seen.deadLetters.length === 1, { description: 'dead-letter hook called' });
    const hook = seen.deadLetters[0]?.ctx as DeadLetterContext;
    expect(hook).toBeInstanceOf(DeadLetterContext);
    expect(hook.error).toMatchObject({ code: 'unsupported_type', message: 'not a document we read' });
    const jsm = await jetstreamManager(js.nc);
    const dlq = await jsm.streams.getMessage(js.t.dlqStream, { seq: 1 });
    expect(dlq?.header.get(QuarryHeaders.dlqCode)).toBe('unsupported_type');
    // Non-retryable: one delivery, not the three a mangled "Internal server error" would have been retried.
    expect(seen.commands).toHaveLength(1);
  });

  it('answers an @OnRequest service, and a thrown error comes back with its code', async () => {
    await boot(BothModule);
    const request = searchRequest();
    await expect(requestService(js.nc, js.t, 'search', request, 2000)).resolves.toEqual({
      ok: true,
      model: 'echo',
      mode: 'hybrid',
      more: false,
      results: [],
    });
    await expect(requestService(js.nc, js.t, 'search', { ...request, query: 'boom' }, 2000)).resolves.toEqual(
      {
        ok: false,
        error: { code: 'validation_failed', message: 'no booms' },
      },
    );
  });

  it('refuses to start when a served service has no handler', async () => {
    await expect(boot(IngestOnlyModule)).rejects.toThrow(HandlerWiringError);
    await expect(boot(IngestOnlyModule)).rejects.toThrow(/no handler for service search/);
  });

  it('refuses to start on a handler for a command the app does not consume', async () => {
    await expect(boot(BothModule, { consumes: {} })).rejects.toThrow(
      /jobs\.ingest, a command this app does not consume/,
    );
  });

  it('JetStreamClient asks a service with send and publishes a JetStreamRecord with emit', async () => {
    await boot(BothModule);
    const client = new JetStreamClient(js.nc, js.t, new JetStreamPublisher(js.nc), 2000);
    const request = searchRequest();
    await expect(lastValueFrom(client.send(servicePattern('search'), request))).resolves.toMatchObject({
      ok: true,
    });
    await expect(lastValueFrom(client.send('svc.nothing', request))).rejects.toThrow(/not a service/);

    const cmd = command();
    const record = new JetStreamRecord(cmd, {
      msgId: MessageIds.command('ingestDocument', cmd.jobId, cmd.documentId),
    });
    const first = await lastValueFrom<PublishResult>(
      client.emit(js.t.commandSubject('ingestDocument'), record),
    );
    const again = await lastValueFrom<PublishResult>(
      client.emit(js.t.commandSubject('ingestDocument'), record),
    );
    expect(first).toMatchObject({ duplicate: false });
    expect(again).toMatchObject({ duplicate: true });
    await waitFor(() => seen.commands.some((c) => c.cmd.documentId === cmd.documentId), {
      description: 'delivered',
    });
    await expect(lastValueFrom(client.emit(js.t.commandSubject('ingestDocument'), cmd))).rejects.toThrow(
      /JetStreamRecord/,
    );
  });
});
