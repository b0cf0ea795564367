import { parseBenchArgs, parseReplicas, type BenchOptions } from './args';
import { scaleFigures, steadyWindow, stubVector, type CpuTick, type ScaleRole } from './scale';

const parse = (...argv: string[]) => parseBenchArgs(argv, '/repo') as BenchOptions;

describe('the scale part in the options', () => {
  it('runs in a full bench and alone, never with --only=orchestration,http', () => {
    expect(parse().skipScale).toBe(false);
    const quick = parse('--only=orchestration,http');
    expect(quick.skipScale).toBe(true);
    expect(quick.only).toEqual(['orchestration', 'peers', 'http']);
    const alone = parse('--only=scale');
    expect([
      alone.skipOrchestration,
      alone.skipPeers,
      alone.skipHttp,
      alone.skipOtel,
      alone.skipDocuments,
    ]).toEqual([true, true, true, true, true]);
    expect(alone.skipScale).toBe(false);
    expect(parse('--only=scale', '--skip-scale').skipScale).toBe(true);
  });

  it('sizes the steps', () => {
    const o = parse('--only=scale');
    expect([o.scaleJobs, o.scaleReplicas, o.scaleEmbedding]).toEqual([240, [1, 2, 4], 'local']);
    const small = parse('--scale-jobs=200', '--scale-replicas=4, 1,2,1');
    expect([small.scaleJobs, small.scaleReplicas]).toEqual([200, [1, 2, 4]]);
    expect(parseReplicas('3')).toEqual([3]);
    expect(() => parseReplicas('1,0')).toThrow(/positive integer/);
    expect(() => parseReplicas(' , ')).toThrow(/at least one/);
    expect(() => parse('--scale-jobs=0')).toThrow(/positive integer/);
    expect(parse('--scale-embedding=stub').scaleEmbedding).toBe('stub');
    expect(() => parse('--scale-embedding=openai')).toThrow(/local or stub/);
  });
});

describe('scaleFigures', () => {
  it('gives speed-up, efficiency and jobs/s per busy core against the first step', () => {
    const f = scaleFigures([
      { replicas: 1, jobsPerSec: 40, coresBusy: 1.6 },
      { replicas: 2, jobsPerSec: 60, coresBusy: 2 },
      { replicas: 4, jobsPerSec: 62, coresBusy: 2 },
    ]);
    expect(f).toEqual([
      { replicas: 1, jobsPerSec: 40, speedup: 1, efficiency: 1, jobsPerSecPerCore: 25 },
      { replicas: 2, jobsPerSec: 60, speedup: 1.5, efficiency: 0.75, jobsPerSecPerCore: 30 },
      { replicas: 4, jobsPerSec: 62, speedup: 1.55, efficiency: 0.39, jobsPerSecPerCore: 31 },
    ]);
  });

  it('is relative to whatever step comes first, and NaN-free only where defined', () => {
    const f = scaleFigures([
      { replicas: 2, jobsPerSec: 50, coresBusy: 1 },
      { replicas: 8, jobsPerSec: 100, coresBusy: 0 },
    ]);
    expect(f[1]?.speedup).toBe(2);
    expect(f[1]?.efficiency).toBe(0.5);
    expect(f[1]?.jobsPerSecPerCore).toBeNaN();
    expect(scaleFigures([])).toEqual([]);
  });
});

describe('steadyWindow', () => {
  // Per ms of wall clock: the roles' shares of a core (0.95 of the one busy core), the bench a little more.
  const roles = (ms: number): Record<ScaleRole, number> => ({
    gateway: ms * 0.05,
    ingest: ms * 0.25,
    analysis: ms * 0.5,
    postgres: ms * 0.1,
    nats: ms * 0.05,
    bench: ms * 0.02,
  });
  // Samples every second from t = 0 to 20 s; the machine (2 cores) half busy.
  const ticks: CpuTick[] = Array.from({ length: 21 }, (_, i) => ({
    t: i * 1000,
    machineBusyMs: i * 1000,
    machineTotalMs: i * 2000,
    roles: roles(i * 1000),
  }));
  // 100 jobs, one every 100 ms from 5.05 s to 14.95 s (so none falls on a sample).
  const finishes = Array.from({ length: 100 }, (_, i) => 5050 + i * 100).reverse();

  it('times the completions between the trimmed ends, snapped inwards to the samples', () => {
    const w = steadyWindow(finishes, ticks, 2, { trim: 0.1, origin: 1000 });
    // 10 % → 6.05 s, 90 % → 13.95 s: samples 7 s and 13 s; jobs finishing in (7, 13] s: 7.05 … 12.95 = 60.
    expect(w).toEqual({
      startMs: 6000,
      ms: 6000,
      jobs: 60,
      jobsPerSec: 10,
      machineBusy: 0.5,
      coresBusy: 1,
      roleCores: { gateway: 0.05, ingest: 0.25, analysis: 0.5, postgres: 0.1, nats: 0.05, bench: 0.02 },
      pipelineCores: 0.95,
      otherCores: 0.03,
      fallback: false,
    });
  });

  it('starts no earlier than the last upload', () => {
    const w = steadyWindow(finishes, ticks, 2, { trim: 0.1, notBefore: 9500, origin: 0 });
    expect([w?.startMs, w?.ms, w?.jobs, w?.fallback]).toEqual([10_000, 3000, 30, false]);
  });

  it('falls back to the trimmed completions when the uploads ended too late, then to every sample', () => {
    const late = steadyWindow(finishes, ticks, 2, { trim: 0.1, notBefore: 14_000, origin: 0 });
    expect([late?.startMs, late?.ms, late?.fallback]).toEqual([7000, 6000, true]);
    // All jobs within one sample interval: no two samples between the trimmed ends.
    const burst = Array.from({ length: 10 }, (_, i) => 5100 + i * 50);
    const whole = steadyWindow(burst, ticks, 2, { trim: 0.1, origin: 0 });
    expect([whole?.startMs, whole?.ms, whole?.jobs, whole?.jobsPerSec, whole?.fallback]).toEqual([
      0,
      20_000,
      10,
      0.5,
      true,
    ]);
  });

  it('measures nothing without two jobs or two samples', () => {
    expect(steadyWindow([1000], ticks, 2, { trim: 0.1, origin: 0 })).toBeUndefined();
    expect(steadyWindow(finishes, ticks.slice(0, 1), 2, { trim: 0.1, origin: 0 })).toBeUndefined();
  });
});

describe('stubVector', () => {
  it('is a unit vector of 512 that depends on the text only', () => {
    const a = stubVector('the harbour crane');
    expect(a).toHaveLength(512);
    expect(Math.sqrt(a.reduce((sum, x) => sum + x * x, 0))).toBeCloseTo(1, 4);
    expect(stubVector('the harbour crane')).toEqual(a);
    expect(stubVector('the night shift')).not.toEqual(a);
  });
});
