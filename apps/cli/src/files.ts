import { glob, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { CliError, EXIT } from './exit-codes';

const GLOB = /[*?[\]{}]/;

/**
 * The files an upload names: files as they are, directories walked recursively (hidden entries skipped), glob
 * patterns expanded (node:fs glob). Each file once, in the order given; within a directory or glob, sorted. A path
 * that does not exist, or a pattern that matches nothing, is a usage error.
 */
export async function expandInputs(inputs: readonly string[], cwd = process.cwd()): Promise<string[]> {
  const seen = new Set<string>();
  const files: string[] = [];
  const add = (file: string) => {
    const absolute = path.resolve(cwd, file);
    if (seen.has(absolute)) return;
    seen.add(absolute);
    files.push(absolute);
  };
  for (const input of inputs) {
    const absolute = path.resolve(cwd, input);
    const info = await stat(absolute).catch(() => undefined);
    if (info?.isFile()) add(absolute);
    else if (info?.isDirectory()) {
      const found = await walk(absolute);
      if (found.length === 0) throw new CliError(`${input}: the directory holds no files`, EXIT.usage);
      found.sort().forEach(add);
    } else if (GLOB.test(input)) {
      const found: string[] = [];
      for await (const match of glob(input, { cwd })) {
        const full = path.resolve(cwd, match);
        if ((await stat(full).catch(() => undefined))?.isFile()) found.push(full);
      }
      if (found.length === 0) throw new CliError(`${input}: no file matches`, EXIT.usage);
      found.sort().forEach(add);
    } else {
      throw new CliError(`${input}: no such file or directory`, EXIT.usage);
    }
  }
  return files;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/** Splits a list into runs of at most `size` (the gateway takes MAX_FILES_PER_UPLOAD files per request). */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
