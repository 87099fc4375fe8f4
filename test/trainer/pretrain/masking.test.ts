/** BERT masking statistics: 15 % chosen, 80/10/10, never a special token, whole words together, drawn afresh. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maskBatch } from '../../../trainer/pretrain/masking.ts';
import type { MlmVocabulary } from '../../../trainer/pretrain/vocabulary.ts';
import { Rng } from '../../../trainer/util/random.ts';

const V = 1000;
const [PAD, CLS, SEP, MASK] = [0, 1, 2, 3];
const special = new Uint8Array(V);
for (const id of [PAD, CLS, SEP, MASK]) special[id] = 1;
// Ids 500..999 are `##` continuations.
const continuation = new Uint8Array(V).fill(1, 500);
const vocab: MlmVocabulary = { size: V, maskId: MASK, clsId: CLS, sepId: SEP, padId: PAD, special, continuation };
const S = 64;

/** Packed sequences: [CLS], words of 1-3 pieces (a head 10..499 then continuations), a [SEP] now and then. */
function corpus(count: number, rng: Rng): Int32Array {
  const seqs = new Int32Array(count * S);
  for (let k = 0; k < count; k++) {
    seqs[k * S] = CLS;
    for (let s = 1; s < S; ) {
      if (rng.uniform() < 0.05) {
        seqs[k * S + s++] = SEP;
        continue;
      }
      seqs[k * S + s++] = 10 + rng.int(490);
      const extra = rng.int(3);
      for (let e = 0; e < extra && s < S; e++) seqs[k * S + s++] = 500 + rng.int(500);
    }
  }
  return seqs;
}

/** Masks all `count` sequences of `seqs` in one batch at the default 15 %. */
function maskEvery(seqs: Int32Array, count: number, wholeWord: boolean, rng: Rng) {
  return maskBatch(
    seqs,
    S,
    Array.from({ length: count }, (_, i) => i),
    { probability: 0.15, wholeWord, vocab },
    rng,
  );
}

test('15 % of the non-special tokens are chosen; of those 80 % [MASK], 10 % random, 10 % kept; specials never', () => {
  const rng = new Rng(7);
  const count = 400;
  const seqs = corpus(count, rng);
  const b = maskEvery(seqs, count, false, rng);
  let eligible = 0;
  for (const id of seqs) if (!special[id]) eligible++;
  const m = b.labels.length;
  assert.ok(Math.abs(m / eligible - 0.15) < 0.01, `chosen share ${m / eligible}`);
  let masked = 0;
  let kept = 0;
  let other = 0;
  const chosen = new Set<number>();
  for (let i = 0; i < m; i++) {
    const at = Number(b.positions[i]);
    chosen.add(at);
    assert.equal(b.labels[i], seqs[at], 'the label is the original token');
    assert.equal(special[seqs[at]], 0, 'a special token was chosen');
    const now = Number(b.inputIds[at]);
    if (now === MASK) masked++;
    else if (now === seqs[at]) kept++;
    else other++;
  }
  // A random replacement hits the original id 1 time in V: counted as kept, negligible here.
  assert.ok(Math.abs(masked / m - 0.8) < 0.02, `[MASK] share ${masked / m}`);
  assert.ok(Math.abs(other / m - 0.1) < 0.015, `random share ${other / m}`);
  assert.ok(Math.abs(kept / m - 0.1) < 0.015, `kept share ${kept / m}`);
  for (let at = 0; at < seqs.length; at++) if (!chosen.has(at)) assert.equal(Number(b.inputIds[at]), seqs[at], 'an unchosen token changed');
});

test('whole-word masking chooses a word with all its ## pieces, at the word rate', () => {
  const rng = new Rng(8);
  const count = 300;
  const seqs = corpus(count, rng);
  const b = maskEvery(seqs, count, true, rng);
  const chosen = new Uint8Array(seqs.length);
  for (const p of b.positions) chosen[Number(p)] = 1;
  let words = 0;
  let chosenWords = 0;
  for (let at = 0; at < seqs.length; at++) {
    const s = at % S;
    const id = seqs[at];
    if (special[id]) {
      assert.equal(chosen[at], 0);
      continue;
    }
    if (continuation[id] && s > 0 && !special[seqs[at - 1]]) {
      assert.equal(chosen[at], chosen[at - 1], `piece at ${at} not masked with its word`);
      continue;
    }
    words++;
    chosenWords += chosen[at];
  }
  assert.ok(Math.abs(chosenWords / words - 0.15) < 0.015, `word share ${chosenWords / words}`);
});

test('masks are drawn afresh each time a sequence is used, and reproducibly from the generator state', () => {
  const seqs = corpus(8, new Rng(1));
  const idx = [0, 1, 2, 3, 4, 5, 6, 7];
  const o = { probability: 0.15, wholeWord: false, vocab };
  const rng = new Rng(3);
  const state = rng.getState();
  const first = maskBatch(seqs, S, idx, o, rng);
  const second = maskBatch(seqs, S, idx, o, rng);
  assert.notDeepEqual(first.positions, second.positions);
  rng.setState(state);
  assert.deepEqual(maskBatch(seqs, S, idx, o, rng), first);
});

test('a batch always has at least one masked token', () => {
  const seqs = corpus(1, new Rng(2));
  for (let seed = 0; seed < 20; seed++) {
    const b = maskBatch(seqs, S, [0], { probability: 0.001, wholeWord: false, vocab }, new Rng(seed));
    assert.ok(b.labels.length >= 1);
  }
});
