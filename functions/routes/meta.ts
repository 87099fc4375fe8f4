/** /healthz, /openapi.json (generated from the validating schemas) and /docs: the routes that need no key. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { withTrainingDefaults } from '../http/openapi-defaults.ts';
import { HealthSchema } from '../schemas.ts';
import { type DocsInput, docsPage } from './docs-page.ts';

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

export function registerMetaRoutes(app: OpenAPIHono): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key from the deployment configuration.',
  });
  app.openapi(health, (c) => c.json({ status: 'ok' as const }, 200));
  // Generated per request, like app.doc, with the trainer's defaults added (the console's form shows them).
  app.get('/openapi.json', (c) => c.json(withTrainingDefaults(app.getOpenAPIDocument(OPENAPI_INFO))));

  // Rendered from the same document (docs-page.ts), so it never disagrees with /openapi.json.
  app.get('/docs', (c) => c.html(docsPage(app.getOpenAPIDocument(OPENAPI_INFO) as DocsInput)));
}
