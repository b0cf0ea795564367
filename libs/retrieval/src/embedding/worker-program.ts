import path from 'node:path';

/**
 * How to start a worker-thread program that lives next to the calling module: its compiled .js once built, its .ts
 * source under Jest and in-repo tools (then through tools/ts-register.cjs, the build's SWC options). The worker
 * runs a one-line CommonJS bootstrap that requires the program, so both cases load it the same way.
 */
export function workerProgram(dir: string, name: string, fromSource: boolean) {
  const program = path.join(dir, `${name}.${fromSource ? 'ts' : 'js'}`);
  return {
    bootstrap: `require(require('node:worker_threads').workerData.program)`,
    execArgv: fromSource ? ['--require', path.resolve(dir, '../../../../tools/ts-register.cjs')] : [],
    program,
  };
}
