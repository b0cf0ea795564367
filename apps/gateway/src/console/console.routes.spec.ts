import Fastify, { type FastifyInstance } from 'fastify';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONSOLE_CSP, findConsoleDir, registerConsole } from './console.routes';

const INDEX =
  '<!doctype html><title>console</title><script type="module" src="/console/assets/app-1a2b.js"></script>';

function builtConsole(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'quarry-console-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), INDEX);
  writeFileSync(path.join(dir, 'assets', 'app-1a2b.js'), 'console.log(1)');
  writeFileSync(path.join(dir, '.secret'), 'no');
  return dir;
}

async function app(dir: string | null, jaegerUiUrl?: string): Promise<FastifyInstance> {
  const fastify = Fastify();
  fastify.get('/v1/jobs', () => ({ items: [] }));
  await registerConsole(fastify, { http: { host: '', port: 0, publicUrl: undefined, jaegerUiUrl } }, dir);
  await fastify.ready();
  return fastify;
}

describe('the web console at /console', () => {
  const dir = builtConsole();

  it('serves index.html at /console, /console/ and every app route, uncached, under a self-only CSP', async () => {
    const fastify = await app(dir);
    for (const url of ['/console', '/console/', '/console/jobs/0193', '/console/search?q=x']) {
      const res = await fastify.inject({ url });
      expect([url, res.statusCode, res.body]).toEqual([url, 200, INDEX]);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    expect(CONSOLE_CSP).not.toMatch(/unsafe|https?:|\*/);
    await fastify.close();
  });

  it('serves hashed assets as immutable, and answers 404 for missing files and dotfiles', async () => {
    const fastify = await app(dir);
    const asset = await fastify.inject({ url: '/console/assets/app-1a2b.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.body).toBe('console.log(1)');
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect((await fastify.inject({ url: '/console/assets/missing.js' })).statusCode).toBe(404);
    expect((await fastify.inject({ url: '/console/.secret' })).statusCode).toBe(403); // dotfiles: denied
    expect((await fastify.inject({ url: '/console/../package.json' })).statusCode).not.toBe(200);
    expect((await fastify.inject({ method: 'POST', url: '/console/jobs' })).statusCode).toBe(404);
    // The rest of the gateway is untouched.
    expect((await fastify.inject({ url: '/v1/jobs' })).json()).toEqual({ items: [] });
    await fastify.close();
  });

  it('gives the public settings at /console/config.json', async () => {
    const withJaeger = await app(dir, 'http://127.0.0.1:16686');
    expect((await withJaeger.inject({ url: '/console/config.json' })).json()).toEqual({
      jaegerUiUrl: 'http://127.0.0.1:16686',
    });
    await withJaeger.close();
    const without = await app(dir);
    expect((await without.inject({ url: '/console/config.json' })).json()).toEqual({ jaegerUiUrl: null });
    await without.close();
  });

  it('says how to build it when dist/console is missing', async () => {
    const fastify = await app(null);
    const res = await fastify.inject({ url: '/console/jobs' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'console_not_built' });
    await fastify.close();
  });

  it('finds dist/console from the built gateway and from its sources', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'quarry-root-'));
    mkdirSync(path.join(root, 'dist', 'console'), { recursive: true });
    writeFileSync(path.join(root, 'dist', 'console', 'index.html'), INDEX);
    const built = path.join(root, 'dist', 'apps', 'gateway', 'src', 'console');
    const source = path.join(root, 'apps', 'gateway', 'src', 'console');
    expect(findConsoleDir(built)).toBe(path.join(root, 'dist', 'console'));
    expect(findConsoleDir(source)).toBe(path.join(root, 'dist', 'console'));
    expect(findConsoleDir(tmpdir())).toBeNull();
  });
});
