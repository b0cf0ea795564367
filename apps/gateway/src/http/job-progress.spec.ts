import type { DocumentStatus } from '@quarry/contracts';
import { jobProgress } from './job-progress';

const job = (statuses: DocumentStatus[], progress: Record<string, unknown> = {}, type = 'ingest') => ({
  type,
  status: 'running' as const,
  progress,
  documents: statuses.map((status) => ({ status })),
});

describe('jobProgress', () => {
  it('adds up every document: the earliest step any document is still in, and the files finished', () => {
    expect(
      jobProgress(job(['indexed', 'extracting', 'indexing', 'queued'], { step: 'index', done: 9, total: 9 })),
    ).toEqual({ step: 'ingest', done: 2, total: 4, processedFiles: 1, totalFiles: 4 });
    expect(jobProgress(job(['indexed', 'failed', 'extracted', 'indexing']))).toEqual({
      step: 'index',
      done: 2,
      total: 4,
      processedFiles: 2,
      totalFiles: 4,
    });
  });

  it('keeps what the worker last said as details', () => {
    expect(
      jobProgress(job(['extracting'], { step: 'ingest', done: 3, total: 10, message: 'a.pdf: page 3/10' })),
    ).toEqual({
      step: 'ingest',
      done: 0,
      total: 1,
      processedFiles: 0,
      totalFiles: 1,
      details: 'a.pdf: page 3/10',
    });
  });

  it('leaves an analysis job’s own progress as it is', () => {
    const progress = { step: 'scoring', done: 3, total: 50, details: 'paper.pdf' };
    expect(jobProgress(job([], progress, 'analyze'))).toBe(progress);
  });

  it('counts a job without documents as nothing to do', () => {
    expect(jobProgress(job([]))).toEqual({
      step: 'index',
      done: 0,
      total: 0,
      processedFiles: 0,
      totalFiles: 0,
    });
  });
});
