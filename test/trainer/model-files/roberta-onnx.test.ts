/**
 * `trainer export --format onnx` on a RoBERTa base trained on text rows: the exported tokenizer.json, read by
 * Hugging Face's tokenizers.js (not our code), gives RoBERTa's ids for the texts; the exported model, run by
 * plain onnxruntime-node on those ids, gives `trainer predict`'s logits (f32 within 1e-5; f16 and int8 within
 * the bounds the BERT export test measured); the adapters-as-inputs graph with its packed feeds equals f32.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { writeRandomRoberta } from '../../../trainer/model-files/random-roberta.ts';
import { readSafetensors, toFloat32 } from '../../../trainer/model-files/safetensors.ts';
import { runTrainerCliSync } from '../../support/process.ts';

const work = mkdtempSync(join(tmpdir(), 'roberta-onnx-'));
const base = join(work, 'base');
const data = join(work, 'text.jsonl');
const adapter = join(work, 'adapter');
after(() => rmSync(work, { recursive: true, force: true }));

// A byte-level BPE ('Ġ' is a space's byte-level form) and texts spelled in its letters, with RoBERTa's ids by hand.
const VOCAB = ['<s>', '<pad>', '</s>', '<unk>', 'h', 'e', 'l', 'o', 'Ġ', 'w', 'r', 'd', 'he', 'll', 'hell', 'hello', 'Ġw', 'Ġwo', '<mask>'];
const MERGES = '#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ w\nĠw o\n';
const TEXTS: { text: string; text_pair?: string; ids: number[] }[] = [
  { text: 'hello world', ids: [0, 15, 17, 10, 6, 11, 2] },
  { text: 'hello', text_pair: 'hello world', ids: [0, 15, 2, 2, 15, 17, 10, 6, 11, 2] },
  { text: 'world', ids: [0, 9, 7, 10, 6, 11, 2] },
  { text: 'hell', text_pair: 'old', ids: [0, 14, 2, 2, 7, 6, 11, 2] },
  { text: 'he hello', ids: [0, 12, 8, 15, 2] },
  { text: 'dell he', text_pair: 'row', ids: [0, 11, 5, 13, 8, 12, 2, 2, 10, 7, 9, 2] },
];
const N = 24;
const PAD = 1;
const cli = (...args: string[]) => {
  const r = runTrainerCliSync([...args]);
  assert.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
  return r;
};
let predicted: number[][] = [];

before(() => {
  writeRandomRoberta(base, {
    hiddenSize: 16,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 24,
    vocabSize: 30,
    maxSeqLen: 16,
    seed: 5,
    layerNormNoise: 0.2,
  });
  writeFileSync(join(base, 'vocab.json'), JSON.stringify(Object.fromEntries(VOCAB.map((t, i) => [t, i]))));
  writeFileSync(join(base, 'merges.txt'), MERGES);
  const lines = Array.from({ length: N }, (_, i) => {
    const { ids: _ids, ...t } = TEXTS[i % TEXTS.length];
    return JSON.stringify({ ...t, label: i % 2 ? 'pos' : 'neg' });
  });
  writeFileSync(data, `${lines.join('\n')}\n`);
  cli('train', '--base', base, '--data', data, '--out', adapter, '--epochs', '3', '--lr', '0.01', '--bottleneck', '3', '--quiet');
  const preds = join(work, 'preds.jsonl');
  cli('predict', '--base', base, '--adapter', adapter, '--data', data, '--out', preds, '--batch-size', '5');
  predicted = readFileSync(preds, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { logits: number[] }).logits);
});

const exported = (name: string) => join(work, name);
const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, r) => row.map((v, k) => Math.abs(v - b[r][k]))));

/** The rows' ids as the exported tokenizer.json gives them (tokenizers.js), checked against RoBERTa's by hand. */
function exportedIds(dir: string): number[][] {
  const tok = new Tokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), {});
  return Array.from({ length: N }, (_, i) => {
    const t = TEXTS[i % TEXTS.length];
    const ids = tok.encode(t.text, { text_pair: t.text_pair ?? null }).ids;
    assert.deepEqual(ids, t.ids, `tokenizer.json on ${JSON.stringify(t.text)} | ${t.text_pair}`);
    return ids;
  });
}

