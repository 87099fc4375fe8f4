/**
 * The edge page's files on Node (`npm start`): the page, its script bundled by esbuild from
 * functions/edge/page.ts on first request (a server nobody opens /edge on pays nothing), and
 * onnxruntime-web's WASM files from its package. Kept in memory once read.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { EdgeAsset, EdgeAssets, EdgeFile } from './routes.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const PAGE_ENTRY = join(HERE, 'page.ts');

/** dist/ of the installed onnxruntime-web (its exports map hides package.json, so resolve a listed file). */
function ortDist(): string {
  return dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
}

export interface EdgeBundle {
  js: Uint8Array;
  gzipBytes: number;
}

/**
 * The page script: ES module, minified, for current browsers. onnxruntime-web's "extern wasm" build: its
 * glue (.mjs) and binary (.wasm) are fetched from `wasmPaths` at run time, not inlined.
 */
export async function buildEdgeBundle(): Promise<EdgeBundle> {
  const esbuild = await import('esbuild'); // a dev dependency: loaded only when the page is asked for
  const out = await esbuild.build({
    entryPoints: [PAGE_ENTRY],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    conditions: ['onnxruntime-web-use-extern-wasm'],
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const js = out.outputFiles[0].contents;
  return { js, gzipBytes: gzipSync(js).byteLength };
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Adapter store: in the browser</title>
<style>body{font:15px system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.6rem 0 .2rem}input,textarea{width:100%;box-sizing:border-box;font:inherit}pre{background:#f4f4f4;padding:.6rem;white-space:pre-wrap}</style>
</head>
<body>
<h1>Run an adapter in this page</h1>
<p>The base is downloaded once and kept in this browser (Cache API); adapters come from the store. Inference runs here, in WebAssembly.</p>
<form id="predict">
<label for="key">API key</label><input id="key" type="password" autocomplete="off" required>
<label for="task">Task</label><input id="task" required>
<label for="version">Version (empty: newest)</label><input id="version">
<label for="texts">Texts, one per line</label><textarea id="texts" rows="5" required></textarea>
<p><button type="submit">Predict</button></p>
</form>
<pre id="out" aria-live="polite"></pre>
<script type="module" src="/edge/app.js"></script>
</body>
</html>
`;

const sha = (b: Uint8Array): string => `"${createHash('sha256').update(b).digest('hex')}"`;
const asset = (body: Uint8Array, contentType: string, gzip = false): EdgeAsset => ({
  body,
  contentType,
  etag: sha(body),
  gzip: gzip ? gzipSync(body) : undefined,
});

export function edgeAssets(): EdgeAssets {
  const cache = new Map<EdgeFile, Promise<EdgeAsset>>();
  const load = async (file: EdgeFile): Promise<EdgeAsset> => {
    switch (file) {
      case 'index.html':
        return asset(new TextEncoder().encode(PAGE), 'text/html; charset=utf-8');
      case 'app.js':
        return asset((await buildEdgeBundle()).js, 'text/javascript; charset=utf-8', true);
      case 'ort-wasm-simd-threaded.mjs':
        return asset(await readFile(join(ortDist(), file)), 'text/javascript; charset=utf-8', true);
      case 'ort-wasm-simd-threaded.wasm':
        return asset(await readFile(join(ortDist(), file)), 'application/wasm', true);
    }
  };
  return {
    get(file) {
      let p = cache.get(file);
      if (!p) {
        p = load(file);
        cache.set(file, p);
        p.catch(() => cache.delete(file));
      }
      return p;
    },
  };
}
