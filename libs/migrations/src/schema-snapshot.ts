import type { DmmfField, DmmfModel, ParsedPrismaSchema } from './prisma-datamodel';

/**
 * One shape for both sides of the drift check: what `schema.prisma` implies PostgreSQL should hold
 * (expectedSchemaFromPrisma) and what the migrated database holds (introspectDatabase).
 */
export interface SchemaSnapshot {
  /** Tables (and views) by name. */
  tables: Record<string, { columns: Record<string, ColumnSnapshot> }>;
  /** Enum types by name, values in declaration order. */
  enums: Record<string, string[]>;
  /** Indexes by name, including those behind primary keys and unique constraints. */
  indexes: Record<string, IndexSnapshot>;
  foreignKeys: Record<string, ForeignKeySnapshot>;
  /** `<table>.<trigger>` (user triggers only). */
  triggers: string[];
  /** Functions in the schema that no extension owns. */
  functions: string[];
  /** Installed extensions, plpgsql aside. */
  extensions: string[];
}

export interface ColumnSnapshot {
  /** As PostgreSQL's format_type() prints it, e.g. `timestamp(6) with time zone`. */
  type: string;
  nullable: boolean;
  /**
   * As pg_get_expr() prints the default, null for none, or {@link ANY_DEFAULT} where the schema only
   * says "the database fills it" without saying how.
   */
  default: string | null;
}

export const ANY_DEFAULT = '<any default>';

export interface IndexSnapshot {
  table: string;
  /** Column names (or expressions) in order, with ` DESC` where descending. */
  columns: string[];
  unique: boolean;
  primary: boolean;
  method: string;
  /** The WHERE of a partial index, normalised (see {@link normalizeSql}); null for a full index. */
  predicate: string | null;
}

export interface ForeignKeySnapshot {
  table: string;
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
}

export type ReferentialAction = 'CASCADE' | 'RESTRICT' | 'NO ACTION' | 'SET NULL' | 'SET DEFAULT';

/** Objects the migrations create on purpose although Prisma cannot express them. */
export interface SchemaExtras {
  extensions?: string[];
  indexes?: string[];
  functions?: string[];
  /** `<table>.<trigger>` */
  triggers?: string[];
  tables?: string[];
  /** `<table>.<column>` */
  columns?: string[];
}

/** Prisma's history table, which every migrated database has and no schema declares. */
const PRISMA_MIGRATIONS_TABLE = '_prisma_migrations';

/** PostgreSQL's identifier limit, which Prisma respects when it derives constraint names. */
const MAX_IDENTIFIER_LENGTH = 63;

/** Lower-cased, whitespace collapsed, outer parentheses removed: `(sent_at IS NULL)` = `sent_at is null`. */
export function normalizeSql(sql: string): string {
  let s = sql.trim().replace(/\s+/g, ' ').toLowerCase();
  while (s.startsWith('(') && s.endsWith(')') && balanced(s.slice(1, -1))) s = s.slice(1, -1).trim();
  return s;
}

