/**
 * The trainer CLI end to end on a tiny random BERT: the exact SGD step contract, the files it writes,
 * that training lowers the loss, predict, and a precise error with a non-zero exit for each bad input.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { readDataset } from '../../shared/training-data/dataset.ts';
import { parameterSpecs, specFromAdapterConfig } from '../../trainer/model/params.ts';
import { initialParameters } from '../../trainer/model/weights.ts';
import { readAdapterDir } from '../../trainer/model-files/adapter-dir.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { writeRandomBert } from '../../trainer/model-files/random-bert.ts';
import { readSafetensors, writeSafetensors } from '../../trainer/model-files/safetensors.ts';
import { ModelSessions } from '../../trainer/sessions/model-sessions.ts';
import { collate } from '../../trainer/train/batching.ts';
import { resolveLabels } from '../../trainer/train/labels.ts';
import { Rng } from '../../trainer/util/random.ts';
import { flags, runTrainerCliSync, trainOn } from '../support/process.ts';
import { BERT_VOCAB_FILE, pairRows, toJsonl } from '../support/text-rows.ts';
import { writeTinyBert } from '../support/tiny-bert.ts';

const work = mkdtempSync(join(tmpdir(), 'trainer-cli-'));
const base = join(work, 'base');
const data = join(work, 'train.jsonl');

const cli = (...args: string[]) => runTrainerCliSync(args);
const train = trainOn(base, data);

/** A learnable toy task: "yes" rows draw their tokens from 28..47, "no" rows from 8..27. */
function toyRows(n: number, seed: number): string {
  const rng = new Rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 4 + rng.int(8);
    const label = rng.int(2);
    const ids = [2, ...Array.from({ length: len - 1 }, () => 8 + 20 * label + rng.int(20))];
    lines.push(JSON.stringify({ input_ids: ids, label: label === 1 ? 'yes' : 'no' }));
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `n` toy rows into `name` under the work directory and returns its path. */
function toyFile(name: string, n: number, seed: number): string {
  const p = join(work, name);
  writeFileSync(p, toyRows(n, seed));
  return p;
}

before(() => {
  writeTinyBert(base, { maxPositions: 32, vocabSize: 60 });
  writeFileSync(data, toyRows(48, 1));
});

test('one SGD step with lr 1 changes each trainable parameter by exactly minus its gradient', async () => {
  const out = join(work, 'sgd');
  const r = train(
    out,
    '--task toy --optimizer sgd --lr 1 --schedule constant --warmup-ratio 0 --weight-decay 0 --max-grad-norm 0 --dropout 0 --no-shuffle ' +
      '--max-steps 1 --batch-size 64 --init-std 0.05 --bottleneck 4 --seed 9 --quiet',
  );
  assert.equal(r.code, 0, r.stderr);
  const trained = readAdapterDir(out);
  // Rebuild the same initial values (same seed) and take the gradient from the step session directly.
  const baseModel = loadBaseModel(base);
  const spec = specFromAdapterConfig(trained.config);
  const specs = parameterSpecs(spec);
  const values = initialParameters(spec, specs, baseModel, new Rng(9));
  const { rows } = await readDataset(data, { vocabSize: 60, maxPositions: 32, typeVocabSize: 2, requireLabels: true, format: 'jsonl' });
  const { labelIndex } = resolveLabels(rows, trained.config.labels);
  const sessions = await ModelSessions.create(spec, values, { device: 'cpu', dropout: 0, seed: 9 });
  const { grads } = await sessions.step(collate(rows, labelIndex));
  const trainable = specs.filter((p) => p.trainable).map((p) => p.name);
  assert.deepEqual([...trained.tensors.keys()].sort(), [...trainable].sort(), 'the file holds exactly the trainable parameters');
  for (const name of trainable) {
    const before = values.get(name)!;
    const g = grads.get(name)!;
    const after = trained.tensors.get(name)!.data;
    for (let i = 0; i < before.length; i++) assert.equal(after[i], Math.fround(before[i] - g[i]), `${name}[${i}]`);
  }
  await sessions.release();
});

test('train writes the adapter files with the contract names, and the loss falls', () => {
  const out = join(work, 'adamw');
  const valid = toyFile('valid.jsonl', 32, 2);
  const r = train(
    out,
    '--task toy --lr 1e-2 --init-std 1e-2 --epochs 30 --batch-size 48 --warmup-ratio 0 --bottleneck 8 --adapter-layers 1 --dropout 0 --seed 1',
    '--validation',
    valid,
  );
  assert.equal(r.code, 0, r.stderr);
  // Ours, then the Python adapters library's files and the model card (trainer/model-files/adapterhub.ts).
  assert.deepEqual(readdirSync(out).sort(), [
    'README.md',
    'adapter.safetensors',
    'adapter_config.json',
    'head_config.json',
    'layernorms.safetensors',
    'metrics.json',
    'model_head.safetensors',
    'pytorch_adapter.bin',
    'pytorch_model_head.bin',
  ]);
  const names = [...readSafetensors(join(out, 'adapter.safetensors')).tensors.keys()];
  assert.ok(names.includes('bert.encoder.layer.1.attention.output.adapters.toy.adapter_down.0.weight'));
  assert.ok(names.includes('bert.encoder.layer.1.output.adapters.toy.adapter_up.bias'));
  assert.ok(!names.some((n) => n.includes('layer.0') && n.includes('adapters')), 'layer 0 has no adapter');
  assert.ok(names.includes('bert.embeddings.LayerNorm.weight') && names.includes('classifier.weight'));
  assert.ok(!names.some((n) => n.includes('query') || n.includes('word_embeddings')));
  const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  assert.deepEqual(config.labels, ['no', 'yes']);
  assert.equal(config.adapter.bottleneck, 8);
  assert.equal(config.base.weightsSha256, loadBaseModel(base).weightsSha256);
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.equal(metrics.steps.length, 30);
  const losses: number[] = metrics.steps.map((x: { loss: number }) => x.loss);
  console.log(
    `# full-batch loss ${losses[0].toFixed(4)} -> ${losses.at(-1)!.toFixed(4)}; validation ${JSON.stringify(metrics.validation.at(-1))}`,
  );
  assert.ok(losses.at(-1)! < losses[0] - 0.05, `loss should fall: ${losses[0]} -> ${losses.at(-1)}`);
  assert.equal(metrics.validation.length, 30);
  assert.ok(metrics.validation.at(-1).loss < metrics.validation[0].loss, 'validation loss falls too');
  assert.ok(metrics.parameters.trainable < metrics.parameters.total);
  assert.ok(metrics.peakRssMb > 0 && metrics.examplesPerSecond > 0);
  // The logs are JSON lines when stderr is not a terminal.
  const events = r.stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).event);
  assert.ok(events.includes('step') && events.includes('validation') && events.at(-1) === 'done');

  const pred = join(work, 'pred.jsonl');
  const p = cli('predict', '--base', base, '--adapter', out, '--data', valid, '--out', pred);
  assert.equal(p.code, 0, p.stderr);
  const preds = readFileSync(pred, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(preds.length, 32);
  for (const q of preds) {
    assert.equal(q.logits.length, 2);
    assert.ok(Math.abs(q.probs[0] + q.probs[1] - 1) < 1e-9);
    assert.ok(['no', 'yes'].includes(q.label));
  }
});

