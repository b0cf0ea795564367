import fastifyStatic from '@fastify/static';
import type { AppConfig } from '@quarry/config';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Where the web console is served: a Fastify scope of its own, outside /v1, Nest's router and the OpenAPI document. */
export const CONSOLE_PREFIX = '/console';

/**
 * Only the gateway's own origin: the console's scripts, styles and API calls all come from here, nothing inline,
 * nothing from a CDN, and no page may frame it.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The built console (`dist/console`, made by scripts/build.mjs), from the built gateway or its sources. */
export function findConsoleDir(from: string = __dirname): string | null {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate =
      path.basename(dir) === 'dist' ? path.join(dir, 'console') : path.join(dir, 'dist', 'console');
    if (existsSync(path.join(candidate, 'index.html'))) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

/**
 * Serves the web console at /console without an API key (it holds no data; every call it makes carries the key the
 * person signs in with): hashed assets cached for a year, index.html for every other path under /console (the
 * app's own routes), and /console/config.json with the few public settings the app needs.
 */
export async function registerConsole(
  fastify: FastifyInstance,
  config: Pick<AppConfig, 'http'>,
  dir: string | null = findConsoleDir(),
): Promise<void> {
  await fastify.register(
    async (scope) => {
      scope.addHook('onSend', async (_request, reply, payload) => {
        void reply.header('content-security-policy', CONSOLE_CSP);
        void reply.header('x-content-type-options', 'nosniff');
        void reply.header('referrer-policy', 'no-referrer');
        void reply.header('x-frame-options', 'DENY');
        return payload;
      });

      scope.get('/config.json', async (_request, reply) => {
        void reply.header('cache-control', 'no-cache');
        return { jaegerUiUrl: config.http.jaegerUiUrl ?? null };
      });

      if (!dir) {
        // A gateway started from sources that were never built: say how to get the console rather than a bare 404.
        const notBuilt = async (_request: unknown, reply: FastifyReply) =>
          reply.code(503).header('cache-control', 'no-store').send({
            code: 'console_not_built',
            message: 'the web console is not built: run node scripts/build.mjs',
          });
        scope.get('/', notBuilt);
        scope.get('/*', notBuilt);
        return;
      }

      const indexHtml = readFileSync(path.join(dir, 'index.html'));
      const sendIndex = (reply: FastifyReply) =>
        reply.code(200).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(indexHtml);

      await scope.register(fastifyStatic, {
        root: dir,
        prefix: '/',
        decorateReply: false,
        index: false,
        redirect: false,
        list: false,
        dotfiles: 'deny',
        cacheControl: false,
        schemaHide: true,
        setHeaders: (reply, file) => {
          // Vite names every asset after its content: a new build is a new name, so an old one never changes.
          const immutable = file.startsWith(path.join(dir, 'assets') + path.sep);
          void reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
        },
      });

      // The app's routes (/console/jobs/…) are index.html; a missing file with an extension is a plain 404.
      scope.setNotFoundHandler(async (request, reply) => {
        const pathname = request.url.split('?')[0] ?? '';
        if ((request.method === 'GET' || request.method === 'HEAD') && !path.extname(pathname)) {
          return sendIndex(reply);
        }
        return reply
          .code(404)
          .header('cache-control', 'no-store')
          .send({ code: 'not_found', message: `${request.method} ${pathname} not found` });
      });
      scope.get('/', async (_request, reply) => sendIndex(reply));
    },
    { prefix: CONSOLE_PREFIX },
  );
}
