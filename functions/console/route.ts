/**
 * Serves the console at /console: a static shell (no key needed to load it; every API call it makes
 * sends the key), its script and stylesheet, all from the app itself (no CDN), under a strict
 * Content-Security-Policy: scripts and styles from this origin only, no inline code, no eval.
 * Where the app also serves the in-browser runtime (/edge), the shell says so in a meta tag and the
 * policy lets the page compile WebAssembly (and nothing more): "Run in this browser" in Try it.
 */
import { createHash } from 'node:crypto';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.generated.ts';

/** Paths answered without a key (functions/app.ts PUBLIC_PATHS). */
export const CONSOLE_PUBLIC_PATHS = ['/console', '/console/', '/console/app.js', '/console/app.css'];

/** The meta tag naming the edge runtime's script (relative to the API root); the UI reads it (ui/edge.ts). */
export const EDGE_META = 'adapter-store-edge';

// Relative URLs: the shell at <root>/console loads <root>/console/app.js under any path prefix.
const indexHtml = (edge: boolean): string =>
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
  (edge ? `<meta name="${EDGE_META}" content="/edge/app.js">` : '') +
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

/**
 * With the edge runtime: onnxruntime-web compiles its .wasm (fetched from this origin) with
 * WebAssembly.instantiate, which a script-src without 'wasm-unsafe-eval' blocks. That keyword allows
 * WebAssembly compilation only; eval and new Function stay forbidden ('unsafe-eval' is not granted).
 * Its glue (.mjs) is a same-origin module ('self'), its fetches same-origin (connect-src 'self').
 */
export const CONSOLE_EDGE_CSP = { ...CONSOLE_CSP, scriptSrc: ["'self'", "'wasm-unsafe-eval'"] };

const etagOf = (body: string): string => `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;

/** `edge`: the app serves /edge/app.js (functions/edge/routes.ts), so the console may run adapters in the page. */
export function registerConsoleRoutes(app: OpenAPIHono, o: { edge?: boolean } = {}): void {
  const csp = o.edge ? CONSOLE_EDGE_CSP : CONSOLE_CSP;
  const headers = secureHeaders({ contentSecurityPolicy: csp, xFrameOptions: 'DENY' });
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
  asset('/console', indexHtml(o.edge === true), 'text/html; charset=utf-8');
  asset('/console/app.js', CONSOLE_JS, 'text/javascript; charset=utf-8');
  asset('/console/app.css', CONSOLE_CSS, 'text/css; charset=utf-8');
  app.get('/console/', (c) => c.redirect('../console', 301));
}
