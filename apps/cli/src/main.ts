import { readEnv } from './config';
import { run } from './program';

// `quarry …`: bin/quarry.js (npx quarry) requires this file once it is built.
run(process.argv.slice(2), {
  env: readEnv(),
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
})
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    process.stderr.write(
      `quarry: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  });
