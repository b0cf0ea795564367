import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The parts of Prisma's DMMF datamodel the drift check reads. */
export interface DmmfDatamodel {
  enums: DmmfEnum[];
  models: DmmfModel[];
  indexes: DmmfIndex[];
}

export interface DmmfEnum {
  name: string;
  dbName?: string | null;
  values: { name: string; dbName?: string | null }[];
}

export interface DmmfModel {
  name: string;
  dbName?: string | null;
  fields: DmmfField[];
}

export type DmmfDefault = string | number | boolean | { name: string; args: unknown[] } | unknown[];

export interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  isList: boolean;
  isRequired: boolean;
  isId: boolean;
  isUnique: boolean;
  hasDefaultValue: boolean;
  isUpdatedAt: boolean;
  type: string;
  nativeType?: [string, string[]] | null;
  default?: DmmfDefault;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}

export interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  isDefinedOnField: boolean;
  name?: string | null;
  dbName?: string | null;
  algorithm?: string | null;
  fields: { name: string; sortOrder?: 'asc' | 'desc' | null }[];
}

/** What the DMMF leaves out and the drift check still needs, read from the schema text itself. */
export interface SchemaTextExtras {
  /** `Unsupported("…")` fields, which the DMMF omits entirely. */
  unsupportedFields: { model: string; field: string; column: string; dbType: string; isRequired: boolean }[];
  /** `where:` clauses of partial indexes (preview feature `partialIndexes`), absent from the DMMF. */
  partialIndexes: { model: string; fields: string[]; map?: string; where: string }[];
  /** `@relation(map: "…")` names, absent from the DMMF. */
  relationMaps: { model: string; field: string; map: string }[];
}

export interface ParsedPrismaSchema {
  datamodel: DmmfDatamodel;
  extras: SchemaTextExtras;
}

// The workspace compiles against lib es2023 without DOM, which has no WebAssembly typings; these are the
// few members used here.
interface WasmTable {
  get(index: number): unknown;
  set(index: number, value: unknown): void;
  grow(delta: number): number;
}
interface WasmModule {
  readonly __brand: 'WebAssembly.Module';
}
interface WasmApi {
  Module: {
    new (bytes: Uint8Array): WasmModule;
    imports(module: WasmModule): { module: string; name: string }[];
  };
  Instance: new (
    module: WasmModule,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: unknown };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface WasmExports {
  memory: { buffer: ArrayBuffer };
  __wbindgen_externrefs: WasmTable;
  __wbindgen_malloc(size: number, align: number): number;
  __wbindgen_free(ptr: number, size: number, align: number): void;
  __externref_table_dealloc(index: number): void;
  __wbindgen_start(): void;
  get_datamodel(ptr: number, len: number): [number, number, number, number];
}

let wasm: { exports: WasmExports; lastPanic: () => string | undefined } | undefined;

/**
 * Prisma's own schema parser, `prisma-schema-wasm`, as the CLI ships it (prisma/build/
 * prisma_schema_build_bg.wasm): no native engine, no network. The CLI bundles its JS glue rather than
 * exporting it, so this is a minimal wasm-bindgen glue of our own for the one call we need; imports
 * are matched by prefix because wasm-bindgen suffixes them with a hash that changes between versions.
 */
function loadSchemaWasm(): NonNullable<typeof wasm> {
  if (wasm) return wasm;
  const wasmPath = path.join(
    path.dirname(require.resolve('prisma/package.json')),
    'build',
    'prisma_schema_build_bg.wasm',
  );
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true });
  // Filled once instantiated; the callbacks below only run after that (from __wbindgen_start on).
  const instance: { exports?: WasmExports } = {};
  let panic: string | undefined;
  const instantiated = (): WasmExports => {
    if (!instance.exports) throw new Error('prisma-schema-wasm called back before it was instantiated');
    return instance.exports;
  };
  const text = (ptr: number, len: number): string =>
    decoder.decode(new Uint8Array(instantiated().memory.buffer, ptr >>> 0, len));
  const glue: Record<string, (ptr: number, len: number) => unknown> = {};
  for (const entry of WebAssembly.Module.imports(module)) {
    const name = entry.name;
    if (name.startsWith('__wbg_set_message_')) {
      glue[name] = (ptr, len) => {
        panic = text(ptr, len);
      };
    } else if (name.startsWith('__wbg_Error_')) {
      glue[name] = (ptr, len) => new Error(text(ptr, len));
    } else if (name.startsWith('__wbg___wbindgen_throw_')) {
      glue[name] = (ptr, len) => {
        throw new Error(text(ptr, len));
      };
    } else if (name === '__wbindgen_init_externref_table') {
      glue[name] = () => {
        const table = instantiated().__wbindgen_externrefs;
        const offset = table.grow(4);
        table.set(0, undefined);
        table.set(offset, undefined);
        table.set(offset + 1, null);
        table.set(offset + 2, true);
        table.set(offset + 3, false);
      };
    } else {
      throw new Error(
        `${wasmPath} needs an import this glue does not know (${entry.module}.${name}); update it`,
      );
    }
  }
  const exports = new WebAssembly.Instance(module, { __wbindgen_placeholder__: glue }).exports as WasmExports;
  instance.exports = exports;
  exports.__wbindgen_start();
  wasm = { exports, lastPanic: () => panic };
  return wasm;
}

