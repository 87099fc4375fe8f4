/**
 * Predict work is bounded (issue 21, findings 2 and 3): rows admitted per process are capped ('busy',
 * with a retry time); rows of an abandoned request never reach the engine; texts are cut to the words
 * maxSeqLen can use before tokenizing, and tokenizing yields to the event loop between inputs; an adapter
 * with 200,000 labels answers (no spread of a label-sized array), and no source file spreads an array
 * into Math.max / Math.min.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import type { ServingBase } from '../../serving/base.ts';
import { PredictError } from '../../serving/predictor.ts';
import { usableText } from '../../serving/text-bound.ts';
import { bertTokenizerFromText } from '../../trainer/tokenizer/bert-tokenizer-core.ts';
import { fakeServing, fakeStore, tinyBaseLoader } from '../support/fake-serving.ts';

const store = fakeStore('predict-bounds-');
const WORDS = ['good', 'bad', 'film', 'movie', 'fun', 'dull', 'a', 'the', 'is', 'was'];
const longText = (words: number) => Array.from({ length: words }, (_, i) => WORDS[(i * 7) % WORDS.length]).join(' ');

before(() => {
  store.add({ task: 'small', mode: 'adapter', labels: 2, seed: 1 });
});
after(() => rmSync(store.root, { recursive: true, force: true }));

async function rejectsWith(p: Promise<unknown>, code: string): Promise<PredictError> {
  let caught: unknown;
  await p.catch((e: unknown) => {
    caught = e;
  });
  assert.ok(caught instanceof PredictError, `a PredictError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

test('rows admitted at once are capped: beyond, PredictError busy with a retry time; the cap frees as rows finish', async () => {
  const s = await fakeServing(store, { maxQueuedRows: 40 });
  s.hold();
  const first = s.predictor.predict({ task: 'small', inputs: Array(32).fill('a film') });
  const busy = await rejectsWith(s.predictor.predict({ task: 'small', inputs: Array(16).fill('b') }), 'busy');
  assert.equal(busy.retryAfterSeconds, 1);
  assert.match(busy.message, /at most 40/);
  assert.equal(s.predictor.queuedRows, 32);
  const fits = s.predictor.predict({ task: 'small', inputs: Array(8).fill('c') });
  s.release();
  assert.equal((await first).predictions.length, 32);
  assert.equal((await fits).predictions.length, 8);
  assert.equal(s.predictor.queuedRows, 0);
  assert.equal((await s.predictor.predict({ task: 'small', inputs: Array(16).fill('d') })).predictions.length, 16);
});

test('rows of abandoned requests never reach the engine (the abandoned-flood probe, scaled down)', async () => {
  const s = await fakeServing(store, { maxQueuedRows: 1000 });
  s.hold();
  const running = s.predictor.predict({ task: 'small', inputs: ['holds the engine'] });
  while (s.runs.length === 0) await new Promise((r) => setTimeout(r, 5));
  // Ten maximum-size requests queue behind it; their clients go away before it finishes.
  const clients = Array.from({ length: 10 }, () => new AbortController());
  const flood = clients.map((c) => s.predictor.predict({ task: 'small', inputs: Array(32).fill(longText(300)), signal: c.signal }));
  await new Promise((r) => setTimeout(r, 20));
  for (const c of clients) c.abort(new Error('client went away'));
  for (const p of flood) await rejectsWith(p, 'cancelled');
  s.release();
  await running;
  const small = await s.predictor.predict({ task: 'small', inputs: ['a small one'] });
  assert.equal(small.predictions.length, 1);
  assert.equal(
    s.runs.reduce((n, r) => n + r.rows, 0),
    2,
    `only the two live rows ran: ${JSON.stringify(s.runs)}`,
  );
  assert.equal(s.predictor.queuedRows, 0);
});

test('texts are cut to the words maxSeqLen can use, with the same encoding', () => {
  const vocab = readFileSync(join(store.baseDir, 'vocab.txt'), 'utf8');
  const tok = bertTokenizerFromText({ vocabTxt: { name: 'vocab.txt', text: vocab } }, { maxSeqLen: 64 });
  const cases = [longText(5000), `${'x'.repeat(3000)} ${longText(200)}`, `  ${longText(80)}\t\n${longText(80)}`, 'short text'];
  for (const text of cases) {
    const cut = usableText(text, 64);
    assert.ok(cut.length <= text.length);
    assert.deepEqual(tok.encode(cut).inputIds, tok.encode(text).inputIds);
    assert.deepEqual(tok.encode(cut, cut).inputIds, tok.encode(text, text).inputIds);
  }
  assert.ok(usableText(longText(5000), 64).length < 1000, 'a long text is cut');
  assert.equal(usableText('a b c d e', 3), 'a b c ');
  // A run of only combining marks or control characters gives no token: it is not counted as a word.
  assert.equal(usableText('a \u0301\u0301 \u0000 b c', 3), 'a \u0301\u0301 \u0000 b c');
});

test('the runtime tokenizes cut texts, one input per turn of the event loop', async () => {
  const seen: string[] = [];
  const load = tinyBaseLoader(store);
  const loadBase = async (name: string): Promise<ServingBase> => {
    const base = await load(name);
    const spy = (t: ServingBase['tokenizer']): ServingBase['tokenizer'] =>
      Object.assign(Object.create(t) as ServingBase['tokenizer'], {
        encode: (text: string, pair?: string) => {
          seen.push(text);
          return t.encode(text, pair);
        },
        withMaxSeqLen: (n: number) => spy(t.withMaxSeqLen ? t.withMaxSeqLen(n) : t),
      });
    return { ...base, tokenizer: spy(base.tokenizer) };
  };
  const s = await fakeServing(store, { loadBase });
  await s.predictor.predict({ task: 'small', inputs: ['warm up'] }); // the adapter loads first
  seen.length = 0;
  // A ticker that runs on every turn of the event loop records how many inputs were tokenized by then.
  const atTicks: number[] = [];
  let done = false;
  const tick = () => {
    atTicks.push(seen.length);
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  const res = await s.predictor.predict({ task: 'small', inputs: Array(32).fill(longText(3000)) });
  done = true;
  assert.equal(res.predictions.length, 32);
  assert.equal(seen.length, 32);
  for (const text of seen) assert.ok(text.length < 1000, `tokenized a cut text (${text.length} characters)`);
  let largest = atTicks[0];
  for (let i = 1; i < atTicks.length; i++) largest = Math.max(largest, atTicks[i] - atTicks[i - 1]);
  assert.ok(largest <= 2, `at most ~1 input tokenized between two turns of the event loop (saw ${largest}: ${atTicks.join(',')})`);
});

test('an adapter with 200,000 labels answers (no label-sized spread into a call)', async () => {
  const wide = fakeStore('predict-labels-');
  wide.add({ task: 'many-labels', mode: 'head', labels: 200_000, seed: 2 });
  const s = await fakeServing(wide);
  try {
    const res = await s.predictor.predict({ task: 'many-labels', inputs: ['which one?'] });
    assert.equal(res.predictions[0].label, 'l0'); // zero logits: every label equal, the first wins
    assert.equal(Object.keys(res.predictions[0].probs).length, 200_000);
  } finally {
    s.close();
  }
});

test('no source file spreads an array into Math.max or Math.min', () => {
  const root = join(import.meta.dirname, '..', '..', '..');
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (['node_modules', '.git', 'cdk.out', '.adapter-store', '.bench'].includes(name)) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|mts|mjs|js)$/.test(name) && !name.endsWith('.test.ts') && !name.includes('.generated.')) {
        readFileSync(path, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (/Math\.(max|min)\([^)]*\.\.\./.test(line)) offenders.push(`${relative(root, path)}:${i + 1}`);
          });
      }
    }
  };
  walk(root);
  assert.deepEqual(offenders, []);
});
