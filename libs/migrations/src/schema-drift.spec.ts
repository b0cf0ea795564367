import { readFileSync } from 'node:fs';
import { HAND_MADE_SCHEMA_EXTRAS } from './hand-made-extras';
import { findPrismaSchemaPath } from './migration-files';
import { parsePrismaSchema, scanSchemaText } from './prisma-datamodel';
import {
  type SchemaExtras,
  type SchemaSnapshot,
  diffSchemas,
  expectedSchemaFromPrisma,
} from './schema-snapshot';

const schema = readFileSync(findPrismaSchemaPath(__dirname), 'utf8');

/** What introspecting a database built exactly from `schema` plus the hand-made extras would give. */
function perfectDatabase(expected: SchemaSnapshot, extras: SchemaExtras): SchemaSnapshot {
  const db = structuredClone(expected);
  db.extensions.push(...(extras.extensions ?? []));
  db.functions.push(...(extras.functions ?? []));
  db.triggers.push(...(extras.triggers ?? []));
  for (const entry of extras.columns ?? []) {
    const [table = '', column = ''] = entry.split('.');
    const columns = db.tables[table]?.columns;
    if (columns) columns[column] = { type: 'text', nullable: true, default: null };
  }
  for (const name of extras.indexes ?? []) {
    db.indexes[name] = {
      table: 'chunks',
      columns: ['(embedding::vector(512))'],
      unique: false,
      primary: false,
      method: 'hnsw',
      predicate: 'embedding_dim = 512',
    };
  }
  return db;
}

function edit(source: string, find: string | RegExp, replacement: string): string {
  const edited = source.replace(find, replacement);
  if (edited === source) throw new Error(`test setup: ${String(find)} not found in schema.prisma`);
  return edited;
}