test('warm start: --init-adapter continues from the given adapter', () => {
  const first = join(work, 'warm-a');
  assert.equal(train(first, '--task toy --max-steps 2 --quiet').code, 0);
  const second = join(work, 'warm-b');
  const r = train(second, '--optimizer sgd --lr 1e-9 --max-steps 1 --quiet', '--init-adapter', first);
  assert.equal(r.code, 0, r.stderr);
  const [a, b] = [readAdapterDir(first), readAdapterDir(second)];
  assert.equal(b.config.task, 'toy');
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name)!.data;
    for (let i = 0; i < u.length; i++) assert.ok(Math.abs(u[i] - t.data[i]) < 1e-6, name);
  }
});

test('bad input: a precise message and a non-zero exit, and no output directory', () => {
  const bad = (file: string, text: string) => {
    const p = join(work, file);
    writeFileSync(p, text);
    return p;
  };
  const cases: [string, string[], RegExp][] = [
    ['missing base', ['--base', join(work, 'nope')], /nope/],
    ['labels outside --labels', ['--labels', 'no,maybe'], /yes/],
    ['empty data', ['--data', bad('empty.jsonl', '')], /no rows/],
    ['id out of vocabulary', ['--data', bad('oov.jsonl', '{"input_ids":[2,60],"label":"no"}\n{"input_ids":[2,5],"label":"yes"}\n')], /60/],
    [
      'too long',
      ['--data', bad('long.jsonl', `${JSON.stringify({ input_ids: Array(33).fill(5), label: 'no' })}\n`)],
      /exceeds the base.s longest sequence, 32 tokens/,
    ],
    ['malformed JSON', ['--data', bad('broken.jsonl', '{"input_ids":[2,5],"label":"no"}\n{"input_ids":[2,\n')], /:2:/],
    ['bad number', ['--lr', 'fast'], /--lr/],
    ['bad mode', ['--mode', 'lora'], /lora/],
    ['cuda without the provider', ['--device', 'cuda'], /CUDA/],
  ];
  for (const [name, override, pattern] of cases) {
    const out = join(work, `bad-${name.replace(/\W+/g, '-')}`);
    const args = new Map([
      ['--base', base],
      ['--data', data],
      ['--out', out],
      ['--max-steps', '1'],
    ]);
    const extra: string[] = [];
    for (let i = 0; i < override.length; i += 2) {
      if (args.has(override[i])) args.set(override[i], override[i + 1]);
      else extra.push(override[i], override[i + 1]);
    }
    const r = cli('train', ...[...args].flat(), ...extra, '--quiet');
    assert.notEqual(r.code, 0, `${name}: should fail`);
    assert.match(r.stderr, pattern, `${name}: ${r.stderr}`);
    assert.ok(!existsSync(out) || readdirSync(out).length === 0, `${name}: no adapter written`);
  }
  // TRAINER_DEVICE sets the default device (the GPU image sets cuda); an explicit --device wins.
  const viaEnv = runTrainerCliSync(
    ['train', '--base', base, '--data', data, '--out', join(work, 'env-cuda'), ...flags('--max-steps 1 --quiet')],
    {
      TRAINER_DEVICE: 'cuda',
    },
  );
  assert.notEqual(viaEnv.code, 0);
  assert.match(viaEnv.stderr, /CUDA/);
  const explicit = runTrainerCliSync(
    ['train', '--base', base, '--data', data, '--out', join(work, 'env-cpu'), ...flags('--max-steps 1 --quiet --device cpu')],
    {
      TRAINER_DEVICE: 'cuda',
    },
  );
  assert.equal(explicit.code, 0, explicit.stderr);
});

