import { MessageIds } from '@quarry/contracts';
import { waitFor } from '@quarry/testing';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import {
  GatewayHarness,
  multipartBody,
  type ErrorBody,
  type Part,
  type Reply,
} from '../testing/gateway-harness';

const MAX_BYTES = 2 * 1024 * 1024;
const MAX_FILES = 4;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let h: GatewayHarness;

beforeAll(async () => {
  h = await GatewayHarness.start('uploads', {
    MAX_UPLOAD_BYTES: String(MAX_BYTES),
    MAX_FILES_PER_UPLOAD: String(MAX_FILES),
  });
});
afterAll(async () => {
  await h?.close();
});

interface DocumentRow {
  id: string;
  job_id: string;
  tenant_id: string;
  filename: string;
  claimed_content_type: string | null;
  sha256: string;
  size_bytes: string;
  blob_key: string;
  status: string;
  detected_type: string | null;
}

async function documentRows(jobId: string): Promise<DocumentRow[]> {
  const { rows } = await h.pg.query<DocumentRow>(
    'SELECT * FROM documents WHERE job_id = $1 ORDER BY created_at, id',
    [jobId],
  );
  return rows;
}

/** Counts of every table an upload writes, and the bucket's objects: a rejected upload changes none. */
async function footprint() {
  return {
    jobs: await h.count('jobs'),
    documents: await h.count('documents'),
    outbox: await h.count('outbox'),
    steps: await h.count('job_steps'),
    blobs: (await h.blobNames()).sort(),
  };
}

