import { QuarryClient } from '@quarry/sdk';
import pc from 'picocolors';
import type { Colors } from 'picocolors/types';
import { colorEnabled, configPath, readConfig, resolveCredentials, type CliEnv } from './config';
import { CliError, EXIT } from './exit-codes';

/** The global options every command takes. */
export interface GlobalOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

/** Where a command writes: people get lines (colored on a terminal), scripts get JSON and nothing else. */
export class Output {
  readonly c: Colors;

  constructor(
    readonly json: boolean,
    readonly color: boolean,
    readonly stdout: NodeJS.WriteStream,
    readonly stderr: NodeJS.WriteStream,
  ) {
    this.c = pc.createColors(color);
  }

  /** stdout is a terminal: progress may be drawn in place. */
  get tty(): boolean {
    return this.stdout.isTTY === true && !this.json;
  }

  /** Lines for people; nothing with --json. */
  lines(lines: readonly string[]): void {
    if (!this.json && lines.length > 0) this.stdout.write(`${lines.join('\n')}\n`);
  }

  line(text = ''): void {
    this.lines([text]);
  }

  /** Notes for people (what is about to happen), on stderr so stdout stays the result; nothing with --json. */
  note(text: string): void {
    if (!this.json) this.stderr.write(`${text}\n`);
  }

  /** The one JSON document of a --json command. */
  document(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One line of a streaming --json command (JSON lines). */
  jsonLine(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** `--json` → the document; otherwise the lines made from it. */
  result<T>(value: T, human: (value: T) => readonly string[]): void {
    if (this.json) this.document(value);
    else this.lines(human(value));
  }
}

/** What a command's action gets: its output, the environment, and a client once credentials are known. */
export class Context {
  readonly out: Output;
  /** What the process exits with when the action returns (a job that failed sets EXIT.failed). */
  exitCode: number = EXIT.ok;

  constructor(
    readonly options: GlobalOptions,
    readonly env: CliEnv,
    stdout: NodeJS.WriteStream,
    stderr: NodeJS.WriteStream,
  ) {
    const json = options.json === true;
    this.out = new Output(json, colorEnabled(env, stdout.isTTY === true, json), stdout, stderr);
  }

  get configFile(): string {
    return configPath(this.env);
  }

  async client(): Promise<QuarryClient> {
    const creds = resolveCredentials(this.options, this.env, await readConfig(this.configFile));
    if ('missing' in creds) {
      throw new CliError(
        `not logged in (no ${creds.missing.map((m) => (m === 'url' ? 'gateway URL' : 'API key')).join(' and no ')}): ` +
          'run `quarry login --url <gateway> --api-key <key>`, or set QUARRY_URL and QUARRY_API_KEY',
        EXIT.auth,
      );
    }
    return new QuarryClient({ baseUrl: creds.url, apiKey: creds.apiKey });
  }
}
