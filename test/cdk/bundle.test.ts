/** A synth with real esbuild bundling: the API bundle holds the app and no onnxruntime-node; the inference bundle has it pruned. */

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CfnElement } from 'aws-cdk-lib';
import { INFERENCE_WORKER_FILE } from '../../cdk/inference.ts';
import { resourcesOf, synth } from './synth.ts';

test('the API function bundle is ESM, has the handler, and leaves onnxruntime-node out', { timeout: 60_000 }, (t) => {
  const outdir = mkdtempSync(join(tmpdir(), 'adapter-store-cdk-'));
  t.after(() => rmSync(outdir, { recursive: true, force: true }));
  const { stack, template } = synth({}, { bundle: true, outdir });

  const fnId = stack.getLogicalId(stack.api.handler.node.defaultChild as CfnElement);
  const [, fn] = resourcesOf(template, 'AWS::Lambda::Function').find(([lid]) => lid === fnId)!;
  const key = (fn.Code as { S3Key: string }).S3Key;
  assert.match(key, /^[0-9a-f]{64}\.zip$/);
  const dir = join(outdir, `asset.${key.slice(0, -'.zip'.length)}`);
  const files = readdirSync(dir).sort();
  assert.deepEqual(files, ['index.mjs', 'index.mjs.map']);
  const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
  assert.ok(code.length > 100_000, 'the app and the AWS SDK are bundled');
  assert.match(code, /export\s*\{[^}]*\bhandler\b[^}]*\}/, 'exports handler');
  assert.doesNotMatch(code, /onnxruntime/, 'no onnxruntime-node, not even as an external import');
  assert.doesNotMatch(code, /\.node["']/, 'no native addon is loaded');
  assert.ok(!existsSync(join(dir, 'node_modules')), 'no node_modules installed next to the bundle');
});

test('the inference function bundle: handler and worker bundles, onnxruntime-node pruned to linux/arm64, far under 250 MB', {
  timeout: 120_000,
}, (t) => {
  const outdir = mkdtempSync(join(tmpdir(), 'adapter-store-cdk-'));
  t.after(() => rmSync(outdir, { recursive: true, force: true }));
  const { stack, template } = synth({}, { bundle: true, outdir });

  const fnId = stack.getLogicalId(stack.inference.handler.node.defaultChild as CfnElement);
  const [, fn] = resourcesOf(template, 'AWS::Lambda::Function').find(([lid]) => lid === fnId)!;
  const key = (fn.Code as { S3Key: string }).S3Key;
  const dir = join(outdir, `asset.${key.slice(0, -'.zip'.length)}`);
  assert.deepEqual(
    readdirSync(dir).sort(),
    ['index.mjs', 'index.mjs.map', INFERENCE_WORKER_FILE, `${INFERENCE_WORKER_FILE}.map`, 'node_modules'].sort(),
  );
  const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
  assert.match(code, /export\s*\{[^}]*\bhandler\b[^}]*\}/, 'exports handler');
  // The worker loads onnxruntime-node from node_modules beside it (an external import, never bundled).
  const worker = readFileSync(join(dir, INFERENCE_WORKER_FILE), 'utf8');
  assert.ok(/from\s*"onnxruntime-node"|import\("onnxruntime-node"\)/.test(worker), 'the worker imports onnxruntime-node');
  assert.ok(!/\.node["']/.test(code) && !/\.node["']/.test(worker), 'no native addon is bundled');

  const binaries = join(dir, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
  assert.deepEqual(readdirSync(binaries), ['linux']);
  assert.deepEqual(readdirSync(join(binaries, 'linux')), ['arm64']);
  assert.ok(existsSync(join(binaries, 'linux', 'arm64', 'onnxruntime_binding.node')));
  assert.deepEqual(readdirSync(join(dir, 'node_modules')).sort(), ['onnxruntime-common', 'onnxruntime-node']);
  const bytes = treeBytes(dir);
  assert.ok(bytes < 80 * 1024 * 1024, `${(bytes / 1e6).toFixed(1)} MB unzipped`);
});

function treeBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (sum, e) => sum + (e.isDirectory() ? treeBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size),
    0,
  );
}