test('bad checkpoints name the tensor at fault', () => {
  const broken = join(work, 'broken-base');
  writeRandomBert(broken, { hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, vocabSize: 60, seed: 3 });
  const file = readSafetensors(join(broken, 'model.safetensors'));
  const tensors = new Map(
    [...file.tensors].map(([k, v]) => [
      k,
      { shape: v.shape, data: new Float32Array(v.bytes.buffer.slice(v.bytes.byteOffset, v.bytes.byteOffset + v.bytes.byteLength)) },
    ]),
  );
  tensors.delete('encoder.layer.1.output.dense.weight');
  writeSafetensors(join(broken, 'model.safetensors'), tensors);
  const r = cli('train', '--base', broken, '--data', data, '--out', join(work, 'x'), '--quiet');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /encoder\.layer\.1\.output\.dense\.weight/);

  writeFileSync(join(broken, 'config.json'), '{"hidden_size": ');
  const c = cli('train', '--base', broken, '--data', data, '--out', join(work, 'y'), '--quiet');
  assert.notEqual(c.code, 0);
  assert.match(c.stderr, /config\.json/);
});

test('--seeds runs each seed and writes the best one on validation; eval reproduces its metrics', () => {
  const out = join(work, 'seeds');
  const r = train(
    out,
    '--task toy --seeds 1,2,3 --validation-split 0.25 --lr 1e-2 --init-std 1e-2 --epochs 4 --batch-size 12 --dropout 0 --metric loss --quiet',
  );
  assert.equal(r.code, 0, r.stderr);
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(
    metrics.seeds.map((s: { seed: number }) => s.seed),
    [1, 2, 3],
  );
  assert.equal(metrics.trainExamples + metrics.validationExamples, 48);
  const bestLoss = Math.min(...metrics.seeds.map((s: { best: { loss: number } }) => s.best.loss));
  assert.equal(metrics.best.loss, bestLoss);
  assert.equal(metrics.seeds.find((s: { best: { loss: number } }) => s.best.loss === bestLoss).seed, metrics.selectedSeed);
  for (const key of ['accuracy', 'macroF1', 'mcc']) assert.equal(typeof metrics.best[key], 'number');

  // The written adapter is the selected seed's best checkpoint: evaluating it on the training file's rows
  // gives finite metrics, and on a labelled file eval prints all four metrics.
  const valid = toyFile('seeds-valid.jsonl', 20, 9);
  const e = cli('eval', '--base', base, '--adapter', out, '--data', valid, '--out', join(work, 'eval.json'));
  assert.equal(e.code, 0, e.stderr);
  const m = JSON.parse(e.stdout);
  assert.equal(m.examples, 20);
  assert.ok(m.loss > 0 && m.accuracy >= 0 && m.accuracy <= 1 && Math.abs(m.mcc) <= 1);
  assert.deepEqual(JSON.parse(readFileSync(join(work, 'eval.json'), 'utf8')), m);
});

