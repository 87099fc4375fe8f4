/** The README.md of an ONNX export: what the model takes and returns, and how to run it without this project. */
import type { AdapterConfig } from '../../shared/adapter-config.ts';

export interface OnnxReadmeInput {
  config: AdapterConfig;
  precision: string;
  adaptersAsInputs: boolean;
  adapterInputs?: Record<string, { dims: number[] }>;
  tokenizerFiles: string[];
  lowercase: boolean;
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

A BERT ${base}weights sha256 ${c.base.weightsSha256.slice(0, 16)}…) with the Houlsby adapter task "${c.task}" (${c.mode} mode),
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
- ${r.tokenizerFiles.map((f) => `\`${f}\``).join(', ')} and \`tokenizer_config.json\`: the base's WordPiece tokenizer (${r.lowercase ? 'lower-cased' : 'cased'}, at most ${c.maxSeqLen} tokens).

## Inputs

Tokenize as BERT does: \`[CLS] text [SEP]\` (pairs: \`[CLS] text [SEP] text_pair [SEP]\`, token_type_ids 0 for the first part
and 1 for the second), truncated to ${c.maxSeqLen} tokens. Pad rows of a batch on the right with id 0 and attention_mask 0.

## Python (onnxruntime)

\`\`\`python
import json, numpy as np, onnxruntime as ort
from transformers import BertTokenizerFast

tok = BertTokenizerFast.from_pretrained(".")
session = ort.InferenceSession("model.onnx")
labels = json.load(open("labels.json"))
texts = ["a first text", "another one"]
enc = tok(texts, truncation=True, max_length=${c.maxSeqLen}, padding=True, return_tensors="np")
feeds = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
logits = session.run(["logits"], feeds)[0]
print([labels[i] for i in logits.argmax(-1)])
\`\`\`
${extraInputs}
## Node (onnxruntime-node) and the browser (onnxruntime-web)

The same code runs in both; only the import differs (\`onnxruntime-node\` or \`onnxruntime-web\`, whose WASM backend
also runs in Node). Tokenize with any BERT WordPiece tokenizer over \`vocab.txt\` (e.g. transformers.js), then:

\`\`\`js
import * as ort from 'onnxruntime-node'; // or 'onnxruntime-web'
const session = await ort.InferenceSession.create('model.onnx');
const ids = [[101, 7592, 2088, 102]]; // [CLS] … [SEP], one row per text, padded to one length
const t = (rows) => new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
const { logits } = await session.run({
  input_ids: t(ids),
  attention_mask: t(ids.map((r) => r.map((id) => (id === 0 ? 0 : 1)))),
  token_type_ids: t(ids.map((r) => r.map(() => 0))),
});
console.log(logits.dims, logits.data); // [rows, ${c.labels.length}]
\`\`\`
`;
}
