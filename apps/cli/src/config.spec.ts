import { mkdtempSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { colorEnabled, configPath, readConfig, readEnv, resolveCredentials, writeConfig } from './config';

describe('cli config', () => {
  it('puts the file under XDG_CONFIG_HOME, else ~/.config', () => {
    expect(configPath({ XDG_CONFIG_HOME: '/x/conf', HOME: '/home/a' })).toBe('/x/conf/quarry/config.json');
    expect(configPath({ HOME: '/home/a' })).toBe('/home/a/.config/quarry/config.json');
    expect(configPath({ XDG_CONFIG_HOME: '', HOME: '/home/a' })).toBe('/home/a/.config/quarry/config.json');
  });

  it('takes flags over the environment over the file, each value on its own', () => {
    const file = { url: 'http://file', apiKey: 'file-key' };
    const env = { QUARRY_URL: 'http://env', QUARRY_API_KEY: 'env-key' };
    expect(resolveCredentials({}, {}, file)).toEqual({
      url: 'http://file',
      apiKey: 'file-key',
      from: { url: 'config', apiKey: 'config' },
    });
    expect(resolveCredentials({}, env, file)).toMatchObject({ url: 'http://env', apiKey: 'env-key' });
    expect(resolveCredentials({ apiKey: 'flag-key' }, env, file)).toEqual({
      url: 'http://env',
      apiKey: 'flag-key',
      from: { url: 'env', apiKey: 'flag' },
    });
    expect(resolveCredentials({}, { QUARRY_URL: 'http://env' }, file)).toMatchObject({ apiKey: 'file-key' });
    // Blank values count as unset.
    expect(resolveCredentials({ url: ' ' }, { QUARRY_URL: '' }, file)).toMatchObject({ url: 'http://file' });
  });

  it('says what is missing', () => {
    expect(resolveCredentials({}, {}, undefined)).toEqual({ missing: ['url', 'apiKey'] });
    expect(resolveCredentials({}, { QUARRY_URL: 'http://env' }, undefined)).toEqual({ missing: ['apiKey'] });
  });

  it('writes the file with mode 0600 whatever the umask, in a 0700 folder, and reads it back', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'quarry-cli-'));
    const file = path.join(dir, 'quarry', 'config.json');
    const umask = process.umask(0o000);
    try {
      await writeConfig(file, { url: 'http://127.0.0.1:3000', apiKey: 'k-123' });
    } finally {
      process.umask(umask);
    }
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(await readConfig(file)).toEqual({ url: 'http://127.0.0.1:3000', apiKey: 'k-123' });
    // Written again over an existing file: still 0600.
    await writeConfig(file, { url: 'http://other', apiKey: 'k-456' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('sets a file others may read back to 0600 when reading it, and reports none when absent', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'quarry-cli-'));
    const file = path.join(dir, 'quarry', 'config.json');
    expect(await readConfig(file)).toBeUndefined();
    mkdirSync(path.dirname(file));
    writeFileSync(file, JSON.stringify({ url: 'http://x', apiKey: 'k', other: 1 }));
    chmodSync(file, 0o644);
    expect(await readConfig(file)).toEqual({ url: 'http://x', apiKey: 'k' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(file, 'not json');
    await expect(readConfig(file)).rejects.toThrow('not valid JSON');
  });

  it('colors only on a terminal, never with NO_COLOR or --json, always with FORCE_COLOR', () => {
    expect(colorEnabled({}, true, false)).toBe(true);
    expect(colorEnabled({}, false, false)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1' }, true, false)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '' }, true, false)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '1' }, false, false)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '1' }, true, true)).toBe(false);
  });

  it('reads only its own variables from the environment', () => {
    expect(readEnv({ QUARRY_URL: 'u', PATH: '/bin', NO_COLOR: '1' })).toEqual({
      QUARRY_URL: 'u',
      NO_COLOR: '1',
    });
  });
});