test('evaluation on the validation file during training matches eval on the written best adapter', () => {
  const out = join(work, 'best');
  const valid = toyFile('best-valid.jsonl', 24, 4);
  const r = train(
    out,
    '--task toy --lr 1e-2 --init-std 1e-2 --epochs 3 --batch-size 8 --eval-steps 2 --dropout 0 --quiet',
    '--validation',
    valid,
  );
  assert.equal(r.code, 0, r.stderr);
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.equal(metrics.validation.length, 9, 'every 2 steps (6 per epoch) plus no duplicate at epoch ends');
  const e = JSON.parse(cli('eval', '--base', base, '--adapter', out, '--data', valid).stdout);
  assert.ok(Math.abs(e.loss - metrics.best.loss) < 1e-6, `${e.loss} vs ${metrics.best.loss}`);
  assert.equal(e.accuracy, metrics.best.accuracy);
});

test('early stopping ends a run after the patience runs out', () => {
  const out = join(work, 'early');
  const r = train(
    out,
    '--validation-split 0.25 --task toy --optimizer sgd --lr 1e-12 --epochs 20 --batch-size 12 --eval-steps 1 --early-stopping-patience 2 ' +
      '--metric loss --dropout 0 --quiet',
  );
  assert.equal(r.code, 0, r.stderr);
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.equal(metrics.seeds[0].stoppedEarly, true);
  assert.ok(metrics.steps.length < 20 * 3, `stopped after ${metrics.steps.length} steps`);
});

// Stopping a run mid-way and resuming it in-process (the step hook): test/trainer/train/trainer.test.ts.
test('--resume continues from the checkpoint in --checkpoint-dir and ends where the run that wrote it ended', () => {
  const common = '--task toy --lr 5e-3 --init-std 1e-2 --epochs 3 --batch-size 8 --dropout 0 --seed 5 --checkpoint-every 4';
  const straight = join(work, 'resume-a');
  const checkpoints = join(work, 'resume-checkpoint');
  assert.equal(train(straight, `${common} --quiet`, '--checkpoint-dir', checkpoints).code, 0);
  assert.ok(existsSync(join(checkpoints, '16', 'state.json')) && existsSync(join(checkpoints, 'latest.json')));
  const resumed = join(work, 'resume-b');
  const r = train(resumed, `${common} --resume`, '--checkpoint-dir', checkpoints);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; step?: number });
  assert.equal(events.find((e) => e.event === 'resume')?.step, 16, 'the last checkpoint of 18 steps');
  assert.deepEqual(
    events.filter((e) => e.event === 'step').map((e) => e.step),
    [17, 18],
  );
  const [a, b] = [readAdapterDir(straight), readAdapterDir(resumed)];
  for (const [name, t] of a.tensors) assert.deepEqual(b.tensors.get(name)!.data, t.data, name);
});

