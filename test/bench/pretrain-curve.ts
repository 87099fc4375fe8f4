/**
 * Where the pretraining budget goes: downstream accuracy (an adapter, bottleneck 64, on the IMDB held-out
 * slice of heldout.ts) of bases taken from a pretraining run's checkpoints, against the CPU-minutes each
 * had had. Give a folder of checkpoint copies (each a `trainer pretrain --checkpoint-dir` snapshot taken
 * during the run); the point at 0 minutes is a random BERT of the same shape. Prints a Markdown table and
 * writes an SVG plot.
 *
 *   npx tsx test/bench/pretrain-curve.ts --snapshots DIR --heads 2 [--pretrain-threads 2] [--threads 2]
 *       [--epochs 3] [--svg docs/pretrain-curve.svg] [--skip-random] [--json OUT] [--include EARLIER.json]
 *
 * --json writes the points; --include adds the points of an earlier run (e.g. checkpoints scored while the
 * run was still going), so a long run is scored piecewise. A continued run (`pretrain --init`) counts its
 * steps, tokens and minutes from its start: --offset-steps/--offset-tokens/--offset-minutes add what its
 * --init base had had, so both stages share one axis (with --include holding the first stage's points), and
 * --tokenizer-dir names the --init base (its checkpoints hold no tokenizer of their own).
 *
 * Reads ../shared/data (team machines); nothing here is a test: it prints figures.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseBertConfig } from '../../trainer/model-files/bert-config.ts';
import { readPretrainCheckpoint } from '../../trainer/pretrain/checkpoint.ts';
import { writeMlmDir } from '../../trainer/pretrain/output.ts';
import { WORD_EMBEDDINGS } from '../../trainer/pretrain/params.ts';
import { prepareHeldOut, randomTwin, trainAndScore } from './heldout.ts';

const { values: a } = parseArgs({
  options: {
    snapshots: { type: 'string' },
    heads: { type: 'string' },
    'pretrain-threads': { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    epochs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    svg: { type: 'string' },
    'skip-random': { type: 'boolean', default: false },
    json: { type: 'string' },
    include: { type: 'string' },
    'offset-steps': { type: 'string', default: '0' },
    'offset-tokens': { type: 'string', default: '0' },
    'offset-minutes': { type: 'string', default: '0' },
    // A continued run's checkpoints hold no tokenizer (it is its --init's): give that directory.
    'tokenizer-dir': { type: 'string' },
  },
});
if (!a.snapshots || !a.heads) throw new Error('--snapshots DIR and --heads N are required');

const work = mkdtempSync(join(tmpdir(), 'pretrain-curve-'));
const imdb = prepareHeldOut('imdb', join(work, 'data'));

interface Point {
  label: string;
  step: number;
  cpuMinutes: number;
  tokens: number;
  mlmLoss: number | null;
  accuracy: number;
}
const points: Point[] = [];
const score = (base: string, name: string) =>
  trainAndScore(imdb, base, join(work, 'runs', name), {
    mode: 'adapter',
    epochs: a.epochs!,
    maxSeqLen: '128',
    threads: a.threads!,
    seed: a.seed!,
  }).accuracy;

let shapeSource: string | null = null;
const snapshots = readdirSync(a.snapshots)
  .map((d) => join(a.snapshots!, d))
  .filter((d) => existsSync(join(d, 'state.json')));
for (const dir of snapshots) {
  const ck = readPretrainCheckpoint(dir);
  if (!ck || 'torn' in ck) {
    console.error(`${dir}: ${ck ? ck.torn : 'no checkpoint'}; skipped`);
    continue;
  }
  const p = ck.tensors.params;
  // The checkpoint holds tensors, not a config: the shape follows from them (all but the heads).
  const hidden = p.get('bert.embeddings.LayerNorm.weight')!.length;
  const vocabSize = p.get(WORD_EMBEDDINGS)!.length / hidden;
  const layers = [...p.keys()].filter((k) => /^bert\.encoder\.layer\.\d+\.output\.LayerNorm\.weight$/.test(k)).length;
  const config = parseBertConfig({
    vocab_size: vocabSize,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: Number(a.heads),
    intermediate_size: p.get('bert.encoder.layer.0.intermediate.dense.bias')!.length,
    max_position_embeddings: p.get('bert.embeddings.position_embeddings.weight')!.length / hidden,
    type_vocab_size: 2,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-12,
    model_type: 'bert',
  });
  const pos = ck.state.position;
  const base = join(work, `base-${pos.step}`);
  writeMlmDir(base, config, p, {
    dtype: 'f32',
    tokenizerDir: a['tokenizer-dir'] ?? join(dir, 'tokenizer'),
    card: `checkpoint at step ${pos.step}\n`,
  });
  shapeSource ??= base;
  const masked = pos.recent.reduce((n, s) => n + s.masked, 0);
  const step = pos.step + Number(a['offset-steps']);
  const point = {
    label: `step ${step}`,
    step,
    cpuMinutes: (pos.trainSeconds * Number(a['pretrain-threads'])) / 60 + Number(a['offset-minutes']),
    tokens: pos.tokensSeen + Number(a['offset-tokens']),
    mlmLoss: pos.recent.reduce((n, s) => n + s.lossSum, 0) / masked,
    accuracy: score(base, `step-${pos.step}`),
  };
  points.push(point);
  console.error(JSON.stringify(point));
}
if (!shapeSource) throw new Error(`${a.snapshots}: no usable checkpoint`);
if (!a['skip-random']) {
  const accuracy = score(randomTwin(shapeSource, join(work, 'random')), 'random');
  points.push({ label: 'random init', step: 0, cpuMinutes: 0, tokens: 0, mlmLoss: null, accuracy });
}
if (a.include) points.push(...(JSON.parse(readFileSync(a.include, 'utf8')) as Point[]));
points.sort((x, y) => x.step - y.step);
if (a.json) writeFileSync(a.json, `${JSON.stringify(points, null, 2)}\n`);

console.log(
  `\nAdapter (bottleneck 64) on IMDB: ${imdb.scoreRows} held-out rows (majority ${imdb.majority.toFixed(3)}), against pretraining CPU-minutes\n`,
);
console.log('| pretraining step | CPU-minutes | tokens seen | MLM loss (last steps) | held-out accuracy |');
console.log('|---|---|---|---|---|');
for (const p of points) {
  console.log(
    `| ${p.step} | ${p.cpuMinutes.toFixed(0)} | ${(p.tokens / 1e6).toFixed(1)}M | ${p.mlmLoss === null ? '-' : p.mlmLoss.toFixed(2)} | ${p.accuracy.toFixed(4)} |`,
  );
}

if (a.svg) writeFileSync(a.svg, plot(points, imdb.majority));

/** A small line plot, accuracy against CPU-minutes, with the majority class as a dashed line. */
function plot(ps: Point[], majority: number): string {
  const [w, h, m] = [560, 320, 48];
  const maxX = ps.reduce((m, p) => Math.max(m, p.cpuMinutes), 1);
  const lo = ps.reduce((m, p) => Math.min(m, p.accuracy), majority) - 0.02;
  const hi = ps.reduce((m, p) => Math.max(m, p.accuracy), -Infinity) + 0.02;
  const x = (v: number) => m + ((w - 2 * m) * v) / maxX;
  const y = (v: number) => h - m - ((h - 2 * m) * (v - lo)) / (hi - lo);
  const line = ps.map((p) => `${x(p.cpuMinutes).toFixed(1)},${y(p.accuracy).toFixed(1)}`).join(' ');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
<title>IMDB held-out accuracy of an adapter against pretraining CPU-minutes</title>
<rect width="${w}" height="${h}" fill="white"/>
<line x1="${m}" y1="${h - m}" x2="${w - m}" y2="${h - m}" stroke="black"/><line x1="${m}" y1="${m}" x2="${m}" y2="${h - m}" stroke="black"/>
${ticks.map((t) => `<text x="${m - 6}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(2)}</text>`).join('\n')}
${[0, 0.5, 1].map((f) => `<text x="${x(f * maxX)}" y="${h - m + 16}" text-anchor="middle">${(f * maxX).toFixed(0)}</text>`).join('\n')}
<text x="${w / 2}" y="${h - 10}" text-anchor="middle">pretraining CPU-minutes</text>
<text x="14" y="${h / 2}" transform="rotate(-90 14 ${h / 2})" text-anchor="middle">IMDB held-out accuracy (adapter)</text>
<line x1="${m}" y1="${y(majority)}" x2="${w - m}" y2="${y(majority)}" stroke="gray" stroke-dasharray="4 4"/>
<text x="${w - m}" y="${y(majority) - 4}" text-anchor="end" fill="gray">majority class</text>
<polyline points="${line}" fill="none" stroke="#1f77b4" stroke-width="2"/>
${ps.map((p) => `<circle cx="${x(p.cpuMinutes).toFixed(1)}" cy="${y(p.accuracy).toFixed(1)}" r="3" fill="#1f77b4"/>`).join('\n')}
</svg>
`;
}
