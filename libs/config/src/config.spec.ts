import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('gives working defaults for a local machine', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(3000);
    expect(c.namespace).toBe('quarry');
    expect(c.embedding.provider).toBe('local');
    expect(c.database.url).toMatch(/^postgresql:\/\//);
  });

  it('coerces and validates numbers and enums', () => {
    expect(loadConfig({ PORT: '8080', LOG_PRETTY: 'true' }).http.port).toBe(8080);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ EMBEDDING_PROVIDER: 'magic' })).toThrow(/EMBEDDING_PROVIDER/);
  });

  it('runs one ingest handler more than the cores by default, and a parser process for each handler', () => {
    const c = loadConfig({});
    expect(c.workers.ingestConcurrency).toBe(availableParallelism() + 1);
    expect(c.extraction.processes).toBe(availableParallelism() + 1 + c.workers.ingestBulkConcurrency);
    const set = loadConfig({ INGEST_CONCURRENCY: '2' });
    expect(set.workers.ingestConcurrency).toBe(2);
    expect(set.extraction.processes).toBe(2 + set.workers.ingestBulkConcurrency);
  });

  it('gives each job type a step deadline, STEP_DEADLINE_MS unless its own is set (a re-embed at least 6 hours)', () => {
    expect(loadConfig({}).maintenance.stepDeadlineMs).toEqual({
      ingest: 1_800_000,
      analyze: 1_800_000,
      reindex: 21_600_000,
    });
    const set = loadConfig({ STEP_DEADLINE_MS: '60000', STEP_DEADLINE_MS_ANALYZE: '5000' });
    expect(set.maintenance.stepDeadlineMs).toEqual({ ingest: 60_000, analyze: 5_000, reindex: 21_600_000 });
    expect(loadConfig({ STEP_DEADLINE_MS_REINDEX: '1000' }).maintenance.stepDeadlineMs.reindex).toBe(1000);
    expect(() => loadConfig({ STEP_DEADLINE_MS_INGEST: '0' })).toThrow(/STEP_DEADLINE_MS_INGEST/);
    expect(loadConfig({ NO_WORKER_AFTER_MS: '250', STUCK_AFTER_MS: '500' }).maintenance).toMatchObject({
      noWorkerAfterMs: 250,
      stuckAfterMs: 500,
    });
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '' }).http.port).toBe(3000);
  });

  it('rejects inconsistent chunking settings', () => {
    expect(() => loadConfig({ CHUNK_MAX_TOKENS: '64', CHUNK_OVERLAP_TOKENS: '64' })).toThrow(
      /CHUNK_OVERLAP_TOKENS/,
    );
  });

  it('rejects a bootstrap API key too short to be a secret', () => {
    expect(() => loadConfig({ QUARRY_BOOTSTRAP_API_KEY: 'abc' })).toThrow(/QUARRY_BOOTSTRAP_API_KEY/);
  });

  describe('tracing export (the standard OTEL_* variables)', () => {
    it('exports nothing when no exporter or endpoint is set', () => {
      const t = loadConfig({}).telemetry;
      expect(t).toMatchObject({ enabled: true, exporter: 'none', samplerFromEnv: false });
    });

    it('exports OTLP protobuf to <endpoint>/v1/traces once an endpoint is set', () => {
      const t = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).telemetry;
      expect(t.exporter).toBe('otlp');
      expect(t.otlp).toEqual({ tracesUrl: 'http://collector:4318/v1/traces', protocol: 'http/protobuf' });
    });

    it('uses a traces-specific endpoint and protocol as given', () => {
      const t = loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://general:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/custom',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }).telemetry;
      expect(t.otlp).toEqual({ tracesUrl: 'http://traces:4318/custom', protocol: 'http/json' });
    });

    it('lets OTEL_TRACES_EXPORTER=none win over an endpoint, and OTEL_SDK_DISABLED switch tracing off', () => {
      expect(
        loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).telemetry
          .exporter,
      ).toBe('none');
      expect(loadConfig({ OTEL_SDK_DISABLED: 'true' }).telemetry.enabled).toBe(false);
    });

    it('hands sampling to the SDK when OTEL_TRACES_SAMPLER is set, and rejects what it cannot do', () => {
      expect(loadConfig({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' }).telemetry.samplerFromEnv).toBe(
        true,
      );
      expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
        /OTEL_EXPORTER_OTLP_PROTOCOL/,
      );
      expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER/);
    });
  });
});
