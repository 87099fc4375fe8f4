/**
 * BERT WordPiece tokenization on the real bert-base-uncased vocab (shipped in assets/): ids known from
 * Hugging Face's BertTokenizer where certain, the others looked up in the vocab file by token; loading
 * rules and errors; agreement with the independent Python reference on hand-written sentences, sentence
 * pairs and seeded texts glued from vocabulary entries (test/support/text-rows.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BertTokenizer, loadBertTokenizer, longestFirstLengths, TokenizerError } from '../../../trainer/tokenizer/bert-tokenizer.ts';
import { bertTokenizerJson, vocabFromLines } from '../../../trainer/tokenizer/tokenizer-json.ts';
import { BERT_VOCAB_FILE, bertVocab, pairRows, SENTENCES, vocabTexts } from '../../support/text-rows.ts';

const here = dirname(fileURLToPath(import.meta.url));
const vocabPath = BERT_VOCAB_FILE;
const vocab = bertVocab();

/** The id of a token, by its line in the vocab file (fails if the token is not there). */
const id = (token: string): number => {
  const i = vocab.indexOf(token);
  assert.ok(i >= 0, `${JSON.stringify(token)} is not in the vocab`);
  return i;
};
const ids = (...tokens: string[]): number[] => tokens.map(id);
const [PAD, UNK, CLS, SEP] = [0, 100, 101, 102];