function callWithString(name: 'get_datamodel', input: string): string {
  const { exports, lastPanic } = loadSchemaWasm();
  const bytes = new TextEncoder().encode(input);
  const ptr = exports.__wbindgen_malloc(bytes.length, 1) >>> 0;
  new Uint8Array(exports.memory.buffer, ptr, bytes.length).set(bytes);
  let result: [number, number, number, number];
  try {
    result = exports[name](ptr, bytes.length);
  } catch (error) {
    // A Rust panic leaves the instance unusable: start over with a fresh one next time.
    wasm = undefined;
    throw new Error(`prisma-schema-wasm ${name} panicked: ${lastPanic() ?? String(error)}`, { cause: error });
  }
  const [outPtr, outLen, errIndex, isErr] = result;
  if (isErr) {
    const error: unknown = exports.__wbindgen_externrefs.get(errIndex);
    exports.__externref_table_dealloc(errIndex);
    throw schemaError(error);
  }
  try {
    return new TextDecoder().decode(new Uint8Array(exports.memory.buffer, outPtr >>> 0, outLen));
  } finally {
    exports.__wbindgen_free(outPtr, outLen, 1);
  }
}

function schemaError(error: unknown): Error {
  const raw = error instanceof Error ? error.message : String(error);
  try {
    const parsed = JSON.parse(raw) as { error_code?: string; message?: string };
    return new Error(
      `invalid Prisma schema${parsed.error_code ? ` (${parsed.error_code})` : ''}: ${parsed.message ?? raw}`,
    );
  } catch (parseError) {
    return new Error(`invalid Prisma schema: ${raw}`, { cause: parseError });
  }
}

/** Parses and validates a Prisma schema offline, returning its datamodel plus what the DMMF omits. */
export function parsePrismaSchema(schemaText: string, fileName = 'schema.prisma'): ParsedPrismaSchema {
  const json = callWithString(
    'get_datamodel',
    JSON.stringify({ prismaSchema: [[fileName, schemaText]], noColor: true }),
  );
  return { datamodel: JSON.parse(json) as DmmfDatamodel, extras: scanSchemaText(schemaText) };
}

/**
 * A deliberately small scanner over text the wasm parser has already validated: it only looks inside
 * `model` blocks for the three things the DMMF drops.
 */
export function scanSchemaText(schemaText: string): SchemaTextExtras {
  const extras: SchemaTextExtras = { unsupportedFields: [], partialIndexes: [], relationMaps: [] };
  for (const { model, body } of modelBlocks(stripComments(schemaText))) {
    for (const line of body.split('\n')) {
      const unsupported = /^\s*(\w+)\s+Unsupported\(\s*"((?:[^"\\]|\\.)*)"\s*\)(\?|\[\])?(.*)$/.exec(line);
      if (unsupported) {
        const [, field = '', dbType = '', modifier, rest = ''] = unsupported;
        extras.unsupportedFields.push({
          model,
          field,
          column: /@map\(\s*"([^"]+)"\s*\)/.exec(rest)?.[1] ?? field,
          dbType: modifier === '[]' ? `${dbType}[]` : dbType,
          isRequired: modifier === undefined,
        });
      }
      const relation = /^\s*(\w+)\s+\w+[?[\]]*\s.*@relation\((.*)\)/.exec(line);
      const relationMap = relation ? /\bmap:\s*"([^"]+)"/.exec(relation[2]!) : null;
      if (relation && relationMap)
        extras.relationMaps.push({ model, field: relation[1]!, map: relationMap[1]! });
    }
    for (const args of attributeArguments(body, '@@index')) {
      const where = /\bwhere:\s*raw\(\s*"((?:[^"\\]|\\.)*)"\s*\)/.exec(args)?.[1];
      if (where === undefined) continue;
      const fieldList = /^\s*(?:fields:\s*)?\[([^\]]*)\]/.exec(args)?.[1] ?? '';
      const map = /\bmap:\s*"([^"]+)"/.exec(args)?.[1];
      extras.partialIndexes.push({
        model,
        fields: splitTopLevel(fieldList).map((f) => f.replace(/\(.*$/s, '').trim()),
        ...(map === undefined ? {} : { map }),
        where: where.replace(/\\"/g, '"').replace(/\\\\/g, '\\'),
      });
    }
  }
  return extras;
}

function stripComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

function* modelBlocks(text: string): Generator<{ model: string; body: string }> {
  const header = /^\s*model\s+(\w+)\s*\{/gm;
  for (let match = header.exec(text); match; match = header.exec(text)) {
    const start = header.lastIndex;
    const end = matchingClose(text, start - 1, '{', '}');
    yield { model: match[1]!, body: text.slice(start, end) };
    header.lastIndex = end;
  }
}

/** The argument text of every `<attribute>(...)` in `body`, parentheses balanced, strings respected. */
function* attributeArguments(body: string, attribute: string): Generator<string> {
  for (let at = body.indexOf(`${attribute}(`); at >= 0; at = body.indexOf(`${attribute}(`, at + 1)) {
    const open = at + attribute.length;
    yield body.slice(open + 1, matchingClose(body, open, '(', ')'));
  }
}

function matchingClose(text: string, openIndex: number, open: string, close: string): number {
  let depth = 0;
  let inString = false;
  for (let i = openIndex; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === open) depth++;
    else if (c === close && --depth === 0) return i;
  }
  return text.length;
}

function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of list) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  if (current.trim()) parts.push(current);
  return parts.filter((p) => p.trim().length > 0);
}