function balanced(s: string): boolean {
  let depth = 0;
  for (const c of s) {
    if (c === '(') depth++;
    if (c === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

/** Prisma's default constraint and index names (psl ConstraintNames), truncated as Prisma truncates. */
function prismaName(table: string, columns: string[], suffix: '_key' | '_idx' | '_fkey'): string {
  const joined = `${table}_${columns.join('_')}`;
  return joined.slice(0, MAX_IDENTIFIER_LENGTH - suffix.length) + suffix;
}

/** A snapshot with nothing in it, which the introspection and the expectation then fill. */
export function emptySnapshot(): SchemaSnapshot {
  return { tables: {}, enums: {}, indexes: {}, foreignKeys: {}, triggers: [], functions: [], extensions: [] };
}

/** What PostgreSQL should hold, per schema.prisma, following the SQL `prisma migrate dev` generates. */
export function expectedSchemaFromPrisma(parsed: ParsedPrismaSchema): SchemaSnapshot {
  const { datamodel, extras } = parsed;
  const snapshot = emptySnapshot();
  const enumDbNames = new Map(datamodel.enums.map((e) => [e.name, e.dbName ?? e.name]));
  const enumValueDbNames = new Map(
    datamodel.enums.map((e) => [e.name, new Map(e.values.map((v) => [v.name, v.dbName ?? v.name]))]),
  );
  for (const e of datamodel.enums)
    snapshot.enums[e.dbName ?? e.name] = e.values.map((v) => v.dbName ?? v.name);

  const models = new Map(datamodel.models.map((m) => [m.name, m]));
  const tableOf = (model: DmmfModel): string => model.dbName ?? model.name;
  const columnOf = (model: DmmfModel, fieldName: string): string => {
    const field = model.fields.find((f) => f.name === fieldName);
    return field ? (field.dbName ?? field.name) : fieldName;
  };

  for (const model of datamodel.models) {
    const table = tableOf(model);
    const columns: Record<string, ColumnSnapshot> = {};
    for (const field of model.fields) {
      if (field.kind === 'object') continue;
      const type = columnType(field, enumDbNames);
      columns[field.dbName ?? field.name] = {
        type,
        nullable: !field.isRequired,
        default: columnDefault(field, table, type, enumValueDbNames.get(field.type)),
      };
    }
    for (const u of extras.unsupportedFields.filter((f) => f.model === model.name)) {
      columns[u.column] = { type: u.dbType.trim().toLowerCase(), nullable: !u.isRequired, default: null };
    }
    snapshot.tables[table] = { columns };

    for (const field of model.fields) {
      if (field.kind !== 'object' || !field.relationFromFields?.length) continue;
      const target = models.get(field.type);
      if (!target) continue;
      const fkColumns = field.relationFromFields.map((f) => columnOf(model, f));
      const mapped = extras.relationMaps.find((r) => r.model === model.name && r.field === field.name)?.map;
      snapshot.foreignKeys[mapped ?? prismaName(table, fkColumns, '_fkey')] = {
        table,
        columns: fkColumns,
        referencedTable: tableOf(target),
        referencedColumns: (field.relationToFields ?? []).map((f) => columnOf(target, f)),
        // Prisma's defaults: Restrict for a required relation, SetNull for an optional one; Cascade on update.
        onDelete: referentialAction(field.relationOnDelete ?? (field.isRequired ? 'Restrict' : 'SetNull')),
        onUpdate: referentialAction(field.relationOnUpdate ?? 'Cascade'),
      };
    }
  }

  for (const index of datamodel.indexes) {
    const model = models.get(index.model);
    if (!model) continue;
    const table = tableOf(model);
    const fieldNames = index.fields.map((f) => f.name);
    const columnNames = fieldNames.map((f) => columnOf(model, f));
    const name =
      index.dbName ??
      (index.type === 'id'
        ? `${table}_pkey`
        : prismaName(table, columnNames, index.type === 'unique' ? '_key' : '_idx'));
    const partial = extras.partialIndexes.find(
      (p) =>
        p.model === model.name &&
        (p.map !== undefined ? p.map === name : p.fields.join(',') === fieldNames.join(',')),
    );
    snapshot.indexes[name] = {
      table,
      columns: index.fields.map((f, i) => `${columnNames[i]}${f.sortOrder === 'desc' ? ' DESC' : ''}`),
      unique: index.type === 'id' || index.type === 'unique',
      primary: index.type === 'id',
      method: (index.algorithm ?? 'btree').toLowerCase(),
      predicate: partial && index.type === 'normal' ? normalizeSql(partial.where) : null,
    };
  }
  return snapshot;
}

function referentialAction(prismaAction: string): ReferentialAction {
  switch (prismaAction) {
    case 'Cascade':
      return 'CASCADE';
    case 'Restrict':
      return 'RESTRICT';
    case 'NoAction':
      return 'NO ACTION';
    case 'SetNull':
      return 'SET NULL';
    case 'SetDefault':
      return 'SET DEFAULT';
    default:
      throw new Error(`unknown referential action ${prismaAction}`);
  }
}

/** format_type() of the column `prisma migrate dev` would create for this field. */
function columnType(field: DmmfField, enumDbNames: Map<string, string>): string {
  const base = field.kind === 'enum' ? (enumDbNames.get(field.type) ?? field.type) : scalarType(field);
  return field.isList ? `${base}[]` : base;
}

function scalarType(field: DmmfField): string {
  const [native, args = []] = field.nativeType ?? [undefined, []];
  const withArgs = (name: string): string => (args.length ? `${name}(${args.join(',')})` : name);
  if (native !== undefined) {
    switch (native) {
      case 'Uuid':
        return 'uuid';
      case 'Text':
        return 'text';
      case 'Char':
        return withArgs('character');
      case 'VarChar':
        return withArgs('character varying');
      case 'Timestamptz':
        return `timestamp(${args[0] ?? '6'}) with time zone`;
      case 'Timestamp':
        return `timestamp(${args[0] ?? '6'}) without time zone`;
      case 'Time':
        return `time(${args[0] ?? '6'}) without time zone`;
      case 'Timetz':
        return `time(${args[0] ?? '6'}) with time zone`;
      case 'Date':
        return 'date';
      case 'SmallInt':
        return 'smallint';
      case 'Integer':
        return 'integer';
      case 'BigInt':
        return 'bigint';
      case 'Real':
        return 'real';
      case 'DoublePrecision':
        return 'double precision';
      case 'Decimal':
        return withArgs('numeric');
      case 'Boolean':
        return 'boolean';
      case 'Json':
        return 'json';
      case 'JsonB':
        return 'jsonb';
      case 'ByteA':
        return 'bytea';
      default:
        return withArgs(native.toLowerCase());
    }
  }
  switch (field.type) {
    case 'String':
      return 'text';
    case 'Int':
      return 'integer';
    case 'BigInt':
      return 'bigint';
    case 'Float':
      return 'double precision';
    case 'Decimal':
      return 'numeric(65,30)';
    case 'Boolean':
      return 'boolean';
    case 'DateTime':
      return 'timestamp(3) without time zone';
    case 'Json':
      return 'jsonb';
    case 'Bytes':
      return 'bytea';
    default:
      return `unknown Prisma type ${field.type}`;
  }
}

/** pg_get_expr() of the default `prisma migrate dev` would create, null when it creates none. */
function columnDefault(
  field: DmmfField,
  table: string,
  type: string,
  enumValues: Map<string, string> | undefined,
): string | null {
  const value = field.default;
  if (!field.hasDefaultValue || value === undefined) return null;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    switch (value.name) {
      case 'now':
        return 'CURRENT_TIMESTAMP';
      case 'autoincrement':
        return `nextval('${table}_${field.dbName ?? field.name}_seq'::regclass)`;
      case 'dbgenerated':
        return typeof value.args[0] === 'string' ? value.args[0] : ANY_DEFAULT;
      case 'uuid':
      case 'cuid':
      case 'nanoid':
      case 'ulid':
        // Generated by the client, not the database.
        return null;
      default:
        return ANY_DEFAULT;
    }
  }
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    return value < 0 ? `'${value}'::${type}` : String(value);
  }
  if (typeof value === 'string') {
    const literal = `'${(field.kind === 'enum' ? (enumValues?.get(value) ?? value) : value).replace(/'/g, "''")}'`;
    if (type.startsWith('character varying')) return `${literal}::character varying`;
    if (type.startsWith('character(')) return `${literal}::bpchar`;
    // PostgreSQL rewrites date and time literals; comparing their text would be brittle.
    if (type.startsWith('timestamp') || type.startsWith('time') || type === 'date') return ANY_DEFAULT;
    return `${literal}::${type}`;
  }
  return ANY_DEFAULT;
}

/**
 * Every way the database differs from the schema, one readable line each; empty when they agree.
 * Objects listed in `extras` may exist without a schema counterpart, and must exist.
 */
export function diffSchemas(
  expected: SchemaSnapshot,
  actual: SchemaSnapshot,
  extras: SchemaExtras = {},
): string[] {
  const problems: string[] = [];
  const allowed = (list: string[] | undefined, name: string): boolean => list?.includes(name) ?? false;

  for (const [table, { columns }] of Object.entries(expected.tables)) {
    const actualTable = actual.tables[table];
    if (!actualTable) {
      problems.push(`table ${table}: in schema.prisma, missing from the database`);
      continue;
    }
    for (const [column, want] of Object.entries(columns)) {
      const have = actualTable.columns[column];
      if (!have) {
        problems.push(`column ${table}.${column}: in schema.prisma, missing from the database`);
        continue;
      }
      if (have.type !== want.type) {
        problems.push(
          `column ${table}.${column}: type is ${have.type} in the database, ${want.type} per schema.prisma`,
        );
      }
      if (have.nullable !== want.nullable) {
        problems.push(
          `column ${table}.${column}: ${have.nullable ? 'nullable' : 'NOT NULL'} in the database, ` +
            `${want.nullable ? 'nullable' : 'NOT NULL'} per schema.prisma`,
        );
      }
      if (!defaultsAgree(want.default, have.default)) {
        problems.push(
          `column ${table}.${column}: default is ${have.default ?? 'none'} in the database, ` +
            `${want.default ?? 'none'} per schema.prisma`,
        );
      }
    }
    for (const column of Object.keys(actualTable.columns)) {
      if (!columns[column] && !allowed(extras.columns, `${table}.${column}`)) {
        problems.push(`column ${table}.${column}: in the database, not in schema.prisma`);
      }
    }
  }
  for (const table of Object.keys(actual.tables)) {
    if (!expected.tables[table] && table !== PRISMA_MIGRATIONS_TABLE && !allowed(extras.tables, table)) {
      problems.push(`table ${table}: in the database, not in schema.prisma`);
    }
  }

  for (const [name, values] of Object.entries(expected.enums)) {
    const have = actual.enums[name];
    if (!have) problems.push(`enum ${name}: in schema.prisma, missing from the database`);
    else if (have.join(',') !== values.join(',')) {
      problems.push(
        `enum ${name}: values are (${have.join(', ')}) in the database, (${values.join(', ')}) per schema.prisma`,
      );
    }
  }
  for (const name of Object.keys(actual.enums)) {
    if (!expected.enums[name]) problems.push(`enum ${name}: in the database, not in schema.prisma`);
  }

  for (const [name, want] of Object.entries(expected.indexes)) {
    const have = actual.indexes[name];
    if (!have) {
      problems.push(
        `index ${name} on ${want.table}(${want.columns.join(', ')}): in schema.prisma, missing from the database`,
      );
      continue;
    }
    for (const key of ['table', 'unique', 'primary', 'method', 'predicate'] as const) {
      if (have[key] !== want[key]) {
        problems.push(
          `index ${name}: ${key} is ${String(have[key])} in the database, ${String(want[key])} per schema.prisma`,
        );
      }
    }
    if (have.columns.join(', ') !== want.columns.join(', ')) {
      problems.push(
        `index ${name}: columns are (${have.columns.join(', ')}) in the database, (${want.columns.join(', ')}) per schema.prisma`,
      );
    }
  }
  for (const [name, have] of Object.entries(actual.indexes)) {
    if (!expected.indexes[name] && have.table !== PRISMA_MIGRATIONS_TABLE && !allowed(extras.indexes, name)) {
      problems.push(
        `index ${name} on ${have.table}(${have.columns.join(', ')}): in the database, not in schema.prisma`,
      );
    }
  }

  for (const [name, want] of Object.entries(expected.foreignKeys)) {
    const have = actual.foreignKeys[name];
    if (!have) {
      problems.push(
        `foreign key ${name} (${want.table} → ${want.referencedTable}): in schema.prisma, missing from the database`,
      );
      continue;
    }
    const describe = (fk: ForeignKeySnapshot): string =>
      `${fk.table}(${fk.columns.join(', ')}) → ${fk.referencedTable}(${fk.referencedColumns.join(', ')}) ` +
      `ON DELETE ${fk.onDelete} ON UPDATE ${fk.onUpdate}`;
    if (describe(have) !== describe(want)) {
      problems.push(
        `foreign key ${name}: ${describe(have)} in the database, ${describe(want)} per schema.prisma`,
      );
    }
  }
  for (const [name, have] of Object.entries(actual.foreignKeys)) {
    if (!expected.foreignKeys[name]) {
      problems.push(
        `foreign key ${name} (${have.table} → ${have.referencedTable}): in the database, not in schema.prisma`,
      );
    }
  }

  for (const kind of ['extensions', 'functions', 'triggers'] as const) {
    const singular = kind.slice(0, -1);
    const wanted = new Set([...expected[kind], ...(extras[kind] ?? [])]);
    for (const name of actual[kind]) {
      if (!wanted.has(name))
        problems.push(`${singular} ${name}: in the database, neither in schema.prisma nor allow-listed`);
    }
  }

  for (const [kind, names] of Object.entries(extras) as [keyof SchemaExtras, string[] | undefined][]) {
    for (const name of names ?? []) {
      if (!extraExists(actual, kind, name))
        problems.push(`allow-listed ${kind} entry ${name}: missing from the database`);
    }
  }
  return problems.sort();
}

function defaultsAgree(want: string | null, have: string | null): boolean {
  if (want === ANY_DEFAULT) return have !== null;
  if (want === null || have === null) return want === have;
  return normalizeSql(want) === normalizeSql(have);
}

function extraExists(actual: SchemaSnapshot, kind: keyof SchemaExtras, name: string): boolean {
  switch (kind) {
    case 'extensions':
    case 'functions':
    case 'triggers':
      return actual[kind].includes(name);
    case 'indexes':
      return name in actual.indexes;
    case 'tables':
      return name in actual.tables;
    case 'columns': {
      const [table = '', column = ''] = name.split('.');
      return column in (actual.tables[table]?.columns ?? {});
    }
  }
}
