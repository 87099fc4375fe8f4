/**
 * Resource counts by type for each synthesized template: `npx cdk synth -q && npx tsx cdk/summary.ts [cdk.out]`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'cdk.out';
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.template.json'))
  .sort()) {
  const { Resources = {} } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { Resources?: Record<string, { Type: string }> };
  const counts = new Map<string, number>();
  for (const r of Object.values(Resources)) counts.set(r.Type, (counts.get(r.Type) ?? 0) + 1);
  console.log(`${file}: ${Object.keys(Resources).length} resources`);
  for (const [type, n] of [...counts].sort(([a], [b]) => a.localeCompare(b))) console.log(`${String(n).padStart(4)}  ${type}`);
}
