import { JobEvent, MessageIds, topology } from '@quarry/contracts';
import { endingIfAllIndexed } from './job-completion';
import type { DocumentWork } from './types';

const t = topology('qt_completion');
const work: DocumentWork = {
  documentId: '01a24300-0000-7000-8000-0000000000d1',
  tenantId: '01a24300-0000-7000-8000-0000000000aa',
  jobId: '01a24300-0000-7000-8000-000000000001',
  filename: 'a.txt',
  blobKey: 'blobs/a',
  sha256: null,
  traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
  source: 'upload',
  sourceUrl: null,
  claimedContentType: 'text/plain',
  depth: 0,
};

describe('endingIfAllIndexed', () => {
  it('prepares the succeeded ending of a job whose counted documents are all indexed, from the running status', () => {
    const ending = endingIfAllIndexed(t, work, { type: 'ingest', traceId: 'a'.repeat(32), stepTotal: 3 });
    expect(ending).toMatchObject({
      jobId: work.jobId,
      status: 'succeeded',
      fromStatus: 'running',
      error: null,
      progress: { step: 'index', done: 3, total: 3 },
    });
    expect(ending?.outbox).toMatchObject({
      subject: t.eventSubject('completed'),
      msgId: MessageIds.jobEvent(work.jobId, 'completed'),
      headers: { traceparent: work.traceparent },
    });
    expect(JobEvent.parse(ending?.outbox.payload)).toMatchObject({
      jobId: work.jobId,
      tenantId: work.tenantId,
      status: 'succeeded',
      documents: { total: 3, succeeded: 3, failed: 0 },
      traceId: 'a'.repeat(32),
    });
  });

  it('prepares nothing for a step that counted no document: such a job ends by its tally', () => {
    expect(endingIfAllIndexed(t, work, { type: 'ingest', traceId: null, stepTotal: 0 })).toBeUndefined();
  });
});
