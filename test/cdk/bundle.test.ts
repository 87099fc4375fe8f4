/** A synth with real esbuild bundling: the Lambda bundle holds the app and no onnxruntime-node. */

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CfnElement } from 'aws-cdk-lib';
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
