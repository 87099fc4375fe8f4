/**
 * Agreement of trainer/tokenizer with an independent reference: every text of SST-2 train+validation,
 * CoLA train+validation and RTE train (text + text_pair) is tokenized by our tokenizer (bert-base-uncased
 * vocab) and by test/trainer/tokenizer/reference_bert_tokenizer.py (the original BERT algorithm in plain
 * Python), once untruncated and once at --max-seq-len. Prints rows compared, % identical, the first
 * disagreements, and our tokenizer's rows/s.
 *
 *   npx tsx test/bench/tokenizer-agreement.ts [--max-seq-len 128] [--show 5] [--python /usr/bin/python3]
 */

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Encoding, loadBertTokenizer } from '../../trainer/tokenizer/bert-tokenizer.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: resolve(root, '../shared/data') },
    'max-seq-len': { type: 'string', default: '128' },
    show: { type: 'string', default: '5' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const dataDir = args.data;
if (!existsSync(join(dataDir, 'glue'))) {
  throw new Error(
    `${join(dataDir, 'glue')} not found: this benchmark reads the team's data folder ../shared/data (not part of the repository), or --data DIR`,
  );
}
const maxSeqLen = Number(args['max-seq-len']);
const show = Number(args.show);
const vocabPath = join(root, 'assets', 'bert-base-uncased', 'vocab.txt');
const reference = join(root, 'test/trainer/tokenizer/reference_bert_tokenizer.py');

interface Row {
  source: string;
  text: string;
  textPair?: string;
}
const rows: Row[] = [];
for (const split of ['sst2/train', 'sst2/validation', 'cola/train', 'cola/validation', 'rte/train']) {
  const lines = readFileSync(join(dataDir, 'glue', `${split}.jsonl`), 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const o = JSON.parse(line) as { text: string; text_pair?: string };
    rows.push({ source: `${split}:${i + 1}`, text: o.text, textPair: o.text_pair });
  });
}

const vocab = readFileSync(vocabPath, 'utf8').split('\n');
const tokens = (ids: readonly number[]): string => ids.map((id) => vocab[id] ?? `#${id}`).join(' ');

const modelDir = mkdtempSync(join(tmpdir(), 'tok-agree-'));
copyFileSync(vocabPath, join(modelDir, 'vocab.txt'));

function runReference(limit: number | undefined): Encoding[] {
  const input =
    rows.map((r) => JSON.stringify(r.textPair === undefined ? { text: r.text } : { text: r.text, text_pair: r.textPair })).join('\n') +
    '\n';
  const refArgs = [reference, '--vocab', vocabPath, ...(limit === undefined ? [] : ['--max-seq-len', String(limit)])];
  const t0 = performance.now();
  const res = spawnSync(args.python, refArgs, { input, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`reference failed (${res.status}): ${res.error?.message ?? res.stderr}`);
  const out = res.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const o = JSON.parse(l) as { input_ids: number[]; token_type_ids: number[] };
      return { inputIds: o.input_ids, tokenTypeIds: o.token_type_ids };
    });
  if (out.length !== rows.length) throw new Error(`reference returned ${out.length} rows for ${rows.length}`);
  console.log(`  reference: ${((performance.now() - t0) / 1000).toFixed(1)} s for ${rows.length} rows (one python process)`);
  return out;
}

async function compare(label: string, limit: number | undefined): Promise<void> {
  console.log(`${label}:`);
  const tok = await loadBertTokenizer(modelDir, { maxSeqLen: limit ?? 1_000_000 });
  const t0 = performance.now();
  const ours = rows.map((r) => tok.encode(r.text, r.textPair));
  const seconds = (performance.now() - t0) / 1000;
  const ref = runReference(limit);
  let same = 0;
  let truncated = 0;
  const diffs: string[] = [];
  for (let i = 0; i < rows.length; i++) {
    if ((ours[i].truncatedTokens ?? 0) > 0) truncated++;
    const equal = ours[i].inputIds.join() === ref[i].inputIds.join() && ours[i].tokenTypeIds.join() === ref[i].tokenTypeIds.join();
    if (equal) same++;
    else if (diffs.length < show) {
      const r = rows[i];
      diffs.push(
        `  ${r.source} ${JSON.stringify(r.text).slice(0, 160)}${r.textPair === undefined ? '' : ` / ${JSON.stringify(r.textPair).slice(0, 80)}`}\n` +
          `    ours:      ${tokens(ours[i].inputIds).slice(0, 300)}\n    reference: ${tokens(ref[i].inputIds).slice(0, 300)}`,
      );
    }
  }
  console.log(
    `  rows compared: ${rows.length} (${rows.filter((r) => r.textPair !== undefined).length} pairs), truncated by us: ${truncated}`,
  );
  console.log(`  identical id sequences (and token types): ${same} = ${((100 * same) / rows.length).toFixed(4)}%`);
  console.log(`  our tokenizer: ${Math.round(rows.length / seconds)} rows/s (${seconds.toFixed(2)} s, encode() one row at a time)`);
  if (diffs.length > 0) console.log(`  first disagreements:\n${diffs.join('\n')}`);
}

try {
  await compare('untruncated', undefined);
  await compare(`--max-seq-len ${maxSeqLen}`, maxSeqLen);
} finally {
  rmSync(modelDir, { recursive: true, force: true });
}