test('deterministic given a seed on CPU, dropout included', () => {
  const args = '--task toy --epochs 2 --batch-size 8 --dropout 0.1 --quiet';
  const [x, y] = [join(work, 'det-a'), join(work, 'det-b')];
  assert.equal(train(x, `${args} --seed 11`).code, 0);
  assert.equal(train(y, `${args} --seed 11`).code, 0);
  const [a, b] = [readAdapterDir(x), readAdapterDir(y)];
  for (const [name, t] of a.tensors) assert.deepEqual(b.tensors.get(name)!.data, t.data, name);
  const z = join(work, 'det-c');
  assert.equal(train(z, `${args} --seed 12`).code, 0);
  assert.notDeepEqual(readAdapterDir(z).tensors.get('classifier.weight')!.data, a.tensors.get('classifier.weight')!.data);
});

test("text rows go through the base model's WordPiece tokenizer (real vocab), in train, eval and predict", () => {
  const textBase = join(work, 'text-base');
  writeRandomBert(textBase, {
    hiddenSize: 16,
    numLayers: 1,
    numHeads: 2,
    intermediateSize: 32,
    maxPositions: 64,
    seed: 4,
    vocabFile: BERT_VOCAB_FILE,
  });
  const rows = toJsonl(pairRows(40));
  const file = join(work, 'rte40.jsonl');
  writeFileSync(file, rows);
  const out = join(work, 'text-adapter');
  const r = trainOn(textBase, file)(out, '--task rte --max-seq-len 24 --max-steps 2 --batch-size 8 --quiet');
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  assert.equal(config.maxSeqLen, 24);
  const e = cli('eval', '--base', textBase, '--adapter', out, '--data', file);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).examples, 40);
  const pred = join(work, 'text-pred.jsonl');
  writeFileSync(
    join(work, 'unlabelled.jsonl'),
    '{"text":"A man is playing a guitar.","text_pair":"Someone plays music."}\n{"text":"Café naïve 東京"}\n',
  );
  const p = cli('predict', '--base', textBase, '--adapter', out, '--data', join(work, 'unlabelled.jsonl'), '--out', pred);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(readFileSync(pred, 'utf8').trim().split('\n').length, 2);
  // A base that ships no vocabulary cannot take text rows, and says so.
  const bare = join(work, 'bare-base');
  mkdirSync(bare);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(base, f), join(bare, f));
  const t = cli('train', '--base', bare, '--data', file, '--out', join(work, 'no-vocab'), '--quiet');
  assert.notEqual(t.code, 0);
  assert.match(t.stderr, /rte40\.jsonl:1: .*need a tokenizer/);
});

test('CSV/TSV with named columns and --max-bad-rows: bad rows are skipped, counted and reported', () => {
  const tsv = join(work, 'reviews.tsv');
  const good = Array.from({ length: 12 }, (_, i) => `${i % 2 ? 'really great film' : 'awful boring movie'} ${i}\t${i % 2 ? 'pos' : 'neg'}`);
  writeFileSync(tsv, `${['sentence\tgold', ...good.slice(0, 6), 'a row without its label column', ...good.slice(6)].join('\n')}\n`);
  const textBase = join(work, 'text-base'); // written by the text-rows test above
  const args = ['train', '--base', textBase, '--data', tsv, ...flags('--text-column sentence --label-column gold --max-steps 1 --quiet')];
  const strict = cli(...args, '--out', join(work, 'tsv-strict'));
  assert.notEqual(strict.code, 0);
  assert.match(strict.stderr, /reviews\.tsv:8: .*header/);
  const lenient = cli(...args, '--max-bad-rows', '1', '--out', join(work, 'tsv-lenient'));
  assert.equal(lenient.code, 0, lenient.stderr);
  const m = JSON.parse(readFileSync(join(work, 'tsv-lenient', 'metrics.json'), 'utf8'));
  assert.equal(m.trainExamples, 12);
  assert.equal(m.skippedRows.train, 1);
  assert.equal(m.skippedRows.first[0].line, 8);
});
