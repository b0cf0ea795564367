import type { ClientBase } from 'pg';
import { emptySnapshot, normalizeSql, type ReferentialAction, type SchemaSnapshot } from './schema-snapshot';

const ACTIONS: Record<string, ReferentialAction> = {
  a: 'NO ACTION',
  r: 'RESTRICT',
  c: 'CASCADE',
  n: 'SET NULL',
  d: 'SET DEFAULT',
};

/** Objects an extension installed belong to the extension, not to our migrations. */
const NOT_FROM_EXTENSION = (oid: string, catalog: string): string =>
  `NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '${catalog}'::regclass AND dep.objid = ${oid} AND dep.deptype = 'e')`;

/** Reads the current schema (normally `public`) from pg_catalog into the drift check's shape. */
export async function introspectDatabase(client: ClientBase): Promise<SchemaSnapshot> {
  const snapshot = emptySnapshot();

  const tables = await client.query<{ name: string }>(
    `SELECT c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')
        AND ${NOT_FROM_EXTENSION('c.oid', 'pg_class')}`,
  );
  for (const { name } of tables.rows) snapshot.tables[name] = { columns: {} };

  const columns = await client.query<{
    table: string;
    column: string;
    type: string;
    nullable: boolean;
    default: string | null;
  }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')
        AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`,
  );
  for (const row of columns.rows) {
    const table = snapshot.tables[row.table];
    if (table) table.columns[row.column] = { type: row.type, nullable: row.nullable, default: row.default };
  }

  const enums = await client.query<{ name: string; values: string[] }>(
    `SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS values
       FROM pg_type t
       JOIN pg_namespace n ON n.oid = t.typnamespace
       JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE n.nspname = current_schema() AND ${NOT_FROM_EXTENSION('t.oid', 'pg_type')}
      GROUP BY t.typname`,
  );
  for (const row of enums.rows) snapshot.enums[row.name] = row.values;

  const indexes = await client.query<{
    name: string;
    table: string;
    unique: boolean;
    primary: boolean;
    method: string;
    predicate: string | null;
    columns: string[];
  }>(
    `SELECT i.relname AS name, t.relname AS table, x.indisunique AS unique, x.indisprimary AS primary,
            am.amname AS method, pg_get_expr(x.indpred, x.indrelid) AS predicate,
            array(
              SELECT pg_get_indexdef(x.indexrelid, k, true)
                     || CASE WHEN x.indoption[k - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                FROM generate_series(1, x.indnkeyatts) AS k
               ORDER BY k
            )::text[] AS columns
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_am am ON am.oid = i.relam
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = current_schema() AND ${NOT_FROM_EXTENSION('t.oid', 'pg_class')}`,
  );
  for (const row of indexes.rows) {
    snapshot.indexes[row.name] = {
      table: row.table,
      columns: row.columns,
      unique: row.unique,
      primary: row.primary,
      method: row.method,
      predicate: row.predicate === null ? null : normalizeSql(row.predicate),
    };
  }

  const foreignKeys = await client.query<{
    name: string;
    table: string;
    columns: string[];
    referenced_table: string;
    referenced_columns: string[];
    on_delete: string;
    on_update: string;
  }>(
    `SELECT con.conname AS name, t.relname AS table, rt.relname AS referenced_table,
            array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns,
            array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS referenced_columns,
            con.confdeltype AS on_delete, con.confupdtype AS on_update
       FROM pg_constraint con
       JOIN pg_class t ON t.oid = con.conrelid
       JOIN pg_class rt ON rt.oid = con.confrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE con.contype = 'f' AND n.nspname = current_schema()`,
  );
  for (const row of foreignKeys.rows) {
    snapshot.foreignKeys[row.name] = {
      table: row.table,
      columns: row.columns,
      referencedTable: row.referenced_table,
      referencedColumns: row.referenced_columns,
      onDelete: ACTIONS[row.on_delete] ?? 'NO ACTION',
      onUpdate: ACTIONS[row.on_update] ?? 'NO ACTION',
    };
  }

  const triggers = await client.query<{ name: string }>(
    `SELECT c.relname || '.' || tg.tgname AS name
       FROM pg_trigger tg
       JOIN pg_class c ON c.oid = tg.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT tg.tgisinternal AND n.nspname = current_schema()`,
  );
  snapshot.triggers = triggers.rows.map((r) => r.name).sort();

  const functions = await client.query<{ name: string }>(
    `SELECT DISTINCT p.proname AS name
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = current_schema() AND ${NOT_FROM_EXTENSION('p.oid', 'pg_proc')}`,
  );
  snapshot.functions = functions.rows.map((r) => r.name).sort();

  const extensions = await client.query<{ name: string }>(
    `SELECT extname AS name FROM pg_extension WHERE extname <> 'plpgsql'`,
  );
  snapshot.extensions = extensions.rows.map((r) => r.name).sort();

  return snapshot;
}
