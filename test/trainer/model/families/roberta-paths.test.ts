/**
 * A RoBERTa base through the product's paths, by the CLI: train, predict and eval on pre-tokenized rows and on
 * text rows (its byte-level BPE from vocab.json + merges.txt written here), upload-base + run-job on text, and
 * the paths not built for it refusing it by name instead of writing BERT-shaped files.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { BaseError, parseBase } from '../../../../serving/base.ts';
import { Registry } from '../../../../shared/registry/index.ts';
import { ROBERTA_BOS, ROBERTA_EOS, writeRandomRoberta } from '../../../../trainer/model-files/random-roberta.ts';
import { readSafetensors } from '../../../../trainer/model-files/safetensors.ts';
import { runTrainerCli, runTrainerCliSync } from '../../../support/process.ts';

const work = mkdtempSync(join(tmpdir(), 'roberta-paths-'));
const base = join(work, 'base');
const data = join(work, 'rows.jsonl');
const adapter = join(work, 'adapter');
after(() => rmSync(work, { recursive: true, force: true }));

const MAX = 16;

// A byte-level BPE in RoBERTa's files ('Ġ' is a space's byte-level form): 'hello world' -> hello Ġwo r l d.
const BPE_VOCAB: Record<string, number> = {
  '<s>': 0,
  '<pad>': 1,
  '</s>': 2,
  '<unk>': 3,
  h: 4,
  e: 5,
  l: 6,
  o: 7,
  Ġ: 8,
  w: 9,
  r: 10,
  d: 11,
  he: 12,
  ll: 13,
  hell: 14,
  hello: 15,
  Ġw: 16,
  Ġwo: 17,
  '<mask>': 18,
};
const BPE_MERGES = '#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ w\nĠw o\n';
// Text rows with the ids RoBERTa's tokenizer gives them, worked out by hand from the merges above.
const TEXT_ROWS: { text: string; text_pair?: string; ids: number[] }[] = [
  { text: 'hello world', ids: [0, 15, 17, 10, 6, 11, 2] },
  { text: 'hello', text_pair: 'hello world', ids: [0, 15, 2, 2, 15, 17, 10, 6, 11, 2] },
  { text: 'world', ids: [0, 9, 7, 10, 6, 11, 2] },
  { text: 'hell', text_pair: 'old', ids: [0, 14, 2, 2, 7, 6, 11, 2] },
  { text: 'he hello', ids: [0, 12, 8, 15, 2] },
  { text: 'dell he', text_pair: 'row', ids: [0, 11, 5, 13, 8, 12, 2, 2, 10, 7, 9, 2] },
];
const textData = join(work, 'text.jsonl');
const idsData = join(work, 'text-ids.jsonl');
const textAdapter = join(work, 'text-adapter');
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
  writeFileSync(join(base, 'vocab.json'), JSON.stringify(BPE_VOCAB));
  writeFileSync(join(base, 'merges.txt'), BPE_MERGES);
  writeFileSync(data, rows());
  const jsonl = (f: (r: (typeof TEXT_ROWS)[number], i: number) => object) =>
    `${Array.from({ length: 24 }, (_, i) => JSON.stringify(f(TEXT_ROWS[i % TEXT_ROWS.length], i))).join('\n')}\n`;
  const label = (i: number) => (i % 2 ? 'pos' : 'neg');
  writeFileSync(
    textData,
    jsonl((r, i) => ({ text: r.text, ...(r.text_pair ? { text_pair: r.text_pair } : {}), label: label(i) })),
  );
  writeFileSync(
    idsData,
    jsonl((r, i) => ({ input_ids: r.ids, label: label(i) })),
  );
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

function predictLogits(adapterDir: string, rowsFile: string, name: string): number[][] {
  const out = join(work, `${name}.jsonl`);
  cli('predict', '--base', base, '--adapter', adapterDir, '--data', rowsFile, '--out', out);
  return readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).logits as number[]);
}

test("text rows: train and predict tokenize with the base's byte-level BPE; the logits are those of the hand-made ids", () => {
  cli('train', '--base', base, '--data', textData, '--out', textAdapter, '--task', 'txt', '--epochs', '2', '--bottleneck', '4', '--quiet');
  const fromText = predictLogits(textAdapter, textData, 'from-text');
  const fromIds = predictLogits(textAdapter, idsData, 'from-ids');
  assert.equal(fromText.length, 24);
  assert.deepEqual(fromText, fromIds);
  assert.ok(new Set(fromText.map((r) => r[0].toFixed(6))).size > 1, 'rows differ, so the comparison means something');
  cli('eval', '--base', base, '--adapter', textAdapter, '--data', textData, '--out', join(work, 'e.json'));
  assert.equal(JSON.parse(readFileSync(join(work, 'e.json'), 'utf8')).examples, 24);
});

test('upload-base keeps vocab.json + merges.txt, and run-job trains on a text dataset of the RoBERTa base', async () => {
  const root = join(work, 'registry');
  const uri = pathToFileURL(root).href;
  const up = await runTrainerCli(['upload-base', '--dir', base, '--name', 'rb', '--registry', uri]);
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual(readdirSync(join(root, 'models', 'rb')).sort(), ['config.json', 'merges.txt', 'model.safetensors', 'vocab.json']);
  const registry = Registry.fromUri(uri);
  const bytes = readFileSync(textData);
  const datasetUri = await registry.datasets.put('text.jsonl', createHash('sha256').update(bytes).digest('hex'), bytes);
  await registry.jobs.create({
    format: 'adapter-store.job/v1',
    jobId: 'ft-rb',
    task: 'rbtext',
    datasetUri,
    baseModel: 'rb',
    createdAt: new Date().toISOString(),
    hyperparameters: { epochs: 1, batchSize: 8, lr: 1e-2, bottleneck: 4, dropout: 0, validationSplit: 0.25 },
  });
  const r = await runTrainerCli(['run-job', '--registry', uri, '--job', 'ft-rb', '--status-interval', '0']);
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const status = await registry.jobs.status('ft-rb');
  assert.equal(status?.state, 'succeeded');
  const manifest = await registry.adapters.manifest('rbtext', status.adapterVersion!);
  assert.deepEqual(manifest?.labels, ['neg', 'pos']);
});

test('upload-base refuses a RoBERTa directory without a tokenizer, naming the files it looks for', () => {
  const bare = join(work, 'bare');
  writeRandomRoberta(bare, { hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 8, vocabSize: 20, maxSeqLen: 8, seed: 1 });
  const r = runTrainerCliSync(['upload-base', '--dir', bare, '--name', 'bare', '--registry', pathToFileURL(join(work, 'r2')).href]);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /no tokenizer file: expected tokenizer\.json, vocab\.json \+ merges\.txt, a SentencePiece \*\.model, or vocab\.txt for a roberta base/,
  );
});

test("train writes a RoBERTa adapter: roberta.* adapters, the dense + out_proj head, AdapterHub's RoBERTa fields", () => {
  const names = [...readSafetensors(join(adapter, 'adapter.safetensors')).tensors.keys()];
  assert.ok(names.includes('roberta.encoder.layer.1.output.adapters.sst.adapter_up.weight'));
  assert.ok(names.includes('roberta.embeddings.LayerNorm.weight'));
  for (const head of ['classifier.dense.weight', 'classifier.dense.bias', 'classifier.out_proj.weight', 'classifier.out_proj.bias'])
    assert.ok(names.includes(head), head);
  assert.ok(!names.some((n) => n.startsWith('bert.') || n.includes('pooler')), names.join(', '));
  const config = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
  assert.equal(config.base.config.model_type, 'roberta');
  assert.equal(config.base.usesPooler, false);
  assert.equal(config.model_type, 'roberta');
  assert.equal(config.model_class, 'RobertaAdapterModel');
  const head = JSON.parse(readFileSync(join(adapter, 'head_config.json'), 'utf8'));
  assert.deepEqual([head.config.layers, head.config.activation_function, head.config.use_pooler], [2, 'tanh', false]);
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

test('export --format adapterhub writes the library files: heads.<task>.1 (dense) and .4 (out_proj), roberta.* adapters; it reads back', () => {
  const out = join(work, 'export-adapterhub');
  const r = runTrainerCliSync(['export', '--base', base, '--adapter', adapter, '--out', out, '--format', 'adapterhub']);
  assert.equal(r.code, 0, r.stderr);
  const head = [...readSafetensors(join(out, 'model_head.safetensors')).tensors.keys()].sort();
  assert.deepEqual(head, ['heads.sst.1.bias', 'heads.sst.1.weight', 'heads.sst.4.bias', 'heads.sst.4.weight']);
  const names = [...readSafetensors(join(out, 'adapter.safetensors')).tensors.keys()];
  assert.ok(
    names.length > 0 && names.every((n) => n.startsWith('roberta.encoder.layer.') && n.includes('.adapters.sst.')),
    names.join(', '),
  );
  const card = readFileSync(join(out, 'README.md'), 'utf8');
  assert.match(card, /\n {2}- roberta\n/);
  assert.match(card, /Head: 2 linear layers \(tanh between\) on the first token's hidden state, 2 labels/);
  // The export is an adapter directory again: predict on it gives the trained adapter's logits.
  assert.deepEqual(predictLogits(out, data, 'from-export'), predictLogits(adapter, data, 'from-trained'));
});

test("the serving runtime reads a RoBERTa base (roberta.* names, the BPE tokenizer, RoBERTa's pad id); an unknown model_type is refused with the supported list", async () => {
  const tokenizer = {
    vocabJson: { name: 'vocab.json', text: readFileSync(join(base, 'vocab.json'), 'utf8') },
    mergesTxt: { name: 'merges.txt', text: BPE_MERGES },
  };
  const files = (config: string) => ({ config, weights: readFileSync(join(base, 'model.safetensors')), tokenizer });
  const config = readFileSync(join(base, 'config.json'), 'utf8');
  const { base: served, weights } = await parseBase('rb', files(config));
  assert.ok(weights.has('roberta.encoder.layer.1.output.dense.weight'));
  assert.ok(served.layerNorms.has('roberta.embeddings.LayerNorm.weight'));
  assert.equal(served.tokenizer.padId, 1);
  assert.deepEqual(served.tokenizer.encode('hello', 'hello world').inputIds, TEXT_ROWS[1].ids);
  const gpt = JSON.stringify({ ...JSON.parse(config), model_type: 'gpt2' });
  await assert.rejects(
    parseBase('g', files(gpt)),
    (e: Error) =>
      e instanceof BaseError &&
      /base "g": config.json: model_type "gpt2" is not one of "bert", "roberta", "xlm-roberta", "electra", "distilbert"/.test(e.message),
  );
});
