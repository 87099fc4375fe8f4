/** The request log's line writer: lines are whole, in order, and batched writes lose none. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { lineWriter } from '../../../functions/http/logging.ts';

test('unbatched: each line is written at once, as one JSON line', () => {
  const writes: string[] = [];
  const { log } = lineWriter((t) => writes.push(t), null);
  log({ msg: 'request', status: 200 });
  log({ msg: 'request', status: 404 });
  assert.deepEqual(writes, ['{"msg":"request","status":200}\n', '{"msg":"request","status":404}\n']);
});

test('batched: lines logged within the window are written together, in order, once the window ends', async () => {
  const writes: string[] = [];
  const { log } = lineWriter((t) => writes.push(t), 5);
  for (let i = 0; i < 3; i++) log({ i });
  assert.deepEqual(writes, [], 'nothing is written while the window is open');
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(writes, ['{"i":0}\n{"i":1}\n{"i":2}\n']);
  log({ i: 3 });
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(writes, ['{"i":0}\n{"i":1}\n{"i":2}\n', '{"i":3}\n'], 'a later line opens a new window');
});

test('batched: flush (run on exit) writes what is queued, and nothing twice', async () => {
  const writes: string[] = [];
  const { log, flush } = lineWriter((t) => writes.push(t), 60_000);
  log({ i: 0 });
  log({ i: 1 });
  flush();
  flush();
  assert.deepEqual(writes, ['{"i":0}\n{"i":1}\n']);
});

const { AWS_LAMBDA_FUNCTION_NAME: _lambda, ...withoutLambda } = process.env;

test('defaultLog: lines still queued when the process exits are written to stdout', () => {
  const script =
    "const { defaultLog } = await import('./functions/http/logging.ts');" +
    "for (let i = 0; i < 3; i++) defaultLog({ msg: 'request', i }); process.exit(0);";
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..', '..', '..'),
    env: withoutLambda,
    encoding: 'utf8',
  });
  assert.deepEqual(
    out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).i),
    [0, 1, 2],
  );
});