describe('POST /v1/documents: accepted uploads', () => {
  it('answers 202 with the job and stores job, documents, outbox rows, commands and blobs', async () => {
    const files = [
      { filename: 'notes.txt', content: 'first file\n', contentType: 'text/plain' },
      { filename: 'readme.md', content: '# second\n\nbody', contentType: 'text/markdown' },
      { filename: 'data.bin', content: randomBytes(300_000), contentType: 'application/octet-stream' },
    ];
    const res = await h.upload(files);

    expect(res.status).toBe(202);
    const job = res.body;
    expect(job).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      status: 'queued',
      lane: 'interactive',
      createdAt: expect.any(String) as unknown,
      documents: files.map((f) => ({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        filename: f.filename,
        status: 'queued',
        error: null,
        detectedType: null,
        source: 'upload',
      })),
    });
    expect(res.headers['location']).toBe(`/v1/jobs/${job.id}`);
    expect(res.headers['idempotent-replayed']).toBeUndefined();

    // PostgreSQL: the job with its steps, one row per document with the real hash, one outbox row each.
    const { rows: jobs } = await h.pg.query<{
      tenant_id: string;
      status: string;
      type: string;
      traceparent: string;
    }>('SELECT tenant_id, status, type, traceparent FROM jobs WHERE id = $1', [job.id]);
    expect(jobs).toEqual([
      {
        tenant_id: h.tenantId,
        status: 'queued',
        type: 'ingest',
        traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/) as unknown,
      },
    ]);
    const traceparent = jobs[0]!.traceparent;
    const { rows: steps } = await h.pg.query<{ name: string; total: number }>(
      'SELECT name, total FROM job_steps WHERE job_id = $1 ORDER BY name',
      [job.id],
    );
    expect(steps).toEqual([
      { name: 'index', total: 3 },
      { name: 'ingest', total: 3 },
    ]);

    const docs = await documentRows(job.id);
    expect(docs.map((d) => d.id)).toEqual(job.documents.map((d) => d.id));
    docs.forEach((d, i) => {
      const f = files[i]!;
      expect(d).toMatchObject({
        tenant_id: h.tenantId,
        filename: f.filename,
        claimed_content_type: f.contentType,
        sha256: sha256(f.content),
        size_bytes: String(Buffer.byteLength(f.content)),
        blob_key: `${h.tenantId}/${d.id}`,
        status: 'queued',
        detected_type: null,
      });
    });

    const subject = h.ns.topology.commandSubject('ingestDocument');
    const outbox = await waitFor(
      async () => {
        const { rows } = await h.pg.query<{
          subject: string;
          msg_id: string;
          payload: unknown;
          sent_at: Date | null;
        }>('SELECT subject, msg_id, payload, sent_at FROM outbox WHERE job_id = $1 ORDER BY id', [job.id]);
        return rows.every((r) => r.sent_at !== null) ? rows : undefined;
      },
      { timeoutMs: 5000, description: 'outbox rows marked sent' },
    );
    expect(outbox.map((o) => ({ subject: o.subject, msgId: o.msg_id, payload: o.payload }))).toEqual(
      docs.map((d) => ({
        subject,
        msgId: MessageIds.command('ingestDocument', job.id, d.id),
        payload: {
          v: 1,
          jobId: job.id,
          tenantId: h.tenantId,
          documentId: d.id,
          traceparent,
          lane: 'interactive',
        },
      })),
    );

    // NATS: one ingest command per document on the namespace's subject, deduplicable and traceable.
    const messages = await waitFor(
      async () => {
        const m = await h.ingestCommands(job.id);
        return m.length >= 3 ? m : undefined;
      },
      { timeoutMs: 5000, description: 'three ingest commands in JetStream' },
    );
    expect(messages).toHaveLength(3);
    expect(
      messages.map((m) => ({
        subject: m.subject,
        msgId: m.header?.get('Nats-Msg-Id'),
        traceparent: m.header?.get('traceparent'),
        body: m.json<unknown>(),
      })),
    ).toEqual(
      docs.map((d) => ({
        subject,
        msgId: MessageIds.command('ingestDocument', job.id, d.id),
        traceparent,
        body: {
          v: 1,
          jobId: job.id,
          tenantId: h.tenantId,
          documentId: d.id,
          traceparent,
          lane: 'interactive',
        },
      })),
    );

    // Object store: the exact bytes under tenant/document.
    for (const [i, d] of docs.entries()) {
      const blob = await h.blobBytes(`${h.tenantId}/${d.id}`);
      expect(blob).not.toBeNull();
      expect(Buffer.from(blob!).equals(Buffer.from(files[i]!.content))).toBe(true);
    }

    // Read back through the API.
    const read = await h.request<{ id: string; traceId: string; status: string; documents: unknown[] }>(
      'GET',
      `/v1/jobs/${job.id}`,
    );
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: job.id, status: 'queued', traceId: traceparent.split('-')[1] });
    expect(read.body.documents).toEqual(job.documents);

    const doc = await h.request('GET', `/v1/documents/${docs[2]!.id}`);
    expect(doc.status).toBe(200);
    expect(doc.body).toMatchObject({
      id: docs[2]!.id,
      jobId: job.id,
      filename: 'data.bin',
      status: 'queued',
      sha256: sha256(files[2]!.content),
      sizeBytes: 300_000,
      detectedType: null,
      pageCount: null,
      chunkCount: 0,
      pages: [],
    });
  });

  it('keeps upload order for many small files', async () => {
    const names = ['d.txt', 'a.txt', 'c.txt', 'b.txt'];
    const res = await h.upload(names.map((filename) => ({ filename, content: `content of ${filename}` })));
    expect(res.status).toBe(202);
    expect(res.body.documents.map((d) => d.filename)).toEqual(names);
    expect((await documentRows(res.body.id)).map((r) => r.filename)).toEqual(names);
    const listed = await h.request<{ documents: { filename: string }[] }>('GET', `/v1/jobs/${res.body.id}`);
    expect(listed.body.documents.map((d) => d.filename)).toEqual(names);
  });

  it('streams a file larger than the JSON body limit (1 MiB) and up to exactly MAX_UPLOAD_BYTES', async () => {
    const big = randomBytes(MAX_BYTES);
    const res = await h.upload([{ filename: 'big.bin', content: big }]);
    expect(res.status).toBe(202);
    const [doc] = await documentRows(res.body.id);
    expect(doc).toMatchObject({ sha256: sha256(big), size_bytes: String(MAX_BYTES) });
    const blob = await h.blobBytes(doc!.blob_key);
    expect(sha256(Buffer.from(blob!))).toBe(sha256(big));
  });

  it('ignores plain form fields next to the files', async () => {
    const res = await h.upload([
      { field: 'note', value: 'hello' },
      { filename: 'a.txt', content: 'a' },
    ]);
    expect(res.status).toBe(202);
    expect(res.body.documents.map((d) => d.filename)).toEqual(['a.txt']);
  });

  it('accepts a file whose name claims .pdf but holds text: the type is detected later, from the bytes', async () => {
    const res = await h.upload([
      { filename: 'report.pdf', content: 'just text, no %PDF header', contentType: 'application/pdf' },
    ]);
    expect(res.status).toBe(202);
    const [doc] = await documentRows(res.body.id);
    expect(doc).toMatchObject({
      filename: 'report.pdf',
      claimed_content_type: 'application/pdf',
      detected_type: null,
    });
  });

  it('stores file names sanitised: last path segment only, no control characters, at most 255 characters', async () => {
    const cases: [string, string][] = [
      ['../../etc/passwd', 'passwd'],
      ['C:\\evil\\x.txt', 'x.txt'],
      ['a\u0001b\u001bc\u007fd\u0085e.txt', 'abcde.txt'],
      ['invoice\u202efdp.exe', 'invoicefdp.exe'],
      ['', 'upload'],
    ];
    const first = await h.upload(
      cases.slice(0, MAX_FILES).map(([filename], i) => ({ filename, content: `x${i}` })),
    );
    expect(first.status).toBe(202);
    const long = 'n'.repeat(996) + '.txt';
    const emoji = '\u{1F600}'.repeat(300);
    const second = await h.upload([
      { filename: cases[4]![0], content: 'y' },
      { filename: long, content: 'z' },
      { filename: emoji, content: 'e' },
      { filename: '..', content: 'w' },
    ]);
    expect(second.status).toBe(202);

    const stored = [...(await documentRows(first.body.id)), ...(await documentRows(second.body.id))].map(
      (d) => d.filename,
    );
    expect(stored.slice(0, 4)).toEqual(cases.slice(0, 4).map(([, want]) => want));
    expect(stored[4]).toBe('upload');
    // Cut to 255 characters in the stem: the extension stays.
    expect(stored[5]).toBe(`${'n'.repeat(251)}.txt`);
    // 127 whole emoji (254 UTF-16 units): the cut never leaves half a surrogate pair (stored as U+FFFD).
    expect(stored[6]).toBe('\u{1F600}'.repeat(127));
    expect(stored[7]).toBe('upload');
    for (const name of stored) {
      expect(name.length).toBeLessThanOrEqual(255);
      // eslint-disable-next-line no-control-regex -- asserting control characters are gone
      expect(name).not.toMatch(/[/\\\u0000-\u001f\u007f\ufffd]/);
    }
    // The answer shows the same names the database holds.
    expect([...first.body.documents, ...second.body.documents].map((d) => d.filename)).toEqual(stored);
  });
});

