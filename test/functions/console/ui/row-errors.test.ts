/** The upload form's row errors, read from what POST /datasets really answers for a bad row. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { createApp } from '../../../../functions/app.ts';
import { rowErrors } from '../../../../functions/console/ui/row-errors.ts';
import type { JobLauncher } from '../../../../functions/jobs/launcher.ts';
import { Registry } from '../../../../shared/registry/index.ts';

test('a bad row is shown with its line number', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'rows-')), 'bucket');
  mkdirSync(dir);
  const app = createApp({
    registry: Registry.fromUri(pathToFileURL(dir).href),
    launcher: {} as JobLauncher,
    apiKeys: ['k'],
    allowedDatasetBuckets: [],
    defaultBaseModel: 'base',
    downloads: 'stream',
    log: () => {},
    datasetChecks: { mode: 'inline' },
  });
  const res = await app.request('/datasets?name=a.jsonl', {
    method: 'POST',
    headers: { authorization: 'Bearer k', 'content-type': 'application/x-ndjson' },
    body: '{"text":"a","label":"x"}\n{"text":"b","label":"y"}\n{"text":"c"}\n',
  });
  assert.equal(res.status, 400);
  const errors = rowErrors((await res.json()) as Parameters<typeof rowErrors>[0]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].line, 3);
  assert.match(errors[0].reason, /label/);
});

test('a problem without line numbers keeps its reason', () => {
  assert.deepEqual(rowErrors({ detail: 'the dataset is empty' }), [{ line: null, reason: 'the dataset is empty' }]);
  assert.deepEqual(rowErrors({ 'invalid-params': [{ name: '(body)', reason: 'x.csv:12: bad quote' }] }), [
    { line: 12, reason: 'bad quote' },
  ]);
});
