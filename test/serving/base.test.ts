/** A base as the runtimes read it from bytes: float tensors of any float dtype, integer tensors it does not use skipped, others refused by name. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BaseError, parseBase } from '../../serving/base.ts';
import { encodeSafetensors, parseSafetensors, type RawTensor } from '../../trainer/model-files/safetensors-format.ts';
import { writeTinyBert } from '../support/tiny-bert.ts';

const dir = mkdtempSync(join(tmpdir(), 'serving-base-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeTinyBert(dir);
const config = readFileSync(join(dir, 'config.json'), 'utf8');
const tokenizer = { vocabTxt: { name: 'vocab.txt', text: readFileSync(join(dir, 'vocab.txt'), 'utf8') } };
const weights = new Uint8Array(readFileSync(join(dir, 'model.safetensors')));

/** The base's weights with `extra` tensors added. */
function withTensors(extra: Record<string, RawTensor>): Uint8Array {
  const tensors = new Map(parseSafetensors(weights, 'base').tensors);
  for (const [name, t] of Object.entries(extra)) tensors.set(name, t);
  return new Uint8Array(Buffer.concat(encodeSafetensors(tensors, undefined, 'base')));
}

test("a Hugging Face checkpoint's I64 position_ids are skipped before conversion; an integer weight is refused by name", async () => {
  const plain = await parseBase('tiny', { config, weights, tokenizer });
  const positionIds = { dtype: 'I64', shape: [1, 4], bytes: new Uint8Array(new BigInt64Array([0n, 1n, 2n, 3n]).buffer) };
  const hf = await parseBase('tiny', { config, weights: withTensors({ 'embeddings.position_ids': positionIds }), tokenizer });
  assert.deepEqual([...hf.weights.keys()].sort(), [...plain.weights.keys()].sort());
  const bad = withTensors({ 'encoder.layer.0.extra.weight': { dtype: 'I32', shape: [2], bytes: new Uint8Array(8) } });
  await assert.rejects(
    parseBase('tiny', { config, weights: bad, tokenizer }),
    (e: unknown) =>
      e instanceof BaseError &&
      /^base "tiny" model\.safetensors: tensor "encoder\.layer\.0\.extra\.weight" has dtype I32; only F32, F16, BF16, F64/.test(e.message),
  );
});
