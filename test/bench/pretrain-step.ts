/**
 * Our masked-LM training step on packed, masked random-token batches (15 % masking, 80/10/10):
 * tokens/s, and where a step's time goes (onnxruntime forward+backward, the JS AdamW update).
 * Prints one JSON line. The peer is test/bench/pretrain_step_torch.py; test/bench/pretrain-compare.ts
 * runs both.
 *
 *   npx tsx test/bench/pretrain-step.ts [--layers 4 --hidden 256 --heads 4 --batch 64 --seq 128 --steps 5 --threads 2]
 */

import { parseBertConfig } from '../../trainer/model-files/bert-config.ts';
import { maskBatch } from '../../trainer/pretrain/masking.ts';
import { freshValues, mlmParams } from '../../trainer/pretrain/params.ts';
import { MlmSession } from '../../trainer/pretrain/session.ts';
import type { MlmVocabulary } from '../../trainer/pretrain/vocabulary.ts';
import { AdamW, clipGradNorm } from '../../trainer/train/optimizer.ts';
import { Rng } from '../../trainer/util/random.ts';
import { benchArgs } from './support.ts';

const a = benchArgs({ layers: '4', hidden: '256', heads: '4', vocab: '30522', batch: '64', seq: '128', steps: '5', threads: '2' });
const [layers, hidden, heads, V, B, S, steps] = [a.layers, a.hidden, a.heads, a.vocab, a.batch, a.seq, a.steps].map(Number);
const config = parseBertConfig({
  vocab_size: V,
  hidden_size: hidden,
  num_hidden_layers: layers,
  num_attention_heads: heads,
  intermediate_size: 4 * hidden,
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
});
// bert-base-uncased's special ids: [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103.
const special = new Uint8Array(V);
for (const id of [0, 101, 102, 103]) special[id] = 1;
const vocab: MlmVocabulary = { size: V, maskId: 103, clsId: 101, sepId: 102, padId: 0, special, continuation: new Uint8Array(V) };
const rng = new Rng(1);
const sequences = new Int32Array(B * S);
for (let i = 0; i < sequences.length; i++) sequences[i] = i % S === 0 ? 101 : 1000 + rng.int(V - 1000);
const values = freshValues(config, rng, 0);
const session = await MlmSession.create(config, values, { threads: Number(a.threads) });
const trained = mlmParams(config)
  .filter((p) => p.trained)
  .map((p) => ({ name: p.name, data: values.get(p.name)! }));
const adam = new AdamW(trained, { lr: 1e-4, weightDecay: 0.01 });
const idx = Array.from({ length: B }, (_, i) => i);
const times: { run: number; update: number }[] = [];
for (let s = 0; s <= steps; s++) {
  const batch = maskBatch(sequences, S, idx, { probability: 0.15, wholeWord: false, vocab }, rng);
  const t0 = performance.now();
  const r = await session.step(batch);
  const t1 = performance.now();
  const grads = trained.map((p) => r.grads.get(p.name)!);
  clipGradNorm(grads, 1);
  adam.step(grads);
  const t2 = performance.now();
  if (s > 0) times.push({ run: (t1 - t0) / 1000, update: (t2 - t1) / 1000 });
}
await session.release();
const median = (xs: number[]) => xs.sort((p, q) => p - q)[Math.floor(xs.length / 2)];
const run = median(times.map((t) => t.run));
const update = median(times.map((t) => t.update));
const sec = median(times.map((t) => t.run + t.update));
console.log(
  JSON.stringify({
    impl: 'ours',
    layers,
    hidden,
    batch: B,
    seq: S,
    sec_per_step: sec,
    tokens_per_s: (B * S) / sec,
    ort_run_s: run,
    update_s: update,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  }),
);
