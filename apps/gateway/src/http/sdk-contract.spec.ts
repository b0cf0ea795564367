import { REPO_ROOT } from '@quarry/test-kit';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildOpenApiDocument } from '../openapi-document';

// The SDK's generated half must be what `npm run sdk:generate` makes of the document this gateway serves (issue 12):
// a route or schema changed without regenerating fails here, not in a user's build.
const committed = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');
const REGENERATE =
  'the SDK is out of date with the gateway: run `npm run sdk:generate` and commit the result';

describe('the SDK and the OpenAPI document', () => {
  it('libs/sdk/openapi.json is the document the gateway serves', async () => {
    const served = JSON.stringify(await buildOpenApiDocument(), null, 2);
    if (`${served}\n` !== committed('libs/sdk/openapi.json')) throw new Error(REGENERATE);
  });

  it("libs/sdk/src/generated/openapi.ts is openapi-typescript's output for that document", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'quarry-sdk-types-'));
    try {
      const out = path.join(dir, 'openapi.ts');
      execFileSync(
        path.join(REPO_ROOT, 'node_modules/.bin/openapi-typescript'),
        ['libs/sdk/openapi.json', '-o', out],
        {
          cwd: REPO_ROOT,
          stdio: 'ignore',
        },
      );
      if (readFileSync(out, 'utf8') !== committed('libs/sdk/src/generated/openapi.ts'))
        throw new Error(REGENERATE);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
