/**
 * Serves the console at /console: a static shell (no key needed to load it; every API call it makes
 * sends the key), its script and stylesheet, all from the app itself (no CDN), under a strict
 * Content-Security-Policy: scripts and styles from this origin only, no inline code, no eval.
 */
import { createHash } from 'node:crypto';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.generated.ts';

/** Paths answered without a key (functions/app.ts PUBLIC_PATHS). */
export const CONSOLE_PUBLIC_PATHS = ['/console', '/console/', '/console/app.js', '/console/app.css'];

// Relative URLs: the shell at <root>/console loads <root>/console/app.js under any path prefix.
const INDEX_HTML =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
  '<title>Adapter store</title><link rel="icon" href="data:,"><link rel="stylesheet" href="console/app.css">' +
  '<script type="module" src="console/app.js"></script></head><body><noscript>The console needs JavaScript.</noscript></body></html>';

export const CONSOLE_CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
  objectSrc: ["'none'"],
};

const etagOf = (body: string): string => `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;

export function registerConsoleRoutes(app: OpenAPIHono): void {
  const headers = secureHeaders({ contentSecurityPolicy: CONSOLE_CSP, xFrameOptions: 'DENY' });
  app.use('/console', headers);
  app.use('/console/*', headers);

  const asset = (path: string, body: string, type: string) => {
    const etag = etagOf(body);
    app.get(path, (c) => {
      // Revalidated on each load (the ETag answers 304), so a new deployment shows at once.
      c.header('cache-control', 'no-cache');
      c.header('etag', etag);
      if (c.req.header('if-none-match') === etag) return c.body(null, 304);
      c.header('content-type', type);
      return c.body(body);
    });
  };
  asset('/console', INDEX_HTML, 'text/html; charset=utf-8');
  asset('/console/app.js', CONSOLE_JS, 'text/javascript; charset=utf-8');
  asset('/console/app.css', CONSOLE_CSS, 'text/css; charset=utf-8');
  app.get('/console/', (c) => c.redirect('../console', 301));
}
