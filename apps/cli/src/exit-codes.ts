import { QuarryApiError } from '@quarry/sdk';

/** What `quarry` exits with; `quarry --help` and docs/adr/0037-cli.md list them. */
export const EXIT = {
  ok: 0,
  /** The command ran and its outcome is bad: a job failed or completed with failures, a 409, a 422. */
  failed: 1,
  /** The command line is wrong (an unknown option, a missing argument), or the API said the request is (400). */
  usage: 2,
  /** No URL or key, or the key is refused (401) or lacks the scope (403). */
  auth: 3,
  notFound: 4,
  /** The gateway cannot be reached or answers 5xx. */
  unavailable: 5,
  /** 429: the key's request rate or the tenant's monthly quota. */
  rateLimited: 6,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  the job or command ended badly (a job failed or completed with failures, a conflict)
  2  usage error: bad arguments or options, or a request the API called invalid
  3  not logged in, or the API key is refused (401) or lacks the scope (403)
  4  not found
  5  the gateway is unreachable or failing (connection refused, 5xx)
  6  rate limited or over quota (429)`;

/** An error of the CLI itself, with the exit code it means. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

export function exitCodeOfStatus(status: number, code?: string): ExitCode {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 429 || code === 'rate_limited' || code === 'quota_exceeded') return EXIT.rateLimited;
  if (status >= 500) return EXIT.unavailable;
  if (status === 400 || status === 413 || status === 415) return EXIT.usage;
  return EXIT.failed;
}

/** The exit code an error means: API errors by their status and code, network failures as unavailable. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof QuarryApiError) return exitCodeOfStatus(error.status, error.code);
  if (isNetworkError(error)) return EXIT.unavailable;
  return EXIT.failed;
}

/** fetch's own failures (refused, reset, DNS, timeouts): undici throws TypeError('fetch failed') with a cause. */
export function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TimeoutError') return true;
  if (error instanceof TypeError && error.message === 'fetch failed') return true;
  const code = (error as { code?: unknown }).code;
  return (
    typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|UND_ERR_)/.test(code)
  );
}

/** One line for stderr: what went wrong and, where it helps, what to do. */
export function describeError(error: unknown): string {
  if (error instanceof CliError) return error.message;
  if (error instanceof QuarryApiError) {
    const id = error.errorId ? ` (error id ${error.errorId})` : '';
    const hint =
      error.status === 401
        ? '; check the key, or run `quarry login`'
        : error.status === 429 && error.retryAfterMs !== undefined
          ? `; retry in ${Math.ceil(error.retryAfterMs / 1000)} s`
          : error.code === 'too_many_files'
            ? '; upload fewer at once with --batch-size'
            : '';
    return `${error.code}: ${error.message}${id}${hint}`;
  }
  if (isNetworkError(error)) {
    const cause = (error as Error).cause as { code?: string; message?: string } | undefined;
    return `cannot reach the gateway: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
