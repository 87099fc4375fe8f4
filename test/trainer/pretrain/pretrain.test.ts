/**
 * `trainer pretrain` end to end on a tiny BERT and a small generated corpus: the MLM loss falls, the
 * output is a BertForMaskedLM directory the trainer's base loader and `train` accept, a stopped run
 * resumes to the very same bytes, packing wastes nothing, and bad data fails with the reader's message.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBaseModel } from '../../../trainer/model-files/base-model.ts';
import { readSafetensors } from '../../../trainer/model-files/safetensors.ts';
import { pretrainOptions } from '../../../trainer/pretrain/command.ts';
import { readCorpus } from '../../../trainer/pretrain/corpus.ts';
import { DEFAULT_VOCAB, pretrain } from '../../../trainer/pretrain/pretrain.ts';
import { readVocabulary } from '../../../trainer/pretrain/vocabulary.ts';
import { loadBertTokenizer } from '../../../trainer/tokenizer/bert-tokenizer.ts';
import { trainDefaults } from '../../../trainer/train/defaults.ts';
import { train } from '../../../trainer/train/trainer.ts';
import { Rng } from '../../../trainer/util/random.ts';
import { flags, runTrainerCli } from '../../support/process.ts';

const tmp = mkdtempSync(join(tmpdir(), 'pretrain-'));
const SUBJECTS = ['the cat', 'a dog', 'my friend', 'the old man', 'this movie', 'the actor'];
const VERBS = ['was', 'seemed', 'looked', 'felt'];
const ADJ = ['good', 'bad', 'great', 'terrible', 'funny', 'boring', 'beautiful'];

/** Reviews of a tiny grammar: learnable in a few steps (the loss falls fast from ln 30522). */
function writeCorpus(path: string, docs: number, seed: number): void {
  const rng = new Rng(seed);
  const pick = <T>(xs: T[]) => xs[rng.int(xs.length)];
  const lines: string[] = [];
  for (let d = 0; d < docs; d++) {
    const sentences = Array.from({ length: 2 + rng.int(4) }, () => `${pick(SUBJECTS)} ${pick(VERBS)} ${pick(ADJ)} and ${pick(ADJ)}.`);
    lines.push(JSON.stringify({ text: sentences.join(' '), label: rng.int(2) }));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}
const data = join(tmp, 'corpus.jsonl');
writeCorpus(data, 400, 1);

const TINY = flags(
  '--layers 1 --hidden 32 --heads 2 --intermediate 64 --max-position 64 --max-seq-len 32 --batch-size 8 --threads 1 --seed 3',
);

interface StepEvent {
  event: string;
  step: number;
  loss: number;
}
const events = (stderr: string): StepEvent[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as StepEvent);

test('pretraining a tiny BERT lowers the MLM loss and writes a BertForMaskedLM directory that train loads', async () => {
  const out = join(tmp, 'fresh');
  const r = await runTrainerCli(['pretrain', '--data', data, '--out', out, ...TINY, ...flags('--lr 5e-3 --warmup-steps 2 --max-steps 30')]);
  assert.equal(r.code, 0, r.stderr);
  const steps = events(r.stderr).filter((e) => e.event === 'step');
  assert.equal(steps.length, 30);
  const mean = (xs: StepEvent[]) => xs.reduce((s, e) => s + e.loss, 0) / xs.length;
  assert.ok(steps[0].loss > 9.5, `initial loss ${steps[0].loss} should be near ln(30522) = 10.3`);
  assert.ok(mean(steps.slice(-5)) < mean(steps.slice(0, 5)) - 2, `loss ${mean(steps.slice(0, 5))} -> ${mean(steps.slice(-5))}`);

  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(config.architectures, ['BertForMaskedLM']);
  const names = [...readSafetensors(join(out, 'model.safetensors')).tensors.keys()];
  for (const n of [
    'bert.pooler.dense.weight',
    'cls.predictions.bias',
    'cls.predictions.transform.dense.weight',
    'cls.predictions.transform.LayerNorm.weight',
    'bert.encoder.layer.0.output.LayerNorm.bias',
  ]) {
    assert.ok(names.includes(n), `${n} missing`);
  }
  assert.ok(!names.some((n) => n.includes('decoder.weight')), 'the tied decoder weight is saved once, as the word embeddings');
  assert.equal(readFileSync(join(out, 'vocab.txt'), 'utf8'), readFileSync(DEFAULT_VOCAB, 'utf8'));
  const card = readFileSync(join(out, 'README.md'), 'utf8');
  assert.match(card, /final MLM loss \| \d+\.\d{4}/);
  assert.match(card, /masked-token accuracy \| \d+\.\d+ %/);
  assert.match(card, /tokens seen \| 7,680/); // 30 steps x 8 sequences x 32 tokens
  assert.match(card, new RegExp(`pretrain --data ${data.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} --out`));

  const base = loadBaseModel(out);
  assert.equal(base.hasPooler, true);
  const adapterOut = join(tmp, 'adapter');
  const { metrics } = await train({
    ...trainDefaults,
    base: out,
    data,
    out: adapterOut,
    mode: 'adapter',
    seeds: [1],
    maxSteps: 2,
    batchSize: 8,
    epochs: 1,
    evalSteps: 0,
    checkpointEvery: 0,
    resume: false,
    device: 'cpu',
    threads: 1,
    log: () => {},
  });
  assert.equal(metrics.steps.length, 2);
  assert.ok(Number.isFinite(metrics.steps[1].loss));
});

test('a run stopped mid-way resumes from its checkpoint to the same bytes as an uninterrupted one; --init continues a base', async () => {
  const args = [
    '--data',
    data,
    ...TINY,
    ...flags('--grad-accum 2 --lr 3e-3 --warmup-steps 2 --max-steps 8 --checkpoint-every 3 --whole-word-mask'),
  ];
  const whole = join(tmp, 'whole');
  const a = await runTrainerCli(['pretrain', '--out', whole, ...args]);
  assert.equal(a.code, 0, a.stderr);
  const broken = join(tmp, 'broken');
  // Stopped after step 5 (its last checkpoint is step 3's), as a killed process would be: nothing after the step runs.
  const stopped = new Error('stopped at step 5');
  const options = await pretrainOptions(['--out', broken, ...args, '--quiet']);
  await assert.rejects(
    pretrain({
      ...options,
      onStep: (step) => {
        if (step === 5) throw stopped;
      },
    }),
    (err) => err === stopped,
  );
  assert.equal(existsSync(broken), false, 'a stopped run writes no model directory');
  const resumed = await runTrainerCli(['pretrain', '--out', broken, ...args, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const ev = events(resumed.stderr);
  assert.equal(ev.find((e) => e.event === 'resume')?.step, 3);
  assert.deepEqual(
    ev.filter((e) => e.event === 'step').map((e) => e.step),
    [4, 5, 6, 7, 8],
  );
  assert.ok(
    readFileSync(join(whole, 'model.safetensors')).equals(readFileSync(join(broken, 'model.safetensors'))),
    'resumed weights differ',
  );
  const lossesOf = (stderr: string) =>
    events(stderr)
      .filter((e) => e.event === 'step' && e.step >= 4)
      .map((e) => e.loss);
  assert.deepEqual(lossesOf(resumed.stderr), lossesOf(a.stderr));

  const other = await runTrainerCli([
    ...['pretrain', '--out', broken, ...args.map((x) => (x === '3e-3' ? '4e-3' : x))],
    ...['--resume', '--checkpoint-dir', `${broken}.checkpoint`],
  ]);
  assert.notEqual(other.code, 0, 'resuming with other options must fail');

  const continued = join(tmp, 'continued');
  const c = await runTrainerCli([
    'pretrain',
    '--data',
    data,
    '--out',
    continued,
    '--init',
    whole,
    ...flags('--max-seq-len 32 --batch-size 8 --max-steps 2 --threads 1'),
  ]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(
    events(c.stderr).find((e) => e.event === 'init'),
    undefined,
    'every tensor, the MLM head too, comes from --init',
  );
  const head = (dir: string) =>
    readSafetensors(join(dir, 'model.safetensors')).tensors.get('cls.predictions.transform.dense.weight')!.bytes;
  assert.notDeepEqual(head(continued), head(whole));
  assert.equal(head(continued).length, head(whole).length);
});

test('packing: every sequence is [CLS] + seqLen-1 tokens of the documents joined by [SEP], nothing padded', async () => {
  const vocab = readVocabulary(join(tmp, 'whole'));
  const tokenizer = await loadBertTokenizer(join(tmp, 'whole'), { maxSeqLen: 1 << 30 });
  const file = join(tmp, 'two.jsonl');
  writeFileSync(file, `${JSON.stringify({ text: 'the cat was good' })}\n${JSON.stringify({ text: 'a dog' })}\n`);
  const c = await readCorpus([file, file], { seqLen: 8, vocab, tokenizer });
  // 'the cat was good' [SEP] 'a dog' [SEP], twice: 16 tokens -> 2 sequences of [CLS] + 7 (2 left over).
  assert.equal(c.streamTokens, 16);
  assert.equal(c.count, 2);
  assert.equal(c.documents, 4);
  const ids = Array.from(c.sequences);
  const [the, cat, was, good, a, dog] = tokenizer.encode('the cat was good a dog').inputIds.slice(1, -1);
  assert.deepEqual(ids, [
    vocab.clsId,
    the,
    cat,
    was,
    good,
    vocab.sepId,
    a,
    dog,
    vocab.clsId,
    vocab.sepId,
    the,
    cat,
    was,
    good,
    vocab.sepId,
    a,
  ]);
  await assert.rejects(readCorpus([file], { seqLen: 64, vocab, tokenizer }), /fewer than one sequence/);
  const bad = join(tmp, 'bad.jsonl');
  writeFileSync(bad, `${JSON.stringify({ text: 'fine' })}\n{"txt": "oops"}\n`);
  await assert.rejects(readCorpus([bad], { seqLen: 8, vocab, tokenizer }), /bad\.jsonl:2: missing field "text"/);
});

test('bad options fail with one precise line', async () => {
  const r = await runTrainerCli(['pretrain', '--data', data, '--out', join(tmp, 'x'), ...TINY]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /exactly one of --max-steps, --max-tokens, --max-minutes/);
  const m = await runTrainerCli([
    'pretrain',
    '--data',
    data,
    '--out',
    join(tmp, 'y'),
    ...TINY,
    ...flags('--max-steps 1 --mlm-probability 1.5'),
  ]);
  assert.match(m.stderr, /--mlm-probability must be in \(0, 1\)/);
});
