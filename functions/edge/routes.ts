/**
 * The edge demo: a page at /edge that runs adapters in the browser (serving/web.ts), its
 * script, and onnxruntime-web's WASM files, served by the app itself (no CDN; no network at run time).
 * Public like /healthz: a page load carries no bearer key; the page asks for one and sends it with its
 * API calls. The assets come from the deployment (functions/edge/assets.ts on Node); without them, 404.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { ProblemError } from '../http/problem.ts';

/** onnxruntime-web's WASM backend (SIMD, threads when the page is cross-origin isolated): glue and binary. */
export const ORT_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'] as const;
export type EdgeFile = 'index.html' | 'app.js' | (typeof ORT_FILES)[number];

export const EDGE_PATHS = ['/edge', '/edge/', '/edge/app.js', ...ORT_FILES.map((f) => `/edge/ort/${f}`)];

export interface EdgeAsset {
  body: Uint8Array;
  /** The same bytes gzipped, when worth it (the WASM binary: 14 MB -> about a quarter). */
  gzip?: Uint8Array;
  contentType: string;
  /** A strong validator of the bytes. */
  etag: string;
}

export interface EdgeAssets {
  get(file: EdgeFile): Promise<EdgeAsset>;
}

export function registerEdgeRoutes(app: OpenAPIHono, assets: EdgeAssets): void {
  const serve = async (file: EdgeFile, c: { req: { header(n: string): string | undefined; method: string } }): Promise<Response> => {
    const a = await assets.get(file);
    // Revalidated on every load (304 when unchanged): the files change with the app, their paths do not.
    const headers: Record<string, string> = { etag: a.etag, 'cache-control': 'no-cache', 'content-type': a.contentType };
    headers['x-content-type-options'] = 'nosniff';
    if (
      c.req
        .header('if-none-match')
        ?.split(',')
        .some((t) => t.trim() === a.etag)
    )
      return new Response(null, { status: 304, headers });
    const gzip = a.gzip && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
    const body = gzip ? a.gzip! : a.body;
    if (a.gzip) headers.vary = 'accept-encoding';
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.byteLength);
    return new Response(c.req.method === 'HEAD' ? null : body, { status: 200, headers });
  };
  app.get('/edge', (c) => serve('index.html', c));
  app.get('/edge/', (c) => serve('index.html', c));
  app.get('/edge/app.js', (c) => serve('app.js', c));
  app.get('/edge/ort/:file', (c) => {
    const file = c.req.param('file');
    if (!(ORT_FILES as readonly string[]).includes(file))
      throw new ProblemError(404, 'not-found', `no WASM runtime file "${file}" here (${ORT_FILES.join(', ')})`);
    return serve(file as EdgeFile, c);
  });
}
