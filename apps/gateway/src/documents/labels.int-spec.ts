import { GatewayHarness, type ErrorBody } from '../testing/gateway-harness';

// Metadata and tags a client gives its documents: at upload (multipart fields), at URL ingest (JSON), and later by
// PATCH; returned by GET and stored for search filters.

let h: GatewayHarness;

beforeAll(async () => {
  h = await GatewayHarness.start('labels');
});
afterAll(async () => {
  await h?.close();
});

interface DocumentBody {
  id: string;
  metadata: Record<string, unknown>;
  tags: string[];
  language: string | null;
}

const getDocument = (id: string) => h.request<DocumentBody>('GET', `/v1/documents/${id}`);
const patch = (id: string, payload: unknown, apiKey?: string) =>
  h.request<DocumentBody & ErrorBody>('PATCH', `/v1/documents/${id}`, {
    payload: payload as Record<string, unknown>,
    ...(apiKey ? { apiKey } : {}),
  });

async function uploadOne(fields: { field: string; value: string }[]): Promise<string> {
  const res = await h.upload([...fields, { filename: 'a.txt', content: 'alpha' }]);
  expect(res.status).toBe(202);
  const id = res.body.documents[0]?.id;
  if (!id) throw new Error('no document');
  return id;
}

describe('metadata and tags at upload', () => {
  it('stores the multipart fields on every file of the request, whichever side of the files they come', async () => {
    const res = await h.upload([
      { filename: 'a.txt', content: 'alpha' },
      { field: 'metadata', value: JSON.stringify({ customer: 'acme', year: 2026, nested: { a: 1 } }) },
      { filename: 'b.txt', content: 'beta' },
      { field: 'tags', value: '["finance", "q1", "finance"]' },
    ]);
    expect(res.status).toBe(202);
    for (const d of res.body.documents) {
      const doc = await getDocument(d.id);
      expect(doc.body).toMatchObject({
        metadata: { customer: 'acme', year: 2026, nested: { a: 1 } },
        tags: ['finance', 'q1'],
        language: null,
      });
    }
  });

  it('takes tags separated by commas too', async () => {
    const id = await uploadOne([{ field: 'tags', value: ' invoices , 2026 ,, ' }]);
    expect((await getDocument(id)).body.tags).toEqual(['invoices', '2026']);
  });

  it('stores none when none are given', async () => {
    const id = await uploadOne([]);
    expect((await getDocument(id)).body).toMatchObject({ metadata: {}, tags: [] });
  });

  it.each([
    ['metadata that is not JSON', [{ field: 'metadata', value: '{customer: acme' }]],
    ['metadata that is an array', [{ field: 'metadata', value: '[1,2]' }]],
    ['metadata over 16 KiB', [{ field: 'metadata', value: JSON.stringify({ big: 'x'.repeat(17_000) }) }]],
    ['tags that are not strings', [{ field: 'tags', value: '[1, 2]' }]],
    ['a tag over 100 characters', [{ field: 'tags', value: 't'.repeat(101) }]],
    ['51 tags', [{ field: 'tags', value: JSON.stringify(Array.from({ length: 51 }, (_, i) => `t${i}`)) }]],
  ])('answers 400 validation_failed for %s and keeps nothing', async (_name, fields) => {
    const before = await h.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM documents');
    const res = await h.upload([{ filename: 'a.txt', content: 'alpha' }, ...fields]);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed' });
    const after = await h.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM documents');
    expect(after.rows[0]?.n).toBe(before.rows[0]?.n);
  });

  it('stores metadata and tags given with URLs', async () => {
    const res = await h.request<{ documents: { id: string }[] }>('POST', '/v1/documents', {
      payload: { urls: ['https://example.org/a'], metadata: { source: 'web' }, tags: ['web'] },
    });
    expect(res.status).toBe(202);
    const doc = await getDocument(res.body.documents[0]?.id ?? '');
    expect(doc.body).toMatchObject({ metadata: { source: 'web' }, tags: ['web'] });
  });
});

describe('PATCH /v1/documents/:id', () => {
  it('merges metadata (null removes a key) and replaces tags, and GET shows the result', async () => {
    const id = await uploadOne([
      {
        field: 'metadata',
        value: JSON.stringify({ customer: 'acme', region: 'eu', nested: { a: 1, b: 2 } }),
      },
      { field: 'tags', value: 'old' },
    ]);
    const res = await patch(id, {
      metadata: { region: null, status: 'paid', nested: { b: 3 } },
      tags: ['new', 'x'],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id,
      metadata: { customer: 'acme', status: 'paid', nested: { a: 1, b: 3 } },
      tags: ['new', 'x'],
    });
    expect((await getDocument(id)).body).toMatchObject({
      metadata: { customer: 'acme', status: 'paid', nested: { a: 1, b: 3 } },
      tags: ['new', 'x'],
    });
    const tagsOnly = await patch(id, { tags: [] });
    expect(tagsOnly.body).toMatchObject({ metadata: { customer: 'acme' }, tags: [] });
  });

  it('applies two concurrent patches one after the other', async () => {
    const id = await uploadOne([]);
    await Promise.all([patch(id, { metadata: { a: 1 } }), patch(id, { metadata: { b: 2 } })]);
    expect((await getDocument(id)).body.metadata).toEqual({ a: 1, b: 2 });
  });

  it('answers 404 for another tenant’s document and 400 for bad input', async () => {
    const id = await uploadOne([]);
    const other = await h.createTenant('labels-other');
    expect((await patch(id, { tags: ['x'] }, other.apiKey)).status).toBe(404);
    for (const bad of [
      {},
      { tags: 'x' },
      { metadata: [1] },
      { other: 1 },
      { metadata: { big: 'x'.repeat(17_000) } },
    ]) {
      const res = await patch(id, bad);
      expect([JSON.stringify(bad).slice(0, 40), res.status, res.body.code]).toEqual([
        JSON.stringify(bad).slice(0, 40),
        400,
        'validation_failed',
      ]);
    }
    expect((await patch('not-a-uuid', { tags: [] })).status).toBe(400);
    expect((await getDocument(id)).body).toMatchObject({ metadata: {}, tags: [] });
  });
});
