/** /healthz, /openapi.json (generated from the validating schemas) and /docs: the routes that need no key. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { HealthSchema } from '../schemas.ts';

export const OPENAPI_INFO = {
  openapi: '3.0.3',
  info: {
    title: 'Adapter store',
    version: '1',
    description: 'Fine-tune bottleneck adapters on a frozen BERT and serve them. Errors are application/problem+json (RFC 9457).',
  },
  security: [{ bearer: [] }],
};

/**
 * The documentation is public: a browser opening /docs cannot send a bearer header, and a page asking for
 * a key before showing how to get one helps nobody. Nothing in it is secret or deployment-specific: it is
 * the request and response schemas of this open-source code (no keys, buckets, bases, jobs or adapters),
 * and every route it describes still checks the key. The console (/console) is public for the same reason
 * and asks for the key itself when it reads data.
 */
export const DOCS_PUBLIC_PATHS = ['/docs', '/openapi.json'];

const health = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['meta'],
  summary: 'Liveness (no auth)',
  security: [],
  responses: { 200: { description: 'The service is up.', content: { 'application/json': { schema: HealthSchema } } } },
});

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function registerMetaRoutes(app: OpenAPIHono): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key from the deployment configuration.',
  });
  app.openapi(health, (c) => c.json({ status: 'ok' as const }, 200));
  app.doc('/openapi.json', OPENAPI_INFO);

  // A self-contained page (no CDN: it works offline and inside a VPC) rendered from the same document.
  app.get('/docs', (c) => {
    const doc = app.getOpenAPIDocument(OPENAPI_INFO);
    const rows: string[] = [];
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const method of ['get', 'post', 'put', 'delete'] as const) {
        const op = item?.[method];
        if (!op) continue;
        rows.push(
          `<section><h2><code>${method.toUpperCase()} ${escapeHtml(path)}</code></h2><p>${escapeHtml(op.summary ?? '')}</p>` +
            (op.description ? `<p>${escapeHtml(op.description)}</p>` : '') +
            `<p>Responses: ${Object.keys(op.responses ?? {})
              .map(escapeHtml)
              .join(', ')}</p></section>`,
        );
      }
    }
    return c.html(
      `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)}</title>` +
        `<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}h2{font-size:1rem}</style></head><body>` +
        `<h1>${escapeHtml(doc.info.title)} API</h1><p>${escapeHtml(doc.info.description ?? '')}</p>` +
        `<p>Every route but <code>/healthz</code> and this documentation needs <code>Authorization: Bearer &lt;key&gt;</code>. ` +
        `The machine-readable description is <a href="openapi.json"><code>/openapi.json</code></a>.</p>${rows.join('')}</body></html>`,
    );
  });
}
