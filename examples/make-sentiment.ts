/**
 * Writes examples/sentiment.jsonl, the sample dataset of the README's walkthrough: short product and
 * film reviews composed from phrase lists written for this project (no public corpus), labelled
 * "positive" or "negative", some with a negated phrase whose polarity flips. Deterministic.
 *
 *   npx tsx examples/make-sentiment.ts [--rows 400] [--out examples/sentiment.jsonl]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Rng } from '../trainer/util/random.ts';

const SUBJECTS = [
  'the film',
  'this movie',
  'the sequel',
  'the documentary',
  'the soundtrack',
  'the cast',
  'the script',
  'the ending',
  'this book',
  'the new album',
  'the restaurant',
  'the service',
  'this phone',
  'the battery',
  'the camera',
  'the update',
  'the hotel room',
  'the tour',
  'the game',
  'the interface',
];
const POSITIVE = [
  'wonderful',
  'delightful',
  'brilliant',
  'moving',
  'excellent',
  'charming',
  'clever',
  'gripping',
  'beautiful',
  'superb',
  'a joy',
  'well made',
  'fun from start to finish',
  'worth every penny',
  'a real treat',
];
const NEGATIVE = [
  'dull',
  'tedious',
  'clumsy',
  'disappointing',
  'awful',
  'boring',
  'forgettable',
  'painful to sit through',
  'a waste of time',
  'poorly made',
  'lifeless',
  'messy',
  'overpriced',
  'annoying',
  'a letdown',
];
const OPENERS = ['', 'honestly, ', 'i thought ', 'to be fair, ', 'in the end ', 'frankly, ', 'overall ', 'my friends agreed: '];
const POSITIVE_TAILS = [
  'i would recommend it.',
  'we will be back.',
  'i loved it.',
  'five stars.',
  'highly recommended.',
  'it made my week.',
];
const NEGATIVE_TAILS = ['i would not recommend it.', 'never again.', 'i want my money back.', 'one star.', 'skip it.', 'what a shame.'];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng.uniform() * xs.length)];
}

export function sentimentRows(n: number, seed = 7): { text: string; label: 'positive' | 'negative' }[] {
  const rng = new Rng(seed);
  const rows: { text: string; label: 'positive' | 'negative' }[] = [];
  for (let i = 0; i < n; i++) {
    const positive = i % 2 === 0;
    // One review in five says "not <opposite>", so a bag of words alone cannot be enough.
    const negated = rng.uniform() < 0.2;
    const word = negated ? pick(rng, positive ? NEGATIVE : POSITIVE) : pick(rng, positive ? POSITIVE : NEGATIVE);
    const verb = negated ? 'was not' : 'was';
    const tail = rng.uniform() < 0.6 ? ` ${pick(rng, positive ? POSITIVE_TAILS : NEGATIVE_TAILS)}` : '';
    rows.push({ text: `${pick(rng, OPENERS)}${pick(rng, SUBJECTS)} ${verb} ${word}.${tail}`, label: positive ? 'positive' : 'negative' });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { rows: { type: 'string', default: '400' }, out: { type: 'string', default: 'examples/sentiment.jsonl' } },
  });
  const rows = sentimentRows(Number(values.rows));
  writeFileSync(values.out!, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  console.log(`wrote ${rows.length} rows to ${values.out}`);
}
