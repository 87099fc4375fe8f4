/**
 * GET /adapters/:task/versions/:version/metrics: a version's metrics.json inline (the loss and
 * learning-rate curves, the evaluations, the best checkpoint), for pages that draw them. The download
 * route serves the same bytes as an attachment (or a redirect on AWS).
 */
import { Readable } from 'node:stream';
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { StoreDeps } from '../app.ts';
import { ProblemError } from '../http/problem.ts';
import { AdapterMetricsSchema, VersionParams } from '../schemas.ts';
import { problemResponses } from './common.ts';

const getMetrics = createRoute({
  method: 'get',
  path: '/adapters/{task}/versions/{version}/metrics',
  tags: ['adapters'],
  summary: "A version's training metrics (metrics.json)",
  request: { params: VersionParams },
  responses: {
    200: {
      description: 'metrics.json as published (immutable: `ETag` is its sha256 from the manifest).',
      content: { 'application/json': { schema: AdapterMetricsSchema } },
    },
    304: { description: 'Not modified (If-None-Match matched the ETag).' },
    ...problemResponses(400, 401, 404),
  },
});

export function registerAdapterMetricsRoute(app: OpenAPIHono, deps: StoreDeps): void {
  const { registry } = deps;
  app.openapi(getMetrics, async (c) => {
    const { task, version } = c.req.valid('param');
    const manifest = await registry.adapters.manifest(task, version);
    const entry = manifest?.files.find((f) => f.name === 'metrics.json');
    if (!manifest || !entry)
      throw new ProblemError(404, 'not-found', `task "${task}" has no version "${version}" with metrics`, [
        { name: 'version', reason: manifest ? 'the version has no metrics.json' : 'no such version' },
      ]);
    const headers = { etag: `"${entry.sha256}"`, 'cache-control': 'private, max-age=31536000, immutable' };
    if ((c.req.header('if-none-match') ?? '').split(',').some((t) => t.trim().replace(/^W\//, '') === headers.etag))
      return new Response(null, { status: 304, headers });
    const body = await registry.adapters.openFile(task, version, 'metrics.json');
    if (!body)
      throw new Error(
        `${registry.uriOf(registry.adapters.fileKey(task, version, 'metrics.json'))} is in the manifest but not in the store`,
      );
    return new Response(Readable.toWeb(body.stream) as ReadableStream<Uint8Array>, {
      status: 200,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(body.size) },
    });
  });
}