describe('schema drift check (no database)', () => {
  const expected = expectedSchemaFromPrisma(parsePrismaSchema(schema));
  const database = perfectDatabase(expected, HAND_MADE_SCHEMA_EXTRAS);

  it('reads the schema with the expected tables, Prisma-named indexes and foreign keys', () => {
    expect(Object.keys(expected.tables).sort()).toEqual(
      [
        'analysis_items',
        'api_key_rate_limits',
        'api_keys',
        'chunk_terms',
        'chunks',
        'dead_letters',
        'documents',
        'events',
        'job_events',
        'job_steps',
        'jobs',
        'keyword_lexemes',
        'keyword_stats',
        'outbox',
        'pages',
        'tenants',
        'usage_daily',
        'usage_records',
        'webhook_attempts',
        'webhook_deliveries',
        'webhook_receipts',
        'webhooks',
      ].sort(),
    );
    expect(expected.tables.chunks!.columns.embedding).toEqual({
      type: 'vector',
      nullable: true,
      default: null,
    });
    expect(expected.tables.jobs!.columns.status).toEqual({
      type: 'job_status',
      nullable: false,
      default: "'queued'::job_status",
    });
    expect(expected.tables.outbox!.columns.id!.default).toBe("nextval('outbox_id_seq'::regclass)");
    expect(expected.indexes.jobs_tenant_id_created_at_id_idx!.columns).toEqual([
      'tenant_id',
      'created_at DESC',
      'id DESC',
    ]);
    expect(expected.indexes.outbox_created_at_idx!.predicate).toBe('sent_at is null');
    expect(expected.indexes.jobs_tenant_id_idempotency_key_key!.unique).toBe(true);
    expect(expected.foreignKeys.job_steps_job_id_fkey).toMatchObject({
      onDelete: 'CASCADE',
      onUpdate: 'CASCADE',
    });
    expect(expected.foreignKeys.outbox_tenant_id_fkey).toMatchObject({ onDelete: 'SET NULL' });
    expect(expected.enums.document_status).toEqual([
      'queued',
      'extracting',
      'extracted',
      'indexing',
      'indexed',
      'failed',
      'cancelled',
    ]);
  });

  it('finds no difference between the schema and a database built from it', () => {
    expect(diffSchemas(expected, database, HAND_MADE_SCHEMA_EXTRAS)).toEqual([]);
  });

  it.each<[string, (s: string) => string, RegExp]>([
    [
      'an extra field',
      (s) =>
        edit(
          s,
          '  attempts       Int       @default(0)\n',
          '  attempts       Int       @default(0)\n  priority Int\n',
        ),
      /column jobs\.priority: in schema\.prisma, missing from the database/,
    ],
    [
      'a changed type',
      (s) => edit(s, 'pageNumber    Int    @map("page_number")', 'pageNumber    BigInt @map("page_number")'),
      /column pages\.page_number: type is integer in the database, bigint per schema\.prisma/,
    ],
    [
      'a changed nullability',
      (s) => edit(s, '  filename           String\n', '  filename           String?\n'),
      /column documents\.filename: NOT NULL in the database, nullable per schema\.prisma/,
    ],
    [
      'a changed default',
      (s) => edit(s, 'status     String    @default("queued")', 'status     String    @default("pending")'),
      /column job_steps\.status: default is 'queued'::text in the database, 'pending'::text per schema\.prisma/,
    ],
    [
      'a removed field',
      (s) => edit(s, '  traceparent    String?\n', ''),
      /column jobs\.traceparent: in the database, not in schema\.prisma/,
    ],
    [
      'a removed Unsupported field',
      (s) => edit(s, /\n\s*embedding\s+Unsupported\("vector"\)\?/, ''),
      /column chunks\.embedding: in the database, not in schema\.prisma/,
    ],
    [
      'a new enum value',
      (s) =>
        edit(s, '  cancelled\n\n  @@map("job_status")', '  cancelled\n  paused\n\n  @@map("job_status")'),
      /enum job_status: values are/,
    ],
    [
      'a new index',
      (s) =>
        edit(
          s,
          '  @@index([tenantId])\n  @@map("chunks")',
          '  @@index([tenantId])\n  @@index([embeddingModel])\n  @@map("chunks")',
        ),
      /index chunks_embedding_model_idx on chunks\(embedding_model\): in schema\.prisma, missing/,
    ],
    [
      'a removed index',
      (s) => edit(s, '  @@index([jobId])\n', ''),
      /index documents_job_id_idx on documents\(job_id\): in the database, not in schema\.prisma/,
    ],
    [
      'an index turned unique',
      (s) => edit(s, '@@index([tenantId, sha256])', '@@unique([tenantId, sha256])'),
      /index documents_tenant_id_sha256_key .* missing from the database/,
    ],
    [
      'a changed sort order',
      (s) => edit(s, 'id(sort: Desc)])', 'id])'),
      /index jobs_tenant_id_created_at_id_idx: columns are/,
    ],
    [
      'a dropped partial-index predicate',
      (s) => edit(s, ', where: raw("sent_at IS NULL")', ''),
      /index outbox_created_at_idx: predicate is sent_at is null in the database, null per schema\.prisma/,
    ],
    [
      'a changed onDelete',
      (s) =>
        edit(
          s,
          'document Document @relation(fields: [documentId], references: [id], onDelete: Cascade)\n\n  @@unique([documentId, pageNumber])',
          'document Document @relation(fields: [documentId], references: [id], onDelete: Restrict)\n\n  @@unique([documentId, pageNumber])',
        ),
      /foreign key pages_document_id_fkey: .* ON DELETE CASCADE .* in the database, .* ON DELETE RESTRICT/,
    ],
    [
      'a new model',
      (s) => `${s}\nmodel Gadget {\n  id String @id @db.Uuid\n  @@map("gadgets")\n}\n`,
      /table gadgets: in schema\.prisma, missing from the database/,
    ],
  ])('reports %s', (_what, mutate, problem) => {
    const mutated = expectedSchemaFromPrisma(parsePrismaSchema(mutate(schema)));
    const problems = diffSchemas(mutated, database, HAND_MADE_SCHEMA_EXTRAS);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
  });

  it('reports a hand-made object that is not allow-listed, and an allow-listed one that is missing', () => {
    const withStrayTrigger = structuredClone(database);
    withStrayTrigger.triggers.push('jobs.audit');
    expect(diffSchemas(expected, withStrayTrigger, HAND_MADE_SCHEMA_EXTRAS)).toEqual([
      'trigger jobs.audit: in the database, neither in schema.prisma nor allow-listed',
    ]);

    const withoutHnsw = structuredClone(database);
    delete withoutHnsw.indexes.chunks_embedding_512_hnsw_idx;
    expect(diffSchemas(expected, withoutHnsw, HAND_MADE_SCHEMA_EXTRAS)).toEqual([
      'allow-listed indexes entry chunks_embedding_512_hnsw_idx: missing from the database',
    ]);

    expect(diffSchemas(expected, database, {})).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^index chunks_embedding_512_hnsw_idx .*not in schema\.prisma$/),
        'extension vector: in the database, neither in schema.prisma nor allow-listed',
      ]),
    );
  });

  it('rejects an invalid schema with Prisma’s own validation message', () => {
    expect(() =>
      parsePrismaSchema(
        edit(schema, 'String    @unique @map("key_hash")', 'Strng    @unique @map("key_hash")'),
      ),
    ).toThrow(/invalid Prisma schema \(P1012\):.*Strng/s);
  });

  it('scans what the DMMF leaves out, ignoring comments', () => {
    const extras = scanSchemaText(`
      model A {
        id Int @id
        // v Unsupported("ignored")
        v Unsupported("vector(3)")? @map("vec")
        w Unsupported("tsvector")
        b B @relation(fields: [id], references: [id], map: "a_b_custom_fk")
        @@index([id(sort: Desc), v], map: "a_partial", where: raw("v IS NOT NULL AND note <> \\"x\\""))
      }
    `);
    expect(extras).toEqual({
      unsupportedFields: [
        { model: 'A', field: 'v', column: 'vec', dbType: 'vector(3)', isRequired: false },
        { model: 'A', field: 'w', column: 'w', dbType: 'tsvector', isRequired: true },
      ],
      relationMaps: [{ model: 'A', field: 'b', map: 'a_b_custom_fk' }],
      partialIndexes: [
        { model: 'A', fields: ['id', 'v'], map: 'a_partial', where: 'v IS NOT NULL AND note <> "x"' },
      ],
    });
  });
});