/** One right-padded batch with RoBERTa's pad id (token types all 0), as the README says. */
function feeds(rows: number[][]): Record<string, ort.Tensor> {
  const S = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * S).fill(BigInt(PAD));
  const mask = new BigInt64Array(rows.length * S);
  rows.forEach((r, i) =>
    r.forEach((id, t) => {
      ids[i * S + t] = BigInt(id);
      mask[i * S + t] = 1n;
    }),
  );
  const dims = [rows.length, S];
  return {
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(rows.length * S), dims),
  };
}

async function run(dir: string, extra: Record<string, ort.Tensor> = {}): Promise<number[][]> {
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), { intraOpNumThreads: 1 });
  const out = await session.run({ ...feeds(exportedIds(dir)), ...extra });
  await session.release();
  const [B, L] = out.logits.dims as number[];
  const flat = out.logits.data as Float32Array;
  return Array.from({ length: B }, (_, r) => Array.from(flat.subarray(r * L, (r + 1) * L)));
}

// The BERT export test's bounds (test/trainer/model-files/onnx-package.test.ts), measured on a base of the same width.
const INT8_VS_F32 = 5e-2;
const F16_VS_F32 = 3e-3;
let f32: number[][] = [];

test("f32: the files, RoBERTa's tokenizer.json, and logits equal to trainer predict within 1e-5", async () => {
  cli('export', '--base', base, '--adapter', adapter, '--out', exported('f32'));
  assert.deepEqual(readdirSync(exported('f32')).sort(), [
    'README.md',
    'labels.json',
    'model.onnx',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  const tokConfig = JSON.parse(readFileSync(join(exported('f32'), 'tokenizer_config.json'), 'utf8'));
  assert.equal(tokConfig.tokenizer_class, 'PreTrainedTokenizerFast');
  assert.equal(tokConfig.pad_token, '<pad>');
  assert.equal(tokConfig.model_max_length, 16);
  const readme = readFileSync(join(exported('f32'), 'README.md'), 'utf8');
  assert.match(readme, /Tokenize as roberta does: `<s> text <\/s>` \(pairs: `<s> text <\/s><\/s> text_pair <\/s>`, token_type_ids all 0\)/);
  assert.match(readme, /with id 1 and/);
  f32 = await run(exported('f32'));
  const diff = maxDiff(f32, predicted);
  process.stdout.write(`# roberta f32 export vs trainer predict: max |logit diff| ${diff.toExponential(2)}\n`);
  assert.ok(diff <= 1e-5, `max |logit diff| vs trainer predict: ${diff}`);
  assert.ok(new Set(predicted.map((r) => r[0].toFixed(5))).size > 1, 'rows differ');
});

test('f16 and int8: within the BERT export bounds of f32, and not equal to it (the weights really changed)', async () => {
  cli('export', '--base', base, '--adapter', adapter, '--out', exported('f16'), '--dtype', 'f16');
  cli('export', '--base', base, '--adapter', adapter, '--out', exported('int8'), '--quantize', 'int8');
  const f16 = maxDiff(await run(exported('f16')), f32);
  const int8 = maxDiff(await run(exported('int8')), f32);
  process.stdout.write(`# roberta vs f32: f16 ${f16.toExponential(2)}, int8 ${int8.toExponential(2)}\n`);
  assert.ok(f16 > 0 && f16 <= F16_VS_F32, `f16 max |logit diff| ${f16}`);
  assert.ok(int8 > 0 && int8 <= INT8_VS_F32, `int8 max |logit diff| ${int8}`);
});

test('--adapters-as-inputs: the serving graph fed adapter-inputs.safetensors equals f32 within 1e-5', async () => {
  cli('export', '--base', base, '--adapter', adapter, '--out', exported('inputs'), '--adapters-as-inputs');
  const packed = readSafetensors(join(exported('inputs'), 'adapter-inputs.safetensors'));
  assert.ok(packed.tensors.has('task.classifier.out_proj.weight') && packed.tensors.has('task.roberta.embeddings.LayerNorm.weight'));
  const extra: Record<string, ort.Tensor> = { adapter_index: new ort.Tensor('int64', new BigInt64Array(N), [N]) };
  for (const [name, t] of packed.tensors) extra[name] = new ort.Tensor('float32', toFloat32(t, name), t.shape);
  const diff = maxDiff(await run(exported('inputs'), extra), f32);
  process.stdout.write(`# roberta adapters-as-inputs vs f32: ${diff.toExponential(2)}\n`);
  assert.ok(diff <= 1e-5, `max |logit diff| adapters-as-inputs vs baked: ${diff}`);
});