const work = mkdtempSync(join(tmpdir(), 'bert-tok-'));
let dirCount = 0;
/** A model directory holding the given files (vocab.txt is the real one unless given). */
function modelDir(files: Record<string, string> = {}, withVocab = true): string {
  const dir = join(work, `m${dirCount++}`);
  mkdirSync(dir);
  if (withVocab) copyFileSync(vocabPath, join(dir, 'vocab.txt'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const uncasedDir = modelDir();
const tokenizers = new Map<number, BertTokenizer>();
async function tok(maxSeqLen = 512): Promise<BertTokenizer> {
  let t = tokenizers.get(maxSeqLen);
  if (t === undefined) {
    t = await loadBertTokenizer(uncasedDir, { maxSeqLen });
    tokenizers.set(maxSeqLen, t);
  }
  return t;
}
/** Word-piece ids of a single text, without [CLS]/[SEP]. */
async function pieces(text: string): Promise<number[]> {
  const e = (await tok()).encode(text);
  assert.equal(e.inputIds[0], CLS);
  assert.equal(e.inputIds.at(-1), SEP);
  assert.deepEqual(e.tokenTypeIds, new Array<number>(e.inputIds.length).fill(0));
  return e.inputIds.slice(1, -1);
}

test('the real vocab: size, special ids, uncased by default', async () => {
  const t = await tok();
  assert.equal(t.vocabSize, 30522);
  assert.deepEqual([t.padId, t.unkId, t.clsId, t.sepId], [PAD, UNK, CLS, SEP]);
  assert.deepEqual(ids('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'), [0, 100, 101, 102, 103]);
  assert.equal(t.lowercase, true);
  assert.equal(t.stripAccents, true);
  assert.equal(t.maxSeqLen, 512);
});

test('"Hello, world!" is [CLS] hello , world ! [SEP] = [101, 7592, 1010, 2088, 999, 102]', async () => {
  const e = (await tok()).encode('Hello, world!');
  assert.deepEqual(e.inputIds, [101, 7592, 1010, 2088, 999, 102]);
  assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 0]);
  assert.equal(e.truncatedTokens, 0);
  assert.deepEqual(await pieces('Hello.'), [7592, 1012]);
});

test('punctuation: every P* character and every ASCII symbol is its own token', async () => {
  assert.deepEqual(
    await pieces("don't stop -- (really)? $5.00"),
    ids('don', "'", 't', 'stop', '-', '-', '(', 'really', ')', '?', '$', '5', '.', '00'),
  );
  // $ ^ ` ~ + = < > | are symbols (S*), not punctuation, in Unicode; BERT splits all of ASCII's.
  assert.deepEqual(
    await pieces('^_^ `x` ~y~ a+b=c<d>e|f'),
    ids('^', '_', '^', '`', 'x', '`', '~', 'y', '~', 'a', '+', 'b', '=', 'c', '<', 'd', '>', 'e', '|', 'f'),
  );
  // Non-ASCII punctuation (P*): the em dash, curly quotes, the inverted question mark.
  assert.deepEqual(await pieces('yes—no “maybe” ¿qué?'), ids('yes', '—', 'no', '“', 'maybe', '”', '¿', 'que', '?'));
});

test('accents: lower-cased, decomposed and stripped', async () => {
  assert.deepEqual(await pieces('Café naïve'), ids('cafe', 'naive'));
  assert.deepEqual(await pieces('Café naïve'), [7668, 15743]);
  assert.deepEqual(await pieces('ÉCOLE'), ids('ecole'));
  // Already decomposed input (e + U+0301, i + U+0308) gives the same ids as the composed one.
  assert.deepEqual(await pieces('Cafe\u0301 nai\u0308ve'), ids('cafe', 'naive'));
  // İ (U+0130) lower-cases to i + U+0307, the dot is stripped.
  assert.deepEqual(await pieces('İstanbul'), ids('istanbul'));
});

test('CJK ideographs are tokens of their own, also inside a word; one missing from the vocab is [UNK] alone', async () => {
  assert.deepEqual(await pieces('hello中文world'), ids('hello', '中', '文', 'world'));
  assert.equal(vocab.indexOf('字'), -1);
  assert.deepEqual(await pieces('a字b'), [id('a'), UNK, id('b')]);
  // Outside the BMP too (CJK Extension B, U+20000), which tokenizers.js alone would glue to its neighbours.
  assert.equal(vocab.indexOf('\u{20000}'), -1);
  assert.deepEqual(await pieces('a\u{20000}b'), [id('a'), UNK, id('b')]);
  // Katakana is not in the CJK ideograph blocks: it stays part of the word.
  assert.deepEqual(await pieces('aア'), ids('a', '##ア'));
});

test('unknown characters make the whole word [UNK] (id 100); words over 100 characters are [UNK]', async () => {
  assert.deepEqual(await pieces('😀'), [UNK]);
  assert.deepEqual(await pieces('hello😀 world'), [UNK, id('world')]);
  assert.deepEqual(await pieces('x'.repeat(101)), [UNK]);
  assert.deepEqual(await pieces('x'.repeat(100)), ids('xx', ...new Array<string>(49).fill('##xx')));
  assert.deepEqual(await pieces(`${'x'.repeat(101)}, ok`), [UNK, id(','), id('ok')]);
});

test('word pieces: greedy longest match first from the left', async () => {
  // The original BERT README shows "un ##aff ##able" for another vocab; in bert-base-uncased "una" is the
  // longest vocab prefix and "##aff" does not exist, so greedy matching gives una ##ffa ##ble.
  assert.equal(vocab.indexOf('##aff'), -1);
  assert.deepEqual(await pieces('unaffable'), ids('una', '##ffa', '##ble'));
  assert.deepEqual(await pieces('tokenization'), ids('token', '##ization'));
  assert.deepEqual(await pieces('Playing'), ids('playing'));
});

test('whitespace and control characters: collapsed, removed, or splitting', async () => {
  assert.deepEqual(await pieces('  hello\t\n world\r\n '), ids('hello', 'world'));
  // NUL, U+FFFD, BEL (Cc) and zero-width space (Cf) are dropped and join their neighbours.
  assert.deepEqual(await pieces('hel\u200blo wor\u0000l\ufffdd a\u0007b'), ids('hello', 'world', 'ab'));
  // No-break space, ideographic space and line separator split words.
  assert.deepEqual(await pieces('hello\u00a0there\u3000again\u2028now'), ids('hello', 'there', 'again', 'now'));
  assert.deepEqual(await pieces(''), []);
  assert.deepEqual(await pieces(' \t\n\u200b '), []);
});

test('Greek capital sigma lower-cases to σ everywhere, as the Rust tokenizer does (JS would end words with ς)', async () => {
  assert.deepEqual(await pieces('ΟΔΟΣ'), ids('ο', '##δ', '##ο', '##σ'));
});

test('special tokens written in the text are kept whole, as in Hugging Face', async () => {
  assert.deepEqual(await pieces('hello [SEP] x'), [id('hello'), SEP, id('x')]);
});

test('a sentence pair: [CLS] A [SEP] B [SEP] with token types 0…0 1…1', async () => {
  const t = await tok();
  const e = t.encode('Hello, world!', 'Hello.');
  assert.deepEqual(e.inputIds, [101, 7592, 1010, 2088, 999, 102, 7592, 1012, 102]);
  assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 0, 1, 1, 1]);
  assert.deepEqual(t.encode('Hello.', '').inputIds, [101, 7592, 1012, 102, 102]);
  assert.deepEqual(t.encode('Hello.', '').tokenTypeIds, [0, 0, 0, 0, 1]);
});

