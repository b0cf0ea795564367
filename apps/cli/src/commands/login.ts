import { QuarryApiError, QuarryClient } from '@quarry/sdk';
import type { Command } from 'commander';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { writeConfig } from '../config';
import type { Context } from '../context';
import { CliError, EXIT } from '../exit-codes';
import type { Act } from '../program';

export function registerLogin(program: Command, act: Act): void {
  program
    .command('login')
    .description('store the gateway URL and API key (asked for when not given) in the config file, mode 0600')
    .option('--no-verify', 'store them without checking the key against the gateway')
    .addHelpText(
      'after',
      '\nExample: quarry login --url http://127.0.0.1:3000 --api-key quarry-dev-key-change-me',
    )
    .action(act(login));

  program
    .command('logout')
    .description('remove the stored URL and key')
    .action(
      act(async (ctx: Context) => {
        await rm(ctx.configFile, { force: true });
        ctx.out.result({ configFile: ctx.configFile, removed: true }, () => [`removed ${ctx.configFile}`]);
      }),
    );
}

async function login(ctx: Context, options: { verify: boolean }): Promise<void> {
  let url = ctx.options.url?.trim();
  let apiKey = ctx.options.apiKey?.trim();
  if ((!url || !apiKey) && process.stdin.isTTY && !ctx.out.json) {
    const rl = createInterface({ input: process.stdin, output: ctx.out.stderr });
    try {
      url ||= (await rl.question('Gateway URL (e.g. http://127.0.0.1:3000): ')).trim();
      apiKey ||= (await rl.question('API key: ')).trim();
    } finally {
      rl.close();
    }
  }
  if (!url || !apiKey) {
    throw new CliError('login needs --url <gateway> and --api-key <key>', EXIT.usage);
  }
  try {
    new URL(url);
  } catch {
    throw new CliError(`--url ${url}: not a URL (e.g. http://127.0.0.1:3000)`, EXIT.usage);
  }
  url = url.replace(/\/+$/, '');
  if (options.verify) await verify(url, apiKey);
  await writeConfig(ctx.configFile, { url, apiKey });
  const shadowed = [
    ctx.env.QUARRY_URL ? 'QUARRY_URL' : '',
    ctx.env.QUARRY_API_KEY ? 'QUARRY_API_KEY' : '',
  ].filter((v) => v !== '');
  ctx.out.result({ url, configFile: ctx.configFile, verified: options.verify }, () => [
    `logged in to ${url}; saved to ${ctx.configFile} (mode 0600)`,
    ...(shadowed.length > 0
      ? [ctx.out.c.yellow(`note: ${shadowed.join(' and ')} in the environment take precedence over the file`)]
      : []),
  ]);
}

/** Any authenticated request: a key without the read scope (403) is still a valid key. */
async function verify(url: string, apiKey: string): Promise<void> {
  try {
    await new QuarryClient({ baseUrl: url, apiKey }).listJobs({ limit: 1 });
  } catch (error) {
    if (QuarryApiError.is(error, 'insufficient_scope')) return;
    throw error;
  }
}
