/**
 * /console: the shell and its assets load without a key, under a strict CSP, while every API route
 * still needs one; the embedded bundle is the build of the current ui/ source and within its budget.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type AppDeps, createApp } from '../../../functions/app.ts';
import { CONSOLE_CSS, CONSOLE_JS } from '../../../functions/console/assets.generated.ts';
import { assetsModule, buildConsoleAssets, GENERATED, gzipBytes, MAX_GZIP_BYTES } from '../../../functions/console/build.ts';
import type { EdgeAssets } from '../../../functions/edge/routes.ts';
import type { JobLauncher } from '../../../functions/jobs/launcher.ts';
import type { Registry } from '../../../shared/registry/index.ts';

// The console routes touch neither the registry nor the launcher.
const deps: AppDeps = {
  registry: {} as Registry,
  launcher: {} as JobLauncher,
  apiKeys: ['sekrit'],
  allowedDatasetBuckets: [],
  defaultBaseModel: 'base',
  downloads: 'stream',
  log: () => {},
};
const app = createApp(deps);

test('the shell loads without a key, with a strict Content-Security-Policy and no inline script', async () => {
  const res = await app.request('/console');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.match(csp, /connect-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const html = await res.text();
  assert.match(html, /<script type="module" src="console\/app\.js"><\/script>/);
  assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script');
  assert.doesNotMatch(html, /\sstyle=|<style/, 'no inline style');
  assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
  assert.doesNotMatch(html, /adapter-store-edge/, 'no edge runtime offered where the app serves none');
});

test('with the edge runtime served, the shell names its script and the CSP adds WebAssembly compilation only', async () => {
  const edge: EdgeAssets = { get: () => Promise.reject(new Error('not asked for')) };
  const res = await createApp({ ...deps, edge }).request('/console');
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /connect-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|(?<!wasm-)unsafe-eval|https?:|blob:/);
  const html = await res.text();
  assert.match(html, /<meta name="adapter-store-edge" content="\/edge\/app\.js">/);
  assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script');
});

test('the script and stylesheet are served by the app, revalidated by ETag', async () => {
  const js = await app.request('/console/app.js');
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.equal(await js.text(), CONSOLE_JS);
  const etag = js.headers.get('etag')!;
  assert.match(etag, /^"[0-9a-f]{32}"$/);
  assert.equal((await app.request('/console/app.js', { headers: { 'if-none-match': etag } })).status, 304);
  const css = await app.request('/console/app.css');
  assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
  assert.equal(await css.text(), CONSOLE_CSS);
  assert.equal((await app.request('/console/')).headers.get('location'), '../console');
});

test('API routes still need the key; other /console paths are not public', async () => {
  assert.equal((await app.request('/adapters')).status, 401);
  assert.equal((await app.request('/finetune')).status, 401); // (/docs and /openapi.json are public: functions/routes/meta.ts)
  assert.equal((await app.request('/console/other.js')).status, 401);
  assert.equal((await app.request('/console', { method: 'POST' })).status, 405);
});

test('the embedded bundle is the build of ui/ and within 150 KB gzipped', async (t) => {
  const built = await buildConsoleAssets();
  assert.ok(
    readFileSync(GENERATED, 'utf8') === assetsModule(built),
    'functions/console/assets.generated.ts is stale: run npm run build:console',
  );
  const gz = gzipBytes(built.js);
  t.diagnostic(`app.js ${built.js.length} B, ${gz} B gzipped; app.css ${built.css.length} B, ${gzipBytes(built.css)} B gzipped`);
  assert.ok(gz <= MAX_GZIP_BYTES, `app.js is ${gz} B gzipped, over ${MAX_GZIP_BYTES}`);
  assert.doesNotMatch(built.js, /\beval\(|new Function\(/, 'no eval (the CSP forbids it)');
});