test('truncation of a single text keeps the first maxSeqLen - 2 pieces', async () => {
  const e = (await tok(4)).encode('Hello, world!');
  assert.deepEqual(e.inputIds, [101, 7592, 1010, 102]);
  assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0]);
  assert.equal(e.truncatedTokens, 2);
  assert.deepEqual((await tok(2)).encode('Hello, world!').inputIds, [101, 102]);
  assert.deepEqual((await tok(6)).encode('Hello, world!').inputIds, [101, 7592, 1010, 2088, 999, 102]);
});

test('truncation of a pair is longest-first (Hugging Face fast tokenizer rule)', async () => {
  const [a, b] = [id('a'), id('b')];
  const words = (w: string, n: number): string => new Array<string>(n).fill(w).join(' ');
  const t8 = await tok(8); // 5 pieces in all
  const check = (na: number, nb: number, keepA: number, keepB: number): void => {
    const e = t8.encode(words('a', na), words('b', nb));
    assert.deepEqual(e.inputIds, [CLS, ...new Array<number>(keepA).fill(a), SEP, ...new Array<number>(keepB).fill(b), SEP], `${na}+${nb}`);
    assert.deepEqual(e.tokenTypeIds, [...new Array<number>(keepA + 2).fill(0), ...new Array<number>(keepB + 1).fill(1)]);
    assert.equal(e.truncatedTokens, na - keepA + (nb - keepB));
  };
  check(2, 3, 2, 3); // fits
  check(2, 9, 2, 3); // only the longer is cut
  check(9, 2, 3, 2);
  check(6, 5, 3, 2); // both cut: the longer keeps the odd piece
  check(5, 6, 2, 3);
  check(5, 5, 2, 3); // a tie: the second keeps it
  check(0, 9, 0, 5);
  assert.deepEqual((await tok(3)).encode('a b', 'c').inputIds, [CLS, SEP, SEP]);
  await assert.rejects(async () => (await tok(2)).encode('a', 'b'), TokenizerError);
});

test('longestFirstLengths: fills the budget; keeps a side that fits its half whole; else halves, odd piece to the longer', () => {
  for (let budget = 0; budget <= 12; budget++) {
    for (let x = 0; x <= 15; x++) {
      for (let y = 0; y <= 15; y++) {
        const [kx, ky] = longestFirstLengths(x, y, budget);
        assert.equal(kx + ky, Math.min(x + y, budget), `${x}+${y} in ${budget}`);
        assert.ok(kx >= 0 && ky >= 0 && kx <= x && ky <= y);
        if (x + y <= budget) assert.deepEqual([kx, ky], [x, y]);
        else if (2 * Math.min(x, y) <= budget) assert.equal(x <= y ? kx : ky, Math.min(x, y));
        else {
          assert.ok(Math.abs(kx - ky) <= 1);
          if (kx !== ky)
            assert.equal(kx > ky, x > y, `${x}+${y} in ${budget}: the odd piece goes to the longer side (the second on a tie)`);
        }
      }
    }
  }
});

