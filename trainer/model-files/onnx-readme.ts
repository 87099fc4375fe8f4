/** The README.md of an ONNX export: what the model takes and returns, and how to run it without this project. */
import type { AdapterConfig } from '../../shared/adapter-config.ts';

export interface OnnxReadmeInput {
  config: AdapterConfig;
  precision: string;
  adaptersAsInputs: boolean;
  adapterInputs?: Record<string, { dims: number[] }>;
  tokenizerFiles: string[];
  lowercase: boolean;
  /** The family's name in prose ("BERT", "roberta"), its tokenizer ("WordPiece", "byte-level BPE") and framing. */
  family: { name: string; tokenizer: string; single: string; pair: string; types: string };
  /** The [PAD] id rows are padded with. */
  padId: number;
}

export function onnxReadme(r: OnnxReadmeInput): string {
  const c = r.config;
  const base = c.base.name ? `${c.base.name} (` : '(';
  const extraInputs = r.adaptersAsInputs
    ? `
## Adapters as inputs

This graph serves any adapter of the same base: the adapter, LayerNorm and head tensors are inputs, stacked
over U adapters, and \`adapter_index\` (int64 [batch]) picks each row's adapter (rows of one batch may use
different adapters). \`adapter-inputs.safetensors\` holds this adapter's tensors packed for U = 1
(${Object.keys(r.adapterInputs ?? {}).length} tensors); feed them all, with \`adapter_index\` all zeros. Weights are stored transposed
(\`[U, in, out]\`), bottleneck and label count padded with zeros to the largest adapter packed.

\`\`\`python
from safetensors.numpy import load_file
feeds.update(load_file("adapter-inputs.safetensors"))
feeds["adapter_index"] = np.zeros(len(texts), dtype=np.int64)
\`\`\`
`
    : '';
  return `# ${c.task}: ONNX export

A ${r.family.name} ${base}weights sha256 ${c.base.weightsSha256.slice(0, 16)}…) with the Houlsby adapter task "${c.task}" (${c.mode} mode),
exported by adapter-store's \`trainer export\`. Weights: ${r.precision}${
    r.precision === 'int8'
      ? ' (frozen linear weights int8 with float32 scales per output channel and activations quantized per call, embedding tables int8 with a scale per row; adapters, LayerNorms and head float32)'
      : r.precision === 'f16'
        ? ' (stored as float16, computed in float32)'
        : ''
  }. ${r.adaptersAsInputs ? 'The base is baked in; the adapter is fed as inputs (see below).' : 'Adapter, LayerNorms and head are baked in.'}

## Files

- \`model.onnx\`: inputs \`input_ids\`, \`attention_mask\`, \`token_type_ids\` — int64, shape [batch, sequence]${r.adaptersAsInputs ? ' (plus the adapter inputs below)' : ''};
  output \`logits\` — float32 [batch, ${c.labels.length}]${r.adaptersAsInputs ? ' (or the largest label count packed)' : ''}. Softmax over a row gives the class probabilities.
- \`labels.json\`: label names in logit order: ${c.labels.map((l) => `"${l}"`).join(', ')}.
- ${r.tokenizerFiles.map((f) => `\`${f}\``).join(', ')} and \`tokenizer_config.json\`: the base's ${r.family.tokenizer} tokenizer as the adapter was trained with it (${r.lowercase ? 'lower-cased' : 'cased'}, at most ${c.maxSeqLen} tokens); \`tokenizer.json\` is the Hugging Face tokenizers format.

## Inputs

Tokenize as ${r.family.name} does: \`${r.family.single}\` (pairs: \`${r.family.pair}\`, ${r.family.types}), truncated to ${c.maxSeqLen} tokens (pairs longest-first). Pad rows of a batch on the right with id ${r.padId} and
attention_mask 0. \`tokenizer.json\` says all of this (normalizer, template, truncation, padding): the Python \`tokenizers\`
library applies it as it is, transformers' \`AutoTokenizer.from_pretrained(".")\` and transformers.js load it too.

## Python (onnxruntime, tokenizers)

\`\`\`python
import json, numpy as np, onnxruntime as ort
from tokenizers import Tokenizer  # pip install onnxruntime tokenizers

tok = Tokenizer.from_file("tokenizer.json")  # truncates to ${c.maxSeqLen} tokens, pads a batch to its longest row
session = ort.InferenceSession("model.onnx")
labels = json.load(open("labels.json"))
texts = ["a first text", "another one"]
enc = tok.encode_batch(texts)  # pairs: tok.encode_batch(list(zip(texts, second_texts)))
feeds = {
    "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
    "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
    "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
}
logits = session.run(["logits"], feeds)[0]
print([labels[i] for i in logits.argmax(-1)])
\`\`\`
${extraInputs}
## Node (onnxruntime-node) and the browser (onnxruntime-web)

The same code runs in both; only the import differs (\`onnxruntime-node\` or \`onnxruntime-web\`, whose WASM backend
also runs in Node). \`@huggingface/tokenizers\` (tokenizers.js) reads \`tokenizer.json\` and adds \`[CLS]\`/\`[SEP]\`, but neither
truncates nor pads: the code below does both (transformers.js's \`AutoTokenizer\` does them for you).

\`\`\`js
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers'; // npm install @huggingface/tokenizers onnxruntime-node
import * as ort from 'onnxruntime-node'; // or 'onnxruntime-web'

const MAX_LEN = ${c.maxSeqLen};
const PAD_ID = ${r.padId};
const json = (file) => JSON.parse(readFileSync(file, 'utf8'));
const tokenizer = new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
const labels = json('labels.json');
const texts = ['a first text', 'another one'];

/** One row: [CLS] text [SEP] (with textPair: [CLS] text [SEP] textPair [SEP]), at most MAX_LEN tokens. */
function encode(text, textPair) {
  const e = tokenizer.encode(text, { text_pair: textPair ?? null, return_token_type_ids: true });
  if (e.ids.length <= MAX_LEN) return { ids: e.ids, types: e.token_type_ids };
  if (textPair !== undefined) throw new Error(\`a pair of \${e.ids.length} tokens: shorten it to \${MAX_LEN} (longest side first)\`);
  const ids = [...e.ids.slice(0, MAX_LEN - 1), e.ids[e.ids.length - 1]]; // keep the final [SEP]
  return { ids, types: ids.map(() => 0) };
}

const rows = texts.map((text) => encode(text));
const width = rows.reduce((w, r) => Math.max(w, r.ids.length), 0);
const batch = (cell) =>
  new ort.Tensor('int64', BigInt64Array.from(rows.flatMap((r) => Array.from({ length: width }, (_, t) => BigInt(cell(r, t))))), [rows.length, width]);
const session = await ort.InferenceSession.create('model.onnx');
const { logits } = await session.run({
  input_ids: batch((r, t) => (t < r.ids.length ? r.ids[t] : PAD_ID)),
  attention_mask: batch((r, t) => (t < r.ids.length ? 1 : 0)),
  token_type_ids: batch((r, t) => (t < r.ids.length ? r.types[t] : 0)),
});
const n = labels.length;
texts.forEach((text, i) => {
  const row = Array.from(logits.data.slice(i * n, (i + 1) * n));
  console.log(JSON.stringify({ text, label: labels[row.reduce((best, x, k) => (x > row[best] ? k : best), 0)], logits: row }));
});
\`\`\`
`;
}
