/**
 * The pretrained base as a Hugging Face BERT directory: config.json (BertForMaskedLM), model.safetensors
 * (encoder with `bert.` names, pooler, `cls.predictions.*`; the decoder weight is the tied word
 * embedding, saved once as transformers does), the tokenizer files, and a model card README.md.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BertConfig } from '../../shared/bert-config.ts';
import type { FloatStorageDtype } from '../../shared/vocabulary.ts';
import { encodeF16 } from '../model-files/float16.ts';
import { type F32Tensor, type RawTensor, writeSafetensors, writeSafetensorsRaw } from '../model-files/safetensors.ts';
import { mlmParams } from './params.ts';

export type SaveDtype = FloatStorageDtype;

/** config.json: the source's own (with --init) or BERT's defaults, as a masked LM. */
export function mlmConfigJson(c: BertConfig, dtype: SaveDtype, source?: Record<string, unknown>): Record<string, unknown> {
  const json: Record<string, unknown> = {
    attention_probs_dropout_prob: 0.1,
    classifier_dropout: null,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    initializer_range: c.initializer_range ?? 0.02,
    layer_norm_eps: c.layer_norm_eps,
    model_type: 'bert',
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    ...source,
    architectures: ['BertForMaskedLM'],
    hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size,
    max_position_embeddings: c.max_position_embeddings,
    num_attention_heads: c.num_attention_heads,
    num_hidden_layers: c.num_hidden_layers,
    torch_dtype: dtype === 'f16' ? 'float16' : 'float32',
    type_vocab_size: c.type_vocab_size,
    vocab_size: c.vocab_size,
  };
  // A classifier's label names do not describe a masked LM.
  delete json.id2label;
  delete json.label2id;
  return json;
}

export function writeMlmDir(
  dir: string,
  c: BertConfig,
  values: ReadonlyMap<string, Float32Array>,
  o: { dtype: SaveDtype; tokenizerDir: string; sourceConfig?: Record<string, unknown>; card: string },
): void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'model.safetensors');
  const metadata = { format: 'pt' };
  const params = mlmParams(c);
  if (o.dtype === 'f32') {
    const tensors = new Map<string, F32Tensor>(params.map((p) => [p.name, { shape: p.shape, data: values.get(p.name)! }]));
    writeSafetensors(path, tensors, metadata);
  } else {
    const raw = new Map<string, RawTensor>();
    for (const p of params) {
      const bits = encodeF16(values.get(p.name)!, new Uint16Array(values.get(p.name)!.length));
      raw.set(p.name, { dtype: 'F16', shape: p.shape, bytes: new Uint8Array(bits.buffer) });
    }
    writeSafetensorsRaw(path, raw, metadata);
  }
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(mlmConfigJson(c, o.dtype, o.sourceConfig), null, 2)}\n`);
  for (const f of ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (existsSync(join(o.tokenizerDir, f))) copyFileSync(join(o.tokenizerDir, f), join(dir, f));
  }
  writeFileSync(join(dir, 'README.md'), o.card);
}

export interface CardFacts {
  command: string;
  config: BertConfig;
  init: string | null;
  data: { name: string; documents: number }[];
  corpusNote?: string;
  sequences: number;
  seqLen: number;
  steps: number;
  tokensSeen: number;
  effectiveBatch: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  mlmProbability: number;
  wholeWordMask: boolean;
  finalLoss: number;
  finalAccuracy: number;
  finalOver: number;
  trainMinutes: number;
  threads: number | null;
  parameters: number;
}

export function modelCard(f: CardFacts): string {
  const c = f.config;
  const num = (x: number) => x.toLocaleString('en-US');
  return `---
library_name: transformers
pipeline_tag: fill-mask
tags: [bert, masked-lm, adapter-store]
---

# BERT masked LM (${c.num_hidden_layers} layers x ${c.hidden_size} hidden, ${c.num_attention_heads} heads)

Pretrained with \`trainer pretrain\` (adapter-store) by masked-language modelling${f.init ? `, continued from \`${f.init}\`` : ' from a random initialisation'}.
A Hugging Face BERT: \`BertForMaskedLM\` loads it whole, \`BertModel\` / \`BertForSequenceClassification\`
load its encoder (and pooler, which masked-LM training leaves at its initial values).

## Corpus

${f.data.map((d) => `- \`${d.name}\`: ${num(d.documents)} documents`).join('\n')}
${f.corpusNote ? `\n${f.corpusNote}\n` : '\nThe corpus and its terms of use are those of the files above; the text itself is not part of this model.\n'}
Documents were tokenized whole, joined with [SEP] and packed into ${num(f.sequences)} sequences of ${f.seqLen} tokens ([CLS] first, no padding).

## Training

| | |
|---|---|
| parameters | ${num(f.parameters)} |
| optimizer steps | ${num(f.steps)} |
| tokens seen | ${num(f.tokensSeen)} |
| effective batch | ${f.effectiveBatch} sequences x ${f.seqLen} tokens |
| learning rate | ${f.lr} peak, ${f.warmupSteps} warm-up steps, then linear decay to 0 (AdamW, weight decay ${f.weightDecay}) |
| masking | ${(100 * f.mlmProbability).toFixed(1)} % of ${f.wholeWordMask ? 'words (whole-word masking)' : 'tokens'}: 80 % [MASK], 10 % random, 10 % unchanged, drawn afresh each time (dynamic) |
| dropout | none while pretraining (config.json keeps BERT's 0.1 for fine-tuning) |
| training time | ${f.trainMinutes.toFixed(1)} minutes${f.threads ? ` on ${f.threads} CPU threads` : ''} |
| final MLM loss | ${f.finalLoss.toFixed(4)} (mean over the last ${f.finalOver} steps' masked tokens) |
| final masked-token accuracy | ${(100 * f.finalAccuracy).toFixed(2)} % (same steps) |

## Command

\`\`\`
${f.command}
\`\`\`
`;
}

export function readJsonObject(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}