test('tokenizer.json built from vocab.txt tokenizes the same; tokenizer.json wins over vocab.txt', async () => {
  const json = bertTokenizerJson(vocabFromLines(vocab), { lowercase: true });
  const viaJson = await loadBertTokenizer(modelDir({ 'tokenizer.json': JSON.stringify(json) }, false), { maxSeqLen: 64 });
  const viaVocab = await tok(64);
  for (const r of [...pairRows(100), ...vocabTexts(vocab, 100).map((text) => ({ text, text_pair: undefined }))]) {
    assert.deepEqual(viaJson.encode(r.text, r.text_pair), viaVocab.encode(r.text, r.text_pair));
  }
  assert.equal(viaJson.vocabSize, 30522);
  // A cased tokenizer.json next to the vocab: the tokenizer.json's normalizer is what counts.
  const cased = bertTokenizerJson(vocabFromLines(vocab), { lowercase: false });
  const t = await loadBertTokenizer(modelDir({ 'tokenizer.json': JSON.stringify(cased) }), { maxSeqLen: 64 });
  assert.equal(t.lowercase, false);
  assert.equal(t.stripAccents, false);
  assert.notDeepEqual(t.encode('Hello').inputIds, [CLS, id('hello'), SEP]);
  assert.deepEqual(t.encode('hello').inputIds, [CLS, id('hello'), SEP]);
});

test('lower-casing: the option, then tokenizer_config.json, then the tokenizer.json normalizer, then uncased', async () => {
  const casedJson = JSON.stringify(bertTokenizerJson(vocabFromLines(vocab), { lowercase: false }));
  const config = (o: object): string => JSON.stringify(o);
  const load = async (files: Record<string, string>, lowercase?: boolean): Promise<BertTokenizer> =>
    loadBertTokenizer(modelDir(files), lowercase === undefined ? { maxSeqLen: 16 } : { maxSeqLen: 16, lowercase });
  assert.equal((await load({ 'tokenizer.json': casedJson })).lowercase, false);
  assert.equal((await load({ 'tokenizer.json': casedJson, 'tokenizer_config.json': config({ do_lower_case: true }) })).lowercase, true);
  assert.equal(
    (await load({ 'tokenizer.json': casedJson, 'tokenizer_config.json': config({ do_lower_case: true }) }, false)).lowercase,
    false,
  );
  assert.equal((await load({ 'tokenizer_config.json': config({ do_lower_case: false }) })).lowercase, false);
  assert.equal((await load({ 'tokenizer_config.json': config({ do_lower_case: false }) }, true)).lowercase, true);
  assert.equal((await load({ 'tokenizer_config.json': config({ model_max_length: 512 }) })).lowercase, true);
  // strip_accents false keeps accents while lower-casing: "café" is then not "cafe".
  const keep = await load({ 'tokenizer_config.json': config({ do_lower_case: true, strip_accents: false }) });
  assert.equal(keep.stripAccents, false);
  assert.notDeepEqual(keep.encode('Café').inputIds, [CLS, id('cafe'), SEP]);
  assert.deepEqual(keep.encode('CAFE').inputIds, [CLS, id('cafe'), SEP]);
  // strip_accents null (as bert-base-uncased's config has it) follows lower-casing.
  assert.equal((await load({ 'tokenizer_config.json': config({ do_lower_case: true, strip_accents: null }) })).stripAccents, true);
  // tokenize_chinese_chars false: CJK characters stay inside the word.
  const noCjk = await load({ 'tokenizer_config.json': config({ tokenize_chinese_chars: false }) });
  assert.deepEqual(noCjk.encode('a中').inputIds, [CLS, ...ids('a', '##中'), SEP]);
});