describe('POST /v1/documents: rejected uploads leave nothing behind', () => {
  const valid: Part = { filename: 'ok.txt', content: 'a valid file that is stored first' };
  const cases: {
    name: string;
    status: number;
    code: string;
    send: () => Promise<Reply<ErrorBody>>;
  }[] = [
    {
      name: 'a JSON body that is not a URL list',
      status: 400,
      code: 'validation_failed',
      send: () => h.request<ErrorBody>('POST', '/v1/documents', { payload: { files: ['a.txt'] } }),
    },
    {
      name: 'a plain-text body',
      status: 415,
      code: 'not_multipart',
      send: () =>
        h.request<ErrorBody>('POST', '/v1/documents', {
          payload: 'https://example.com/a.pdf',
          headers: { 'content-type': 'text/plain' },
        }),
    },
    {
      name: 'a raw binary body',
      status: 415,
      code: 'unsupported_media_type',
      send: () =>
        h.request<ErrorBody>('POST', '/v1/documents', {
          payload: Buffer.from('%PDF-1.4'),
          headers: { 'content-type': 'application/octet-stream' },
        }),
    },
    {
      name: 'multipart without a boundary',
      status: 400,
      code: 'validation_failed',
      send: () =>
        h.request<ErrorBody>('POST', '/v1/documents', {
          payload: 'x',
          headers: { 'content-type': 'multipart/form-data' },
        }),
    },
    {
      name: 'multipart with no parts at all',
      status: 400,
      code: 'no_files',
      send: () => h.upload<ErrorBody>([]),
    },
    {
      name: 'multipart with only form fields',
      status: 400,
      code: 'no_files',
      send: () => h.upload<ErrorBody>([{ field: 'files', value: 'not a file' }]),
    },
    {
      name: 'a file under another field name (after a valid file)',
      status: 400,
      code: 'validation_failed',
      send: () => h.upload<ErrorBody>([valid, { field: 'file', filename: 'b.txt', content: 'b' }]),
    },
    {
      name: 'an empty file (after a valid file)',
      status: 400,
      code: 'empty_file',
      send: () => h.upload<ErrorBody>([valid, { filename: 'empty.txt', content: '' }]),
    },
    {
      name: 'a file one byte over MAX_UPLOAD_BYTES (after a valid file)',
      status: 413,
      code: 'payload_too_large',
      send: () =>
        h.upload<ErrorBody>([valid, { filename: 'huge.bin', content: Buffer.alloc(MAX_BYTES + 1, 7) }]),
    },
    {
      name: 'more files than MAX_FILES_PER_UPLOAD',
      status: 400,
      code: 'too_many_files',
      send: () =>
        h.upload<ErrorBody>(
          Array.from({ length: MAX_FILES + 1 }, (_, i) => ({ filename: `f${i}.txt`, content: `f${i}` })),
        ),
    },
    {
      name: 'a body cut off in the middle of a file',
      status: 400,
      code: 'validation_failed',
      send: () => {
        const { payload, headers } = multipartBody([
          valid,
          { filename: 'cut.txt', content: 'z'.repeat(5000) },
        ]);
        return h.request<ErrorBody>('POST', '/v1/documents', {
          payload: payload.subarray(0, payload.length - 2000),
          headers,
        });
      },
    },
    {
      name: 'too many form fields',
      status: 400,
      code: 'validation_failed',
      send: () =>
        h.upload<ErrorBody>([
          ...Array.from({ length: 30 }, (_, i) => ({ field: `f${i}`, value: 'v' })),
          valid,
        ]),
    },
  ];

  it.each(cases)('$name → $status $code', async ({ status, code, send }) => {
    const before = await footprint();
    const res = await send();
    expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
    expect(typeof res.body.message).toBe('string');
    expect(res.body).not.toHaveProperty('errorId');
    expect(await footprint()).toEqual(before);
  });

  it('cleans up when the client disconnects in the middle of a file', async () => {
    const port = await h.listen();
    const before = await footprint();
    const messagesBefore = await h.objectStoreMessages();
    // Larger than one message can hold (BLOB_INLINE_MAX_BYTES defaults to max_payload less 4 KiB), so the part
    // sent before the disconnect is already streaming into the object store.
    const { payload, headers } = multipartBody([
      { filename: 'gone.bin', content: randomBytes(3 * 1024 * 1024) },
    ]);
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /v1/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${h.apiKey}\r\n` +
        `Content-Type: ${headers['content-type']}\r\nContent-Length: ${payload.length}\r\n\r\n`,
    );
    socket.write(payload.subarray(0, 1536 * 1024));
    // The gateway has begun streaming the file into the object store...
    await waitFor(async () => (await h.objectStoreMessages()) > messagesBefore, {
      description: 'first chunks of the upload in the object store',
    });
    socket.destroy();
    // ...and once the client is gone, the partial object's chunks are purged and nothing else stays.
    await waitFor(async () => (await h.objectStoreMessages()) === messagesBefore, {
      timeoutMs: 5000,
      description: 'the partial upload purged from the object store',
    });
    expect(await footprint()).toEqual(before);
  });

  it('rejects a request without an API key before reading the body', async () => {
    const before = await footprint();
    const res = await h.upload([valid], { apiKey: null });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'unauthorized' });
    expect(await footprint()).toEqual(before);
  });
});

describe('POST /v1/documents: Idempotency-Key', () => {
  it('answers a repeated key with the same job, marked as replayed, and deletes the duplicate blobs', async () => {
    const key = `order-${randomBytes(4).toString('hex')}`;
    const first = await h.upload(
      [
        { filename: 'one.txt', content: 'one' },
        { filename: 'two.txt', content: 'two' },
      ],
      { headers: { 'idempotency-key': key } },
    );
    expect(first.status).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    await waitFor(async () => (await h.ingestCommands(first.body.id)).length === 2, {
      description: 'first job published',
    });
    const before = await footprint();

    const again = await h.upload([{ filename: 'other.txt', content: 'different bytes' }], {
      headers: { 'idempotency-key': key },
    });
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['location']).toBe(`/v1/jobs/${first.body.id}`);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.documents).toEqual(first.body.documents);

    const { rows } = await h.pg.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2',
      [h.tenantId, key],
    );
    expect(rows[0]!.n).toBe(1);
    // Nothing new anywhere: the duplicate's blob was deleted, no row or command was added.
    expect(await footprint()).toEqual(before);
    expect(await h.ingestCommands(first.body.id)).toHaveLength(2);
  });

  it('creates exactly one job when two requests with the same key race', async () => {
    const key = `race-${randomBytes(4).toString('hex')}`;
    const before = await footprint();
    const [a, b] = await Promise.all(
      ['a', 'b'].map((n) =>
        h.upload([{ filename: `${n}.txt`, content: `racer ${n}` }], { headers: { 'idempotency-key': key } }),
      ),
    );
    expect([a!.status, b!.status]).toEqual([202, 202]);
    expect(a!.body.id).toBe(b!.body.id);
    expect([a!.headers['idempotent-replayed'], b!.headers['idempotent-replayed']].filter(Boolean)).toEqual([
      'true',
    ]);
    const after = await footprint();
    expect(after.jobs).toBe(before.jobs + 1);
    expect(after.documents).toBe(before.documents + 1);
    // Only the winner's blob stays.
    const winnerDoc = a!.body.documents[0]!.id;
    expect(after.blobs).toEqual([...before.blobs, `${h.tenantId}/${winnerDoc}`].sort());
  });

  it.each([
    ['contains a space', 'has space'],
    ['is longer than 200 characters', 'k'.repeat(201)],
    ['is empty', ''],
  ])('rejects a key that %s with 400 validation_failed and stores nothing', async (_why, key) => {
    const before = await footprint();
    const res = await h.upload([{ filename: 'a.txt', content: 'a' }], {
      headers: { 'idempotency-key': key },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed' });
    expect(await footprint()).toEqual(before);
  });

  it('accepts a key of exactly 200 printable characters', async () => {
    const res = await h.upload([{ filename: 'a.txt', content: 'a' }], {
      headers: { 'idempotency-key': `${randomBytes(4).toString('hex')}${'k'.repeat(192)}` },
    });
    expect(res.status).toBe(202);
  });
});

describe('GET /v1/documents/:id', () => {
  it('answers 404 not_found for an unknown id and 400 validation_failed for a malformed one', async () => {
    const unknown = await h.request('GET', '/v1/documents/0194f3b0-0000-7000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'not_found' });
    const bad = await h.request('GET', '/v1/documents/not-a-uuid');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'validation_failed' });
  });
});
