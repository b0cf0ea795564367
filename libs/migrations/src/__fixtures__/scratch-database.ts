import { randomBytes } from 'node:crypto';
import { escapeIdentifier } from 'pg';
import { withClient } from '@quarry/test-kit';

export { withClient };

// The runner's tests need a database that is named but not yet created (the runner creates it), which
// @quarry/test-kit's createEmptyDatabase does not hand out.

export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export function scratchDatabase(serverUrl: string, label: string): ScratchDatabase {
  const name = `quarry_t_${label}_${randomBytes(5).toString('hex')}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () =>
      withClient(serverUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`),
      ).then(() => undefined),
  };
}
