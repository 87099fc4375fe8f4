/**
 * Text rows for tests, made here rather than read from a data folder a user's clone does not have:
 * hand-written sentences (punctuation, accents, contractions, numbers, CJK), a seeded sentiment set a tiny
 * model can learn, sentence pairs, and seeded "words" glued from vocabulary entries (which exercise
 * WordPiece splitting far more than real prose does).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { vocabLines } from '../../trainer/tokenizer/tokenizer-json.ts';
import { Rng } from '../../trainer/util/random.ts';

/** The bert-base-uncased vocabulary the product ships (Apache-2.0, see assets/README.md). */
export const BERT_VOCAB_FILE = join(import.meta.dirname, '..', '..', 'assets', 'bert-base-uncased', 'vocab.txt');

export interface TextRow {
  text: string;
  text_pair?: string;
  label: number;
}

/** Sentences written for these tests: every kind of character the tokenizer treats specially. */
export const SENTENCES: readonly string[] = [
  'A quiet, moving film about two brothers.',
  "It's not the best movie I've seen -- but it's close!",
  'The plot was predictable; the acting, however, was superb.',
  'Tickets cost $12.50 at 7:30 p.m. (matinee: $8).',
  'She said, "I wouldn\'t watch it again."',
  'Café au lait, crème brûlée and a naïve résumé.',
  'ÉCOLE NORMALE SUPÉRIEURE — Paris, 1794.',
  'Über-long runtime (3h 12m)… too much?',
  'The director’s “masterpiece” is a mess.',
  '東京 and 北京 are capitals; 字 is a character.',
  'e-mail me at someone@example.com or visit www.example.org/path?q=1&x=2.',
  'Numbers: 3.14159, 2,718, 1e-5, -42 and 100%.',
  'unaffable, tokenization, antidisestablishmentarianism.',
  'Ἀθῆναι and Σωκράτης wrote nothing down.',
  'It was 10/10 — would recommend!!!',
  'no punctuation at all in this one',
  '   leading and trailing spaces   ',
  'Tabs\tand\nnewlines\r\nin the middle.',
  'The ending felt rushed, and the score was forgettable.',
  'A triumph of style over substance.',
  '¿Qué pasa? ¡Nada!',
  'Straße, Ærø, Øresund, İstanbul.',
  'zero\u200bwidth and non\u00a0breaking spaces',
  'Emoji are unknown words 😀 to this vocabulary 🎬.',
  'C++ and C# ~ F# | Haskell <3 => "types".',
  "Rock 'n' roll isn't dead, y'all.",
  'The U.S.A. and the U.K. signed it in Jan. 2001.',
  'A wonderful, warm and witty comedy.',
  'Dull, lifeless and far too long.',
  'Mr. Smith goes to Washington (1939) is a classic.',
];

// Words a tiny model can learn sentiment from, and neutral filler around them.
const POSITIVE = ['great', 'wonderful', 'brilliant', 'moving', 'funny', 'beautiful', 'superb', 'charming'];
const NEGATIVE = ['awful', 'boring', 'dull', 'terrible', 'tedious', 'clumsy', 'bland', 'painful'];
const FILLER = ['the', 'film', 'story', 'cast', 'movie', 'script', 'ending', 'was', 'is', 'a', 'truly', 'rather', 'and', 'its'];

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

/** `n` single-text rows labelled 1 (positive words) or 0 (negative words), alternating, seeded. */
export function sentimentRows(n: number, seed = 1): TextRow[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const label = i % 2;
    const words = Array.from({ length: 3 + rng.int(8) }, () => pick(rng, FILLER));
    words.splice(rng.int(words.length + 1), 0, pick(rng, label ? POSITIVE : NEGATIVE));
    const text = `${words.join(' ')}${pick(rng, ['.', '!', '', ' ...', '?'])}`;
    return { text: text[0].toUpperCase() + text.slice(1), label };
  });
}

/** `n` sentence pairs (text, text_pair) from SENTENCES, labelled 1 when the pair shares a word. */
export function pairRows(n: number, seed = 1): TextRow[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const [a, b] = [pick(rng, SENTENCES), pick(rng, SENTENCES)];
    const words = (s: string) =>
      new Set(
        s
          .toLowerCase()
          .split(/\W+/)
          .filter((w) => w.length > 3),
      );
    const shared = [...words(a)].some((w) => words(b).has(w));
    return { text: a, text_pair: b, label: shared ? 1 : 0 };
  });
}

/**
 * `n` texts of seeded "words" glued from 1-3 vocabulary entries (so a word splits into pieces, or into
 * [UNK]), in random case, with punctuation and accented or CJK characters between them.
 */
export function vocabTexts(vocab: readonly string[], n: number, seed = 1): string[] {
  const rng = new Rng(seed);
  const entries = vocab.filter((t) => !/^\[.*\]$/.test(t)).map((t) => t.replace(/^##/, ''));
  const extras = [',', '.', '!', '?', '-', "'", '"', '(', ')', 'é', 'Ñ', '中', '—', '😀', '\u0301', '\t', '  '];
  const word = (): string => {
    let w = Array.from({ length: 1 + rng.int(3) }, () => pick(rng, entries)).join('');
    if (rng.int(4) === 0) w = w.toUpperCase();
    else if (rng.int(3) === 0) w = w[0].toUpperCase() + w.slice(1);
    return w;
  };
  return Array.from({ length: n }, () =>
    Array.from({ length: 1 + rng.int(12) }, () => (rng.int(5) === 0 ? `${word()}${pick(rng, extras)}` : word())).join(' '),
  );
}

/** The shipped vocabulary's tokens, one per line in id order. */
export function bertVocab(): string[] {
  return vocabLines(readFileSync(BERT_VOCAB_FILE, 'utf8'));
}

/** Rows as JSONL text (one JSON object a line, a final newline). */
export const toJsonl = (rows: readonly object[]): string => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
