/**
 * What the Node engine's serving session costs: time to create one (graph build + onnxruntime, base
 * weights fed as inputs) per variant, and resident memory before the base, with it, and with sessions.
 * Run: node --import tsx test/bench/serving-session.ts [baseDir]   (default: the shipped base)
 */
import { basename, resolve } from 'node:path';
import { loadBaseDir, NodeEngines } from '../../serving/node.ts';

const dir = resolve(process.argv[2] ?? 'assets/models/bert-imdb-4x128-v2');
const mb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const engines = new NodeEngines(2);
const rss0 = mb();
const t0 = performance.now();
const base = await loadBaseDir(basename(dir), dir, engines);
const loadMs = performance.now() - t0;
const rss1 = mb();
for (const nonlinearity of ['gelu', 'relu'] as const) await engines.engine(base, { nonlinearity, usesPooler: base.hasPooler });
const rss2 = mb();
console.log(
  JSON.stringify({
    base: base.name,
    loadMs: Math.round(loadMs),
    sessionCreateMs: Object.fromEntries([...engines.sessionCreateMs].map(([k, v]) => [k, Math.round(v)])),
    rssMb: { start: rss0, base: rss1, twoSessions: rss2 },
  }),
);
await engines.close();
