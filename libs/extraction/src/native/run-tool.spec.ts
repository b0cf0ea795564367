import { QuarryError } from '@quarry/contracts';
import { readFileSync } from 'node:fs';
import { runTool, toolAvailable, useToolSpawner } from './run-tool';
import { ToolLauncher } from './tool-launcher';

const node = process.execPath;
const script = (source: string): string[] => ['-e', source];

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error(`rejected with a non-error: ${String(error)}`);
  return error;
}

async function quarryRejection(promise: Promise<unknown>): Promise<QuarryError> {
  const error = await rejection(promise);
  if (!(error instanceof QuarryError)) throw error;
  return error;
}

describe.each([
  ['started by this process', false],
  ['started by the tool launcher', true],
])('runTool, tools %s', (_how, launched) => {
  let launcher: ToolLauncher | undefined;
  beforeAll(() => {
    if (!launched) return;
    const own = new ToolLauncher();
    launcher = own;
    useToolSpawner((command, args, env) => own.spawn(command, args, env));
  });
  afterAll(async () => {
    useToolSpawner(undefined);
    await launcher?.close();
  });

  it('returns stdout, stderr and the exit code of a tool that succeeds', async () => {
    const result = await runTool(
      node,
      script('process.stdout.write("out:" + process.argv[1]); process.stderr.write("a warning")'),
      { timeoutMs: 10_000 },
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdout.toString()).toBe('out:undefined');
    expect(result.stderr).toBe('a warning');
  });

  it('passes arguments verbatim, with no shell in between', async () => {
    const result = await runTool(
      node,
      [...script('process.stdout.write(process.argv[1])'), '$HOME; echo hi'],
      {
        timeoutMs: 10_000,
      },
    );
    expect(result.stdout.toString()).toBe('$HOME; echo hi');
  });

  it('feeds stdin and adds to the environment', async () => {
    const result = await runTool(
      node,
      script(
        'let s = ""; process.stdin.on("data", (d) => (s += d)); process.stdin.on("end", () => process.stdout.write(s.toUpperCase() + process.env.QUARRY_TEST_VAR))',
      ),
      { timeoutMs: 10_000, stdin: Buffer.from('bytes in '), env: { QUARRY_TEST_VAR: 'and an env var' } },
    );
    expect(result.stdout.toString()).toBe('BYTES IN and an env var');
  });

  it('kills a tool that passes its deadline and fails with parser_timeout', async () => {
    const started = performance.now();
    const error = await quarryRejection(
      runTool(node, script('setInterval(() => {}, 1000)'), { timeoutMs: 300 }),
    );
    expect(error.code).toBe('parser_timeout');
    expect(error.details).toMatchObject({ tool: node, timeoutMs: 300 });
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('kills a tool that grows past its memory limit and fails with parser_out_of_memory', async () => {
    const started = performance.now();
    // 16 MiB of touched memory every 10 ms: without the limit this reaches gigabytes within seconds.
    const error = await quarryRejection(
      runTool(node, script('const a = []; setInterval(() => a.push(Buffer.alloc(16 << 20, 1)), 10)'), {
        timeoutMs: 20_000,
        maxMemoryMb: 200,
      }),
    );
    expect(error.code).toBe('parser_out_of_memory');
    const rss = error.details?.['rssBytes'];
    expect(typeof rss === 'number' && rss > 200 * 1024 * 1024).toBe(true);
    expect(typeof rss === 'number' && rss < 600 * 1024 * 1024).toBe(true);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('reports the peak memory of a tool that stays under its limit', async () => {
    const result = await runTool(
      node,
      script('const b = Buffer.alloc(64 << 20, 1); setTimeout(() => console.log(b.length), 300)'),
      { timeoutMs: 10_000, maxMemoryMb: 400 },
    );
    expect(result.stdout.toString().trim()).toBe(String(64 << 20));
    expect(result.peakRssBytes).toBeGreaterThan(64 * 1024 * 1024);
  });

  it('fails with parser_crashed and the tail of stderr when the tool exits with an error', async () => {
    const error = await quarryRejection(
      runTool(node, script('console.error("line one\\nSyntax Error: something broke"); process.exit(3)'), {
        timeoutMs: 10_000,
      }),
    );
    expect(error.code).toBe('parser_crashed');
    expect(error.message).toContain('exited with code 3');
    expect(error.message).toContain('Syntax Error: something broke');
    expect(error.details).toMatchObject({ exitCode: 3, signal: null });
  });

  it('fails with parser_crashed when the tool dies of a signal', async () => {
    const error = await quarryRejection(
      runTool(node, script('process.kill(process.pid, "SIGSEGV")'), { timeoutMs: 10_000 }),
    );
    expect(error.code).toBe('parser_crashed');
    expect(error.details).toMatchObject({ signal: 'SIGSEGV', exitCode: null });
  });

  it('lets the caller give an exit its meaning, or accept it', async () => {
    const mapped = await rejection(
      runTool(node, script('console.error("Incorrect password"); process.exit(1)'), {
        timeoutMs: 10_000,
        mapFailure: ({ exitCode, stderr }) =>
          exitCode === 1 && stderr.includes('password')
            ? new QuarryError('encrypted_pdf', 'locked')
            : undefined,
      }),
    );
    expect(QuarryError.is(mapped, 'encrypted_pdf')).toBe(true);

    const accepted = await runTool(node, script('process.exit(1)'), {
      timeoutMs: 10_000,
      okExitCodes: [0, 1],
    });
    expect(accepted.exitCode).toBe(1);
  });

  it('fails when the tool writes more than the output cap', async () => {
    const error = await quarryRejection(
      runTool(node, script('process.stdout.write(Buffer.alloc(4 << 20, 97))'), {
        timeoutMs: 10_000,
        maxStdoutBytes: 1 << 20,
      }),
    );
    expect(error.code).toBe('parser_crashed');
    expect(error.details).toMatchObject({ reason: 'output_too_large' });
  });

  it('keeps only the tail of a runaway stderr', async () => {
    const result = await runTool(node, script('process.stderr.write("x".repeat(100000) + "THE END")'), {
      timeoutMs: 10_000,
      maxStderrChars: 100,
    });
    expect(result.stderr).toHaveLength(100);
    expect(result.stderr.endsWith('THE END')).toBe(true);
  });

  it('streams stdout to a consumer, pausing the tool while the consumer is busy', async () => {
    const chunks: string[] = [];
    const result = await runTool(
      node,
      script('for (let i = 0; i < 200; i++) process.stdout.write("line " + i + "\\n")'),
      {
        timeoutMs: 10_000,
        onStdout: async (chunk) => {
          chunks.push(chunk.toString());
          await new Promise<void>((resolve) => setImmediate(resolve));
        },
      },
    );
    expect(result.stdout).toHaveLength(0);
    const lines = chunks.join('').trim().split('\n');
    expect(lines).toHaveLength(200);
    expect(lines[199]).toBe('line 199');
  });

  it("kills the tool and fails with the consumer's error when the consumer throws", async () => {
    const stop = new Error('enough pages');
    const started = performance.now();
    const error = await rejection(
      runTool(node, script('setInterval(() => process.stdout.write("more\\n"), 5)'), {
        timeoutMs: 20_000,
        onStdout: () => {
          throw stop;
        },
      }),
    );
    expect(error).toBe(stop);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('kills the tool when the signal aborts and rejects with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('job cancelled');
    const running = runTool(node, script('console.log("started"); setInterval(() => {}, 1000)'), {
      timeoutMs: 20_000,
      signal: controller.signal,
      onStdout: () => controller.abort(reason),
    });
    await expect(running).rejects.toBe(reason);
    await expect(runTool(node, script(''), { timeoutMs: 1000, signal: controller.signal })).rejects.toBe(
      reason,
    );
  });

  it('says a missing tool is not installed', async () => {
    const error = await quarryRejection(runTool('quarry-no-such-tool', [], { timeoutMs: 1000 }));
    expect(error.code).toBe('parser_crashed');
    expect(error.message).toBe('quarry-no-such-tool is not installed');
  });

  it('refuses nonsensical limits', async () => {
    await expect(runTool(node, [], { timeoutMs: 0 })).rejects.toThrow(RangeError);
    await expect(runTool(node, [], { timeoutMs: 1000, maxMemoryMb: -1 })).rejects.toThrow(RangeError);
  });
});

describe('ToolLauncher', () => {
  it('starts tools from its own process, not from the caller', async () => {
    const launcher = new ToolLauncher();
    useToolSpawner((command, args, env) => launcher.spawn(command, args, env));
    try {
      const result = await runTool(node, script('process.stdout.write(String(process.ppid))'), {
        timeoutMs: 10_000,
      });
      const parent = Number(result.stdout.toString());
      expect(parent).not.toBe(process.pid);
      expect(readFileSync(`/proc/${parent}/cmdline`, 'utf8')).toContain('tool-launcher-host');
    } finally {
      useToolSpawner(undefined);
      await launcher.close();
    }
  });

  it('fails the running tools as retryable when the launcher dies, kills them, and starts again', async () => {
    const launcher = new ToolLauncher();
    useToolSpawner((command, args, env) => launcher.spawn(command, args, env));
    try {
      const running = runTool(
        node,
        script('process.stdout.write(String(process.ppid)); setInterval(() => {}, 1000)'),
        {
          timeoutMs: 30_000,
          onStdout: (chunk) => {
            // The launcher is the tool's parent: kill it while the tool runs.
            process.kill(Number(chunk.toString()), 'SIGKILL');
          },
        },
      );
      const error = await quarryRejection(running);
      expect(error).toMatchObject({ code: 'dependency_unavailable', retryable: true });
      const again = await runTool(node, script('process.stdout.write("back")'), { timeoutMs: 10_000 });
      expect(again.stdout.toString()).toBe('back');
    } finally {
      useToolSpawner(undefined);
      await launcher.close();
    }
  });
});

describe('toolAvailable', () => {
  it('is true for a tool that starts, whatever its exit code, and false for one that is absent', async () => {
    await expect(toolAvailable(node, ['-e', 'process.exit(2)'])).resolves.toBe(true);
    await expect(toolAvailable('quarry-no-such-tool')).resolves.toBe(false);
  });
});
