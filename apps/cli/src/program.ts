import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { CliEnv } from './config';
import { Context, type GlobalOptions } from './context';
import { CliError, describeError, EXIT, EXIT_CODES_HELP, exitCodeOf } from './exit-codes';
import { registerAsk } from './commands/ask';
import { registerDeadLetters } from './commands/dead-letters';
import { registerJobs } from './commands/jobs';
import { registerKeys } from './commands/keys';
import { registerLogin } from './commands/login';
import { registerSearch } from './commands/search';
import { registerUpload } from './commands/upload';
import { registerUsage } from './commands/usage';
import { registerWebhooks } from './commands/webhooks';

export const VERSION = '0.1.0';

export interface Io {
  env: CliEnv;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** The folder relative paths are read from. */
  cwd: string;
}

/** Wraps a command's action: builds its Context from the global options, remembers it for the exit code. */
export type Act = <A extends unknown[]>(
  fn: (ctx: Context, ...args: A) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

/** `--limit 20`: a positive whole number, else a usage error. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return n;
}

/** Runs the command line; resolves with the exit code (it never exits the process itself). */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  let ctx: Context | undefined;
  const act: Act = <A extends unknown[]>(fn: (ctx: Context, ...args: A) => Promise<void>) => {
    return async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      ctx = new Context(command.optsWithGlobals<GlobalOptions>(), io.env, io.stdout, io.stderr);
      await fn(ctx, ...(args.slice(0, -1) as A));
    };
  };

  const program = new Command('quarry')
    .description(
      "Quarry's API from the command line: upload, follow jobs, search, ask, and administer a tenant",
    )
    .version(VERSION)
    .option('--url <url>', 'the gateway (over QUARRY_URL and the stored login)')
    .option('--api-key <key>', 'the API key (over QUARRY_API_KEY and the stored login)')
    .option('--json', 'print JSON only: one document, or JSON lines for jobs watch and ask')
    .addHelpText(
      'after',
      `\nCredentials: --url/--api-key, then QUARRY_URL/QUARRY_API_KEY, then the file \`quarry login\` writes
($XDG_CONFIG_HOME/quarry/config.json or ~/.config/quarry/config.json, mode 0600).
Output is colored on a terminal unless NO_COLOR is set; progress bars are drawn only on a terminal.

${EXIT_CODES_HELP}`,
    )
    .showHelpAfterError('(run quarry --help for the commands)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  // Subcommands inherit exitOverride and configureOutput: they throw instead of exiting, and print through io.
  registerLogin(program, act);
  registerUpload(program, act, io);
  registerJobs(program, act);
  registerSearch(program, act);
  registerAsk(program, act);
  registerDeadLetters(program, act);
  registerKeys(program, act);
  registerWebhooks(program, act);
  registerUsage(program, act);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx?.exitCode ?? EXIT.ok;
  } catch (error) {
    // Help and --version are "errors" with exit code 0; every other Commander error is a bad command line.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const code = exitCodeOf(error);
    const message = describeError(error);
    io.stderr.write(`quarry: ${message}\n`);
    if (ctx?.out.json) {
      const api = error as { status?: unknown; code?: unknown };
      ctx.out.jsonLine({
        error: {
          message,
          ...(typeof api.code === 'string' && !(error instanceof CliError) ? { code: api.code } : {}),
          ...(typeof api.status === 'number' ? { status: api.status } : {}),
        },
        exitCode: code,
      });
    }
    return code;
  }
}