test('errors name the file', async () => {
  const fails = async (dir: string, pattern: RegExp, maxSeqLen = 16): Promise<void> => {
    await assert.rejects(loadBertTokenizer(dir, { maxSeqLen }), (e: unknown) => e instanceof TokenizerError && pattern.test(e.message));
  };
  const empty = modelDir({}, false);
  await fails(empty, new RegExp(`${join(empty, 'tokenizer.json')}.*${join(empty, 'vocab.txt')}`));
  const emptyVocab = modelDir({ 'vocab.txt': '' }, false);
  await fails(emptyVocab, new RegExp(`^${join(emptyVocab, 'vocab.txt')}: the vocabulary is empty`));
  await fails(modelDir({ 'vocab.txt': '\n\n' }, false), /vocab\.txt: the vocabulary is empty/);
  await fails(
    modelDir({ 'vocab.txt': '[UNK]\n[CLS]\n[SEP]\nhello\n' }, false),
    /vocab\.txt: the vocabulary has no padding token "\[PAD\]"/,
  );
  await fails(modelDir({ 'vocab.txt': '[PAD]\n[UNK]\n[SEP]\n' }, false), /vocab\.txt: .*no classifier token "\[CLS\]"/);
  await fails(modelDir({ 'vocab.txt': '[PAD]\n[UNK]\n[CLS]\n' }, false), /vocab\.txt: .*no separator token "\[SEP\]"/);
  await fails(modelDir({ 'vocab.txt': '[PAD]\n[CLS]\n[SEP]\n' }, false), /vocab\.txt: .*no unknown token "\[UNK\]"/);
  const garbled = modelDir({ 'tokenizer.json': '{"model": {"type": "WordPiece", "vocab": ' });
  await fails(garbled, new RegExp(`^${join(garbled, 'tokenizer.json')}: not valid JSON`));
  await fails(modelDir({ 'tokenizer.json': '[1, 2]' }), /tokenizer\.json: expected a JSON object/);
  await fails(
    modelDir({ 'tokenizer.json': '{"model": {"type": "BPE", "vocab": {}}}' }),
    /tokenizer\.json: model type "BPE" is not WordPiece/,
  );
  await fails(modelDir({ 'tokenizer.json': '{"model": {"type": "WordPiece", "vocab": {}}}' }), /tokenizer\.json: model\.vocab is empty/);
  await fails(
    modelDir({ 'tokenizer.json': '{"model": {"type": "WordPiece", "vocab": {"a": -1}}}' }),
    /tokenizer\.json: model\.vocab\["a"\]/,
  );
  await fails(modelDir({ 'tokenizer_config.json': '{oops' }), /tokenizer_config\.json: not valid JSON/);
  const json = bertTokenizerJson(vocabFromLines(vocab), { lowercase: true }) as unknown as Record<string, unknown>;
  await fails(
    modelDir({ 'tokenizer.json': JSON.stringify({ ...json, normalizer: { type: 'NFC' } }) }),
    /tokenizer\.json: normalizer "NFC" is not supported/,
  );
  await fails(
    modelDir({ 'tokenizer.json': JSON.stringify({ ...json, pre_tokenizer: { type: 'NoSuchThing' } }) }),
    /tokenizer\.json: cannot be used/,
  );
  await fails(uncasedDir, /maxSeqLen must be an integer ≥ 2/, 1);
  await fails(uncasedDir, /maxSeqLen must be an integer ≥ 2/, 2.5);
  assert.throws(() => (tokenizers.get(512) as BertTokenizer).encode(null as unknown as string), TokenizerError);
});

const python = '/usr/bin/python3';
test('agrees 100% with the independent Python reference on 230 texts (and 100 sentence pairs at maxSeqLen 32)', async (t) => {
  if (!existsSync(python)) {
    t.skip(`${python} is not installed`);
    return;
  }
  const reference = join(here, 'reference_bert_tokenizer.py');
  const run = (rows: { text: string; text_pair?: string }[], maxSeqLen?: number): { input_ids: number[]; token_type_ids: number[] }[] => {
    const input = `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
    const extra = maxSeqLen === undefined ? [] : ['--max-seq-len', String(maxSeqLen)];
    const res = spawnSync(python, [reference, '--vocab', vocabPath, ...extra], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(res.status, 0, res.stderr);
    return res.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { input_ids: number[]; token_type_ids: number[] });
  };
  const sst = [...SENTENCES, ...vocabTexts(vocab, 200, 7)].map((text) => ({ text }));
  const ours = await tok(100_000);
  const ref = run(sst);
  assert.equal(ref.length, sst.length);
  let same = 0;
  sst.forEach((r, i) => {
    const e = ours.encode(r.text);
    if (e.inputIds.join() === ref[i].input_ids.join() && e.tokenTypeIds.join() === ref[i].token_type_ids.join()) same++;
  });
  assert.equal(same, sst.length, `${same}/${sst.length} texts identical`);
  const rte = pairRows(100, 3).map(({ text, text_pair }) => ({ text, text_pair }));
  const short = await tok(32);
  const refRte = run(rte, 32);
  rte.forEach((r, i) => {
    const e = short.encode(r.text, r.text_pair);
    assert.deepEqual([e.inputIds, e.tokenTypeIds], [refRte[i].input_ids, refRte[i].token_type_ids], `pair ${i + 1}: ${JSON.stringify(r)}`);
  });
});
