import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { CliError, EXIT } from './exit-codes';

/** The environment the CLI reads, read here only (the rest of the CLI gets it passed in). */
export interface CliEnv {
  QUARRY_URL?: string;
  QUARRY_API_KEY?: string;
  XDG_CONFIG_HOME?: string;
  HOME?: string;
  NO_COLOR?: string;
  FORCE_COLOR?: string;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  const pick = (name: keyof CliEnv) => (env[name] === undefined ? {} : { [name]: env[name] });
  return {
    ...pick('QUARRY_URL'),
    ...pick('QUARRY_API_KEY'),
    ...pick('XDG_CONFIG_HOME'),
    ...pick('HOME'),
    ...pick('NO_COLOR'),
    ...pick('FORCE_COLOR'),
  };
}

/** What `quarry login` stores. */
export interface StoredConfig {
  url?: string;
  apiKey?: string;
}

export type Source = 'flag' | 'env' | 'config';

export interface Credentials {
  url: string;
  apiKey: string;
  from: { url: Source; apiKey: Source };
}

/** `$XDG_CONFIG_HOME/quarry/config.json`, else `~/.config/quarry/config.json`. */
export function configPath(env: CliEnv): string {
  const base = env.XDG_CONFIG_HOME?.trim() || path.join(env.HOME?.trim() || homedir(), '.config');
  return path.join(base, 'quarry', 'config.json');
}

/** Flags win over the environment, which wins over the config file. Undefined where something is missing. */
export function resolveCredentials(
  flags: { url?: string; apiKey?: string },
  env: CliEnv,
  file: StoredConfig | undefined,
): Credentials | { missing: ('url' | 'apiKey')[] } {
  const pick = (flag?: string, fromEnv?: string, fromFile?: string): [string, Source] | undefined => {
    if (flag?.trim()) return [flag.trim(), 'flag'];
    if (fromEnv?.trim()) return [fromEnv.trim(), 'env'];
    if (fromFile?.trim()) return [fromFile.trim(), 'config'];
    return undefined;
  };
  const url = pick(flags.url, env.QUARRY_URL, file?.url);
  const apiKey = pick(flags.apiKey, env.QUARRY_API_KEY, file?.apiKey);
  if (!url || !apiKey) {
    return { missing: [...(url ? [] : ['url' as const]), ...(apiKey ? [] : ['apiKey' as const])] };
  }
  return { url: url[0], apiKey: apiKey[0], from: { url: url[1], apiKey: apiKey[1] } };
}

/**
 * The stored config, or undefined when there is none. A file others may read (a copy, a restored backup) is set back
 * to 0600 before it is used: it holds a key.
 */
export async function readConfig(file: string): Promise<StoredConfig | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    const { url, apiKey } = parsed as Record<string, unknown>;
    return {
      ...(typeof url === 'string' ? { url } : {}),
      ...(typeof apiKey === 'string' ? { apiKey } : {}),
    };
  } catch {
    throw new CliError(`${file} is not valid JSON: run \`quarry login\` again`, EXIT.usage);
  }
}

/** Writes the config readable by its owner only (0600, directory 0700), replacing the old file in one step. */
export async function writeConfig(file: string, config: StoredConfig): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // The mode given to open() is masked by the umask; 0600 is what it must be whatever the umask.
  await chmod(temp, 0o600);
  await rename(temp, file);
}

/** Whether output may be colored: never with NO_COLOR (any value) or --json; with FORCE_COLOR or on a terminal. */
export function colorEnabled(env: CliEnv, isTTY: boolean, json: boolean): boolean {
  if (json) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return isTTY;
}
