import { waitFor } from '@quarry/testing';
import { QuarryStack } from './stack';

/**
 * Interactive uploads are not starved by bulk work: a bulk batch and an interactive upload travel in
 * separate lanes (subjects, durable consumers, worker capacity), so the interactive job finishes while
 * the bulk batch is still being worked through.
 */
describe('lanes: interactive work is not starved by a bulk batch', () => {
  let stack: QuarryStack;

  beforeAll(async () => {
    stack = await QuarryStack.start('lanes', {
      MAX_FILES_PER_UPLOAD: '200',
      BULK_THRESHOLD_DOCUMENTS: '10',
      INGEST_CONCURRENCY: '1',
      ANALYSIS_CONCURRENCY: '1',
      INGEST_BULK_CONCURRENCY: '1',
      ANALYSIS_BULK_CONCURRENCY: '1',
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('finishes an interactive upload while a 120-document bulk batch is still running, then the batch too', async () => {
    const files = Array.from({ length: 120 }, (_, i) => ({
      name: `bulk-${i}.txt`,
      bytes: new TextEncoder().encode(
        `Bulk record ${i}: warehouse shelf ${i % 17}, aisle ${i % 5}, counted on Monday.\n`,
      ),
      type: 'text/plain',
    }));
    const bulk = await stack.upload(files);
    expect(bulk.status).toBe(202);
    expect((bulk.body as unknown as { lane: string }).lane).toBe('bulk');
    await waitFor(async () => (await stack.job(bulk.body.id)).status === 'running', {
      description: 'bulk running',
    });

    const interactive = await stack.upload([
      { name: 'urgent.txt', bytes: new TextEncoder().encode('Urgent: the board meeting moved to 9am.\n') },
    ]);
    expect(interactive.status).toBe(202);
    expect((interactive.body as unknown as { lane: string }).lane).toBe('interactive');
    const done = await stack.waitForTerminal(interactive.body.id, 60_000);
    expect(done.status).toBe('succeeded');

    const bulkNow = await stack.job(bulk.body.id);
    expect(bulkNow.status).toBe('running');
    const openBulkDocs = bulkNow.documents.filter((d) => d.status !== 'indexed').length;
    expect(openBulkDocs).toBeGreaterThan(0);

    const bulkDone = await stack.waitForTerminal(bulk.body.id, 240_000);
    expect(bulkDone.status).toBe('succeeded');
    expect(bulkDone.documents).toHaveLength(120);
  });

  it('lets a client choose the lane, and rejects an unknown one', async () => {
    const asBulk = await stack.upload(
      [{ name: 'a.txt', bytes: new TextEncoder().encode('small but bulk\n') }],
      {
        'quarry-lane': 'bulk',
      },
    );
    expect(asBulk.status).toBe(202);
    expect((asBulk.body as unknown as { lane: string }).lane).toBe('bulk');
    const bad = await stack.upload([{ name: 'a.txt', bytes: new TextEncoder().encode('x\n') }], {
      'quarry-lane': 'urgent',
    });
    expect(bad.status).toBe(400);
    expect((bad.body as unknown as { code: string }).code).toBe('validation_failed');
  });
});
