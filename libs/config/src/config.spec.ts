import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('gives working defaults for a local machine', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(3000);
    expect(c.namespace).toBe('quarry');
    expect(c.embedding.provider).toBe('local');
    expect(c.database.url).toMatch(/^postgresql:\/\//);
  });

  it('coerces and validates numbers and enums', () => {
    expect(loadConfig({ PORT: '8080', LOG_PRETTY: 'true' }).http.port).toBe(8080);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ EMBEDDING_PROVIDER: 'magic' })).toThrow(/EMBEDDING_PROVIDER/);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '' }).http.port).toBe(3000);
  });

  it('rejects inconsistent chunking settings', () => {
    expect(() => loadConfig({ CHUNK_MAX_TOKENS: '64', CHUNK_OVERLAP_TOKENS: '64' })).toThrow(
      /CHUNK_OVERLAP_TOKENS/,
    );
  });

  it('rejects a bootstrap API key too short to be a secret', () => {
    expect(() => loadConfig({ QUARRY_BOOTSTRAP_API_KEY: 'abc' })).toThrow(/QUARRY_BOOTSTRAP_API_KEY/);
  });
});
