import { parseBenchArgs, parseOnly, type BenchOptions } from './args';
import type { HttpPhase, HttpResult } from './http';
import type { BurstResult, PacedResult, PeerResult, PeersResult } from './peers';
import { computeSummary } from './report';
import type { LatencySummary } from './stats';

const parse = (...argv: string[]) => parseBenchArgs(argv, '/repo') as BenchOptions;

describe('--only', () => {
  it('runs every part without it, and --skip-orchestration takes the peers with it', () => {
    const all = parse();
    expect(all.only).toBeNull();
    expect([all.skipOrchestration, all.skipPeers, all.skipHttp, all.skipOtel, all.skipDocuments]).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect([all.jobs, all.maxRunSeconds]).toEqual([500, 20]);
    const documentsOnly = parse('--skip-orchestration', '--skip-http', '--skip-otel');
    expect(documentsOnly.skipPeers).toBe(true);
    expect(documentsOnly.skipDocuments).toBe(false);
    expect(parse('--skip-peers').skipOrchestration).toBe(false);
  });

  it('brings the peers along with orchestration and skips the parts it does not name', () => {
    const o = parse('--only=orchestration,http');
    expect(o.only).toEqual(['orchestration', 'peers', 'http']);
    expect([o.skipOrchestration, o.skipPeers, o.skipHttp, o.skipOtel, o.skipDocuments]).toEqual([
      false,
      false,
      false,
      true,
      true,
    ]);
    expect([o.jobs, o.maxRunSeconds]).toEqual([500, 20]);
  });

  it('keeps the --skip-* flags working beside it', () => {
    const o = parse('--only=orchestration,http', '--skip-peers');
    expect([o.skipOrchestration, o.skipPeers, o.skipHttp]).toEqual([false, true, false]);
    expect(parse('--only=http,otel', '--skip-otel').skipOtel).toBe(true);
  });

  it('runs the peers alone', () => {
    const o = parse('--only=peers', '--burst-jobs=500', '--paced-rate=50', '--paced-seconds=4');
    expect([o.skipOrchestration, o.skipPeers, o.skipHttp]).toEqual([true, false, true]);
    expect([o.burstJobs, o.pacedRate, o.pacedSeconds]).toEqual([500, 50, 4]);
    expect(parse().burstJobs).toBe(3000);
  });

  it('runs the search part alone, or with every part by default', () => {
    const o = parse('--only=search', '--search-chunks=5000', '--search-queries=20');
    expect([o.skipSearch, o.skipRetrieval, o.skipScale, o.skipOrchestration]).toEqual([
      false,
      true,
      true,
      true,
    ]);
    expect([o.searchChunks, o.searchQueries, o.searchKeepDb]).toEqual([5000, 20, false]);
    const all = parse();
    expect([all.skipSearch, all.searchChunks, all.searchQueries]).toEqual([false, 100_000, 200]);
    expect(parse('--skip-search').skipSearch).toBe(true);
  });

  it('rejects unknown parts and empty lists', () => {
    expect(() => parseOnly('orchestration,htp')).toThrow(/unknown part "htp"/);
    expect(() => parseOnly(' , ')).toThrow(/at least one part/);
    expect(parseOnly(' http , documents ')).toEqual(['http', 'documents']);
    expect(() => parse('--peers=quarry,sidekiq')).toThrow(/unknown peer "sidekiq"/);
  });
});

describe('computeSummary', () => {
  const latency = (p99: number): LatencySummary => ({ n: 1, mean: p99, p50: p99, p95: p99, p99, max: p99 });
  const check = { submitted: 10, submitErrors: 0, completed: 10, lost: 0, duplicated: 0 };
  const cpu = { benchCpuMs: 1, eventLoopUtilization: 0.5, machineBusy: 0.5, machineCpuMs: 1 };
  const burst = (jobsPerSec: number, extra: Partial<BurstResult> = {}): BurstResult => ({
    jobs: 10,
    producers: 16,
    elapsedMs: 1,
    jobsPerSec,
    latency: latency(1),
    cpu,
    benchCpuMsPerJob: 1,
    machineCpuMsPerJob: 1,
    pgQueriesPerJob: 1,
    ...check,
    ...extra,
  });
  const paced = (p99: number): PacedResult => ({
    rate: 100,
    seconds: 10,
    jobs: 10,
    latency: latency(p99),
    maxScheduleLagMs: 0,
    cpu,
    benchCpuMsPerJob: 1,
    pgQueriesPerJob: 1,
    ...check,
  });
  const peer = (name: PeerResult['name'], b?: BurstResult, p?: PacedResult, error?: string): PeerResult => ({
    name,
    label: name,
    backend: '',
    config: '',
    pgBased: true,
    ...(b ? { burst: b } : {}),
    ...(p ? { paced: p } : {}),
    ...(error ? { error } : {}),
  });
  const peers = (...list: PeerResult[]): PeersResult => ({
    burstJobs: 10,
    producers: 16,
    pacedRate: 100,
    pacedSeconds: 10,
    warmupJobs: 10,
    peers: list,
  });
  const phase = (
    name: string,
    concurrency: number,
    perSec: number,
    extra: Partial<HttpPhase> = {},
  ): HttpPhase => ({
    name,
    requests: 10,
    concurrency,
    elapsedMs: 1,
    perSec,
    latency: latency(perSec / 10),
    unexpected: 0,
    cpu,
    gatewayCpuMsPerRequest: 1,
    ...extra,
  });
  const http = (phases: HttpPhase[]): HttpResult => ({
    gatewayLogLevel: 'info',
    fileBytes: 1024,
    warmup: 0,
    startupMs: 1,
    phases,
    gatewayLog: '',
  });

  it('compares Quarry with the fastest framework peer that lost nothing, and with the floor', () => {
    const s = computeSummary(
      peers(
        peer('floor', burst(1200)),
        peer('bullmq', undefined, undefined, 'ioredis is not installed'),
        peer('pg-boss', burst(500)),
        peer('graphile-worker', burst(900, { lost: 3 })),
        peer('naive', burst(250)),
        peer('quarry', burst(150), paced(40)),
      ),
      http([
        phase('GET /healthz (framework floor)', 1, 1500),
        phase('GET /healthz (framework floor)', 8, 4000),
        phase('POST /v1/documents', 1, 90),
        phase('POST /v1/documents', 8, 200),
        phase('POST /v1/documents (paced 100/s)', 3, 99, {
          paced: { perSecond: 100, seconds: 10, maxScheduleLagMs: 1 },
        }),
      ]),
    );
    expect(s).toEqual({
      quarryJobsPerS: 150,
      bestPeer: 'pg-boss',
      bestPeerJobsPerS: 500,
      floorJobsPerS: 1200,
      ratioToBestPeer: 0.3,
      ratioToFloor: 0.13,
      pacedP99Ms: 40,
      uploadReqPerS: 200,
      healthzReqPerS: 4000,
      uploadRatioToHealthz: 0.05,
      uploadPacedP99Ms: 9.9,
    });
    expect(Object.keys(s)).toEqual([
      'quarryJobsPerS',
      'bestPeer',
      'bestPeerJobsPerS',
      'floorJobsPerS',
      'ratioToBestPeer',
      'ratioToFloor',
      'pacedP99Ms',
      'uploadReqPerS',
      'healthzReqPerS',
      'uploadRatioToHealthz',
      'uploadPacedP99Ms',
    ]);
  });

  it('leaves what was not measured null, never NaN', () => {
    const s = computeSummary(undefined, undefined);
    expect(Object.values(s).every((v) => v === null)).toBe(true);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});
