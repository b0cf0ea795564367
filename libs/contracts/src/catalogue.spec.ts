import { MessageIds, topology } from './catalogue';

describe('topology', () => {
  it('derives stream, subject and bucket names from the namespace', () => {
    const t = topology('quarry');
    expect(t.jobsStream).toBe('QUARRY_JOBS');
    expect(t.commandSubject('ingestDocument')).toBe('quarry.jobs.ingest');
    expect(t.eventSubject('completed')).toBe('quarry.events.job.completed');
    expect(t.blobBucket).toBe('quarry_blobs');
    expect(t.smallBlobBucket).toBe('quarry_small_blobs');
  });

  it('rejects namespaces that would break subject or stream names', () => {
    expect(() => topology('Quarry.x')).toThrow(/invalid namespace/);
    expect(() => topology('')).toThrow(/invalid namespace/);
  });

  it('makes the same message id for the same job step', () => {
    expect(MessageIds.command('ingestDocument', 'j', 'd')).toBe(
      MessageIds.command('ingestDocument', 'j', 'd'),
    );
    expect(MessageIds.command('ingestDocument', 'j', 'd', 1)).not.toBe(
      MessageIds.command('ingestDocument', 'j', 'd'),
    );
  });

  it('puts bulk work on its own subject and consumer, leaving interactive names as they were', () => {
    const t = topology('quarry');
    expect(t.commandSubject('ingestDocument', 'interactive')).toBe('quarry.jobs.ingest');
    expect(t.commandSubject('ingestDocument', 'bulk')).toBe('quarry.jobs.ingest.bulk');
    expect(t.consumerName('indexDocument', 'bulk')).toBe('quarry_index_bulk');
    expect(t.consumerName('indexDocument')).toBe('quarry_index');
  });
});
