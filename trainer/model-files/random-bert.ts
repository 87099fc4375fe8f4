/**
 * Writes a random BERT in Hugging Face layout (config.json, model.safetensors, vocab.txt): a stand-in
 * base model for tests and benchmarks, deterministic given the seed. Biases and (optionally)
 * LayerNorm parameters are random too so tests exercise every weight.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BertConfig } from '../../shared/bert-config.ts';
import type { BaseWeightDtype } from '../../shared/vocabulary.ts';
import { Rng } from '../util/random.ts';
import { expectedBertWeights } from './base-model.ts';
import { parseBertConfig } from './bert-config.ts';
import { ModelFileError } from './errors.ts';
import { encodeBf16, encodeF16 } from './float16.ts';
import type { F32Tensor, RawTensor } from './safetensors.ts';
import { writeSafetensors, writeSafetensorsRaw } from './safetensors.ts';

export interface RandomBertOptions {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  /** Default 2. */
  typeVocabSize?: number;
  /** Copied to vocab.txt; vocab_size = its number of lines. */
  vocabFile?: string;
  /** Size of the synthetic vocab when no vocabFile (must match the file's line count if both are given). */
  vocabSize?: number;
  seed: number;
  /** Storage dtype of model.safetensors; default F32. */
  dtype?: BaseWeightDtype;
  /** Write `bert.`-prefixed names (as BertFor* models save); default false (BertModel). */
  prefix?: boolean;
  /** Include pooler.dense; default true. */
  pooler?: boolean;
  /** LayerNorm weight = 1 + noise·N(0,1), bias = noise·N(0,1); default 0 (exactly 1 and 0). */
  layerNormNoise?: number;
  /** Std of the weights and biases; default 0.02. */
  initializerRange?: number;
  /** Adds a sequence-classification head (`classifier.*`, never prefixed) and id2label/label2id. */
  labels?: string[];
}

export function writeRandomBert(dir: string, opts: RandomBertOptions): void {
  const vocabText =
    opts.vocabFile === undefined ? Buffer.from(`${syntheticVocab(opts.vocabSize).join('\n')}\n`) : readVocab(opts.vocabFile);
  const vocabSize = countLines(vocabText);
  if (opts.vocabFile !== undefined && opts.vocabSize !== undefined && opts.vocabSize !== vocabSize) {
    throw new ModelFileError(`${opts.vocabFile}: has ${vocabSize} lines but vocabSize is ${opts.vocabSize}`);
  }
  const std = opts.initializerRange ?? 0.02;
  const dtype = opts.dtype ?? 'F32';
  const labels = opts.labels;
  const json: Record<string, unknown> = {
    architectures: [labels ? 'BertForSequenceClassification' : 'BertModel'],
    attention_probs_dropout_prob: 0.1,
    classifier_dropout: null,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: opts.hiddenSize,
    initializer_range: std,
    intermediate_size: opts.intermediateSize,
    layer_norm_eps: 1e-12,
    max_position_embeddings: opts.maxPositions,
    model_type: 'bert',
    num_attention_heads: opts.numHeads,
    num_hidden_layers: opts.numLayers,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
    type_vocab_size: opts.typeVocabSize ?? 2,
    vocab_size: vocabSize,
  };
  if (labels) {
    json.id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
    json.label2id = Object.fromEntries(labels.map((l, i) => [l, i]));
  }
  const config = parseBertConfig(json, 'random BERT options'); // refuses bad sizes before anything is written

  const weights = randomWeights(config, opts, std);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(json, null, 2)}\n`);
  // Written, not copyFileSync'd: a copy would inherit a read-only source's mode and block the next overwrite.
  writeFileSync(join(dir, 'vocab.txt'), vocabText);
  const path = join(dir, 'model.safetensors');
  const metadata = { format: 'pt' }; // what transformers' save_pretrained writes
  if (dtype === 'F32') {
    writeSafetensors(path, weights, metadata);
    return;
  }
  const raw = new Map<string, RawTensor>();
  for (const [name, t] of weights) {
    const bits = new Uint16Array(t.data.length);
    (dtype === 'F16' ? encodeF16 : encodeBf16)(t.data, bits);
    raw.set(name, { dtype, shape: t.shape, bytes: new Uint8Array(bits.buffer) }); // little-endian hosts only
  }
  writeSafetensorsRaw(path, raw, metadata);
}

/** Weights in canonical order, named as the checkpoint will store them; one Rng stream in that order. */
function randomWeights(config: BertConfig, opts: RandomBertOptions, std: number): Map<string, F32Tensor> {
  const h = config.hidden_size;
  const shapes = expectedBertWeights(config);
  if (opts.pooler ?? true) {
    shapes.set('pooler.dense.weight', [h, h]);
    shapes.set('pooler.dense.bias', [h]);
  }
  const rng = new Rng(opts.seed);
  const noise = opts.layerNormNoise ?? 0;
  const out = new Map<string, F32Tensor>();
  const add = (name: string, shape: number[], draw: () => number) => {
    const data = new Float32Array(shape.reduce((p, d) => p * d, 1));
    for (let i = 0; i < data.length; i++) data[i] = draw();
    out.set(name, { shape, data });
  };
  for (const [name, shape] of shapes) {
    const stored = opts.prefix ? `bert.${name}` : name;
    if (name.endsWith('LayerNorm.weight')) add(stored, shape, () => 1 + noise * rng.normal());
    else if (name.endsWith('LayerNorm.bias')) add(stored, shape, () => noise * rng.normal());
    else add(stored, shape, () => std * rng.normal());
  }
  if (opts.labels) {
    add('classifier.weight', [opts.labels.length, h], () => std * rng.normal());
    add('classifier.bias', [opts.labels.length], () => std * rng.normal());
  }
  return out;
}

/**
 * BERT-like layout: [PAD]=0, [unused*], [UNK] [CLS] [SEP] [MASK] (at 100..103 when the vocab is large
 * enough, as in bert-base-uncased), then single characters and ##-continuations so a WordPiece tokenizer
 * can spell any lowercase ASCII word, then more [unused*] up to `size`.
 */
export function syntheticVocab(size: number | undefined): string[] {
  if (size === undefined || !Number.isSafeInteger(size) || size < 5) {
    throw new ModelFileError(`random BERT: vocabSize must be an integer >= 5 when no vocabFile is given, got ${size}`);
  }
  const alnum = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
  const alphabet = [...alnum, ...'.,!?\'"-:;()', ...alnum.map((c) => `##${c}`)];
  const unused = Math.max(0, Math.min(99, size - 5 - alphabet.length));
  const tokens = ['[PAD]'];
  for (let i = 0; i < unused; i++) tokens.push(`[unused${i}]`);
  tokens.push('[UNK]', '[CLS]', '[SEP]', '[MASK]', ...alphabet);
  tokens.length = Math.min(tokens.length, size);
  for (let i = unused; tokens.length < size; i++) tokens.push(`[unused${i}]`);
  return tokens;
}

/** The file's bytes, kept as they are (no re-encoding on the way to vocab.txt). */
function readVocab(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ModelFileError(`${path}: cannot read vocab file (${(e as Error).message})`);
  }
}

/** Lines as BertTokenizer counts them: a final newline does not start another token. */
function countLines(text: Buffer): number {
  let lines = 0;
  for (let i = text.indexOf(0x0a); i !== -1; i = text.indexOf(0x0a, i + 1)) lines++;
  return text.length > 0 && text[text.length - 1] !== 0x0a ? lines + 1 : lines;
}
