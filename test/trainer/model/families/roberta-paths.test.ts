/**
 * A RoBERTa base through the product's paths, by the CLI: train (pre-tokenized rows; its BPE tokenizer is
 * built elsewhere), predict and eval on the adapter, and the paths not built for it (export onnx and
 * adapterhub, the serving runtime) refusing it by name instead of writing BERT-shaped files.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BaseError, parseBase } from '../../../../serving/base.ts';
import { ROBERTA_BOS, ROBERTA_EOS, writeRandomRoberta } from '../../../../trainer/model-files/random-roberta.ts';
import { readSafetensors } from '../../../../trainer/model-files/safetensors.ts';
import { runTrainerCliSync } from '../../../support/process.ts';

const work = mkdtempSync(join(tmpdir(), 'roberta-paths-'));
const base = join(work, 'base');
const data = join(work, 'rows.jsonl');
const adapter = join(work, 'adapter');
after(() => rmSync(work, { recursive: true, force: true }));

const MAX = 16;
// <s> w.. </s> and pairs <s> a </s></s> b </s>, of lengths 4 to MAX: batches mix lengths, so rows are padded.
function rows(): string {
  const out: string[] = [];
  for (let i = 0; i < 20; i++) {
    const n = 2 + (i % (MAX - 3));
    const w = Array.from({ length: n }, (_, j) => 5 + ((i * 7 + j * 3) % 40));
    const ids =
      i % 3 === 0
        ? [ROBERTA_BOS, ...w.slice(0, 1), ROBERTA_EOS, ROBERTA_EOS, ...w.slice(1), ROBERTA_EOS]
        : [ROBERTA_BOS, ...w, ROBERTA_EOS];
    out.push(JSON.stringify({ input_ids: ids.slice(0, MAX), label: i % 2 ? 'pos' : 'neg' }));
  }
  return `${out.join('\n')}\n`;
}

function cli(...args: string[]): string {
  const r = runTrainerCliSync([...args, '--threads', '1']);
  assert.equal(r.code, 0, `${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

before(() => {
  writeRandomRoberta(base, {
    hiddenSize: 16,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 24,
    vocabSize: 50,
    maxSeqLen: MAX,
    seed: 4,
    pooler: true,
  });
  writeFileSync(data, rows());
  cli(
    'train',
    '--base',
    base,
    '--data',
    data,
    '--out',
    adapter,
    '--task',
    'sst',
    '--epochs',
    '2',
    '--bottleneck',
    '4',
    '--lr',
    '1e-2',
    '--quiet',
  );
});

test('train writes a RoBERTa adapter: roberta.* adapters, the dense + out_proj head, no AdapterHub (BERT) fields', () => {
  const names = [...readSafetensors(join(adapter, 'adapter.safetensors')).tensors.keys()];
  assert.ok(names.includes('roberta.encoder.layer.1.output.adapters.sst.adapter_up.weight'));
  assert.ok(names.includes('roberta.embeddings.LayerNorm.weight'));
  for (const head of ['classifier.dense.weight', 'classifier.dense.bias', 'classifier.out_proj.weight', 'classifier.out_proj.bias'])
    assert.ok(names.includes(head), head);
  assert.ok(!names.some((n) => n.startsWith('bert.') || n.includes('pooler')), names.join(', '));
  const config = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
  assert.equal(config.base.config.model_type, 'roberta');
  assert.equal(config.base.usesPooler, false);
  assert.equal(config.model_type, undefined);
  assert.equal(config.model_class, undefined);
});

test('predict: a row padded in a batch gets the logits it gets alone (positions of pads leak nowhere)', () => {
  const logitsAt = (batchSize: string) => {
    const out = join(work, `pred-${batchSize}.jsonl`);
    cli('predict', '--base', base, '--adapter', adapter, '--data', data, '--out', out, '--batch-size', batchSize);
    return readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).logits as number[]);
  };
  const alone = logitsAt('1');
  const batched = logitsAt('32');
  assert.equal(alone.length, 20);
  const worst = Math.max(...alone.flatMap((row, r) => row.map((v, c) => Math.abs(v - batched[r][c]))));
  assert.ok(worst < 1e-5, `worst difference ${worst}`);
  assert.ok(new Set(alone.map((r) => r[0].toFixed(6))).size > 1, 'rows differ, so the comparison means something');
});

test('eval reports metrics over every row', () => {
  const out = join(work, 'eval.json');
  cli('eval', '--base', base, '--adapter', adapter, '--data', data, '--out', out);
  const m = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(m.examples, 20);
  assert.ok(m.accuracy >= 0 && m.accuracy <= 1);
});

test('a row longer than the position table holds after the pad offset is refused', () => {
  const long = join(work, 'long.jsonl');
  writeFileSync(long, `${JSON.stringify({ input_ids: [0, ...Array(MAX - 1).fill(5), 2], label: 'pos' })}\n`);
  const r = runTrainerCliSync([
    'predict',
    '--base',
    base,
    '--adapter',
    adapter,
    '--data',
    long,
    '--out',
    join(work, 'x.jsonl'),
    '--threads',
    '1',
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /sequence of 17 tokens exceeds/);
});

for (const [format, path] of [
  ['onnx', 'export onnx'],
  ['adapterhub', 'export --format adapterhub'],
] as const) {
  test(`export --format ${format} refuses RoBERTa by name and writes nothing`, () => {
    const out = join(work, `export-${format}`);
    const r = runTrainerCliSync(['export', '--base', base, '--adapter', adapter, '--out', out, '--format', format]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(`${path.replace(/[-]/g, '\\-')} is not yet supported for roberta \\(supported for it: train, eval, predict\\)`),
    );
    assert.ok(!existsSync(out));
  });
}

test('the serving runtime refuses a RoBERTa base by name, and an unknown model_type with the supported list', async () => {
  const files = (config: string) => ({ config, weights: readFileSync(join(base, 'model.safetensors')), tokenizer: {} });
  const config = readFileSync(join(base, 'config.json'), 'utf8');
  await assert.rejects(
    parseBase('rb', files(config)),
    (e: Error) => e instanceof BaseError && /^base "rb": config.json: serving is not yet supported for roberta/.test(e.message),
  );
  const gpt = JSON.stringify({ ...JSON.parse(config), model_type: 'gpt2' });
  await assert.rejects(
    parseBase('g', files(gpt)),
    /base "g": config.json: model_type "gpt2" is not one of "bert", "roberta", "xlm-roberta", "electra", "distilbert"/,
  );
});
