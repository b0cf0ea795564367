import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expandInputs } from './files';

describe('cli upload inputs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'quarry-cli-files-'));
  beforeAll(() => {
    mkdirSync(path.join(dir, 'docs/sub'), { recursive: true });
    mkdirSync(path.join(dir, 'docs/.git'));
    for (const f of [
      'a.txt',
      'docs/b.md',
      'docs/sub/c.pdf',
      'docs/sub/d.txt',
      'docs/.git/x',
      'docs/.hidden',
    ]) {
      writeFileSync(path.join(dir, f), f);
    }
  });

  it('takes files, walks directories (hidden entries skipped) and expands globs, each file once', async () => {
    const files = await expandInputs(['a.txt', 'docs', 'docs/**/*.txt'], dir);
    expect(files.map((f) => path.relative(dir, f))).toEqual([
      'a.txt',
      'docs/b.md',
      'docs/sub/c.pdf',
      'docs/sub/d.txt',
    ]);
    expect((await expandInputs(['**/*.pdf'], dir)).map((f) => path.relative(dir, f))).toEqual([
      'docs/sub/c.pdf',
    ]);
  });

  it('refuses a path that does not exist and a glob that matches nothing, as usage errors', async () => {
    await expect(expandInputs(['missing.txt'], dir)).rejects.toMatchObject({ exitCode: 2 });
    await expect(expandInputs(['*.docx'], dir)).rejects.toThrow('no file matches');
  });
});
