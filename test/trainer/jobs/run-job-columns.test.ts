/**
 * A job's CSV column options (hyperparameters textColumn / textPairColumn / labelColumn, as POST /finetune
 * takes them) reach the trainer: a TSV whose columns are not named text/label trains and publishes with
 * them, the validation file read the same way; without them the same job fails naming the missing column.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Hyperparameters } from '../../../shared/job.ts';
import { Registry } from '../../../shared/registry/index.ts';
import { runJob } from '../../../trainer/jobs/run-job.ts';
import { writeTinyBert } from '../../support/tiny-bert.ts';

const work = mkdtempSync(join(tmpdir(), 'run-job-columns-'));
const uri = pathToFileURL(join(work, 'columns-registry')).href;
const registry = Registry.fromUri(uri);

/** Review/sentiment pairs with the label last: the default column names (text, label) are absent. */
function tsv(rows: number): Buffer {
  const words = { pos: ['good', 'great', 'fine'], neg: ['bad', 'awful', 'dull'] };
  const lines = ['id\treview\tsummary\tsentiment'];
  for (let i = 0; i < rows; i++) {
    const label = i % 2 ? 'pos' : 'neg';
    lines.push(`${i}\ta ${words[label][i % 3]} film\tit was ${words[label][(i + 1) % 3]}\t${label}`);
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

async function put(name: string, body: Buffer): Promise<string> {
  return registry.datasets.put(name, createHash('sha256').update(body).digest('hex'), body);
}

async function jobWith(jobId: string, hyperparameters: Hyperparameters) {
  await registry.jobs.create({
    format: 'adapter-store.job/v1',
    jobId,
    task: 'reviews',
    datasetUri: await put('train.tsv', tsv(32)),
    validationUri: await put('valid.tsv', tsv(8)),
    baseModel: 'tiny',
    createdAt: new Date().toISOString(),
    hyperparameters: { epochs: 1, batchSize: 8, bottleneck: 2, ...hyperparameters },
  });
  return runJob({ registry, jobId, device: 'cpu', threads: 1, statusInterval: 0, log: () => {} }, new AbortController().signal);
}

test("a job reads its TSV with the spec's column names, pairs included, and publishes", async () => {
  const base = join(work, 'tiny');
  writeTinyBert(base, { numLayers: 1 });
  await registry.models.upload('tiny', base, ['config.json', 'model.safetensors', 'vocab.txt']);

  const outcome = await jobWith('ft-columns', { textColumn: 'review', textPairColumn: 'summary', labelColumn: 'sentiment' });
  const { status } = outcome;
  assert.equal(outcome.kind, 'done', JSON.stringify(status.error));
  assert.equal(status.state, 'succeeded');
  const manifest = await registry.adapters.manifest('reviews', status.adapterVersion!);
  assert.deepEqual(manifest?.labels, ['neg', 'pos']);
  assert.equal(manifest?.metrics !== null, true, 'the validation file was read with the same columns');

  // The same job without them fails (and records it), naming the column it looked for.
  const failed = await jobWith('ft-no-columns', {});
  assert.equal(failed.kind, 'failed');
  assert.match(
    failed.kind === 'failed' ? failed.error.message : '',
    /no column "text" .* its columns are "id", "review", "summary", "sentiment"/,
  );
  assert.equal((await registry.jobs.status('ft-no-columns'))?.state, 'failed');
});
