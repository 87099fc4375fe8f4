// Runs every test file under test/ with node's built-in runner through tsx.
// test/integration runs separately (npm run test:integration*), against an AWS endpoint.
// `node --test test/` on Node 20 silently runs nothing and a quoted glob fails, so list the files here.
// Tests that did not run (skipped or todo) are named at the end; under CI (CI=true) they fail the run, and so
// does a run in which no test ran at all.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return ['bench', 'parity', 'integration'].includes(name) ? [] : findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : findTests('test').sort();
if (files.length === 0) {
  console.error('no test files found under test/');
  process.exit(1);
}
const scratch = mkdtempSync(join(tmpdir(), 'test-run-'));
const outcomesFile = join(scratch, 'outcomes.jsonl'); // what skipped-reporter.mjs writes
const reporter = pathToFileURL(join(import.meta.dirname, 'support', 'skipped-reporter.mjs')).href;
// Started from inside a node:test run (test/run.test.ts), NODE_TEST_CONTEXT would make this run report to that
// one instead of to its own reporters.
const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
const runnerEnv = { ...inherited, ONNXRUNTIME_NODE_INSTALL: 'skip' };
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--enable-source-maps',
    '--test',
    '--test-concurrency=1',
    // The reporter node would pick by itself (spec on a terminal, TAP otherwise), plus ours into a file.
    `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
    '--test-reporter-destination=stdout',
    `--test-reporter=${reporter}`,
    `--test-reporter-destination=${outcomesFile}`,
    ...files,
  ],
  { stdio: 'inherit', env: runnerEnv },
);

let lines = [];
try {
  lines = readFileSync(outcomesFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
} catch {
  // No file: the runner died before reporting anything; its exit status says so below.
}
rmSync(scratch, { recursive: true, force: true });
const ci = process.env.CI === 'true';
const notRun = lines.filter((l) => l.kind !== undefined);
if (notRun.length > 0) {
  console.error(`\n${notRun.length} test(s) did not run${ci ? ' (CI=true: this fails the run)' : ''}:`);
  for (const t of notRun) {
    const where = t.file ? `${relative(process.cwd(), t.file)}:${t.line}` : '?';
    console.error(`  ${t.kind}: ${where} ${t.name}${t.reason ? ` (${t.reason})` : ''}`);
  }
}
const ran = lines.length - notRun.length;
if (ran === 0) console.error('\nno test ran');
const status = result.status ?? 1;
process.exit(status !== 0 ? status : ran === 0 || (ci && notRun.length > 0) ? 1 : 0);
