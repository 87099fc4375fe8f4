/**
 * `npm start`'s server as a user runs it: a separate process with its store in a fresh
 * directory. The README's worked example runs word for word (only the port differs) and ends with the
 * downloaded adapter hashing to its manifest; a server stopped while a job trains leaves the job queued,
 * its trainer process gone, and the next start resumes it.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { type LocalServer, startLocalServer } from '../support/local-server.ts';
import { type ProcessResult, runProcess } from '../support/process.ts';
import { waitUntil } from '../support/wait.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const store = mkdtempSync(join(tmpdir(), 'adapter-store-'));
const servers: LocalServer[] = [];

/** The server as `npm start` runs it, on this test's store, one training thread per job. */
async function startServer(o: { ownGroup?: boolean } = {}): Promise<LocalServer> {
  const server = await startLocalServer({ store, env: { ADAPTER_STORE_THREADS: '1' }, ownGroup: o.ownGroup });
  servers.push(server);
  return server;
}

/** What the store holds at a key: the file <store>/adapter-store/<key>. */
function storedObject(key: string): string {
  return readFileSync(join(store, 'adapter-store', ...key.split('/')), 'utf8');
}

after(() => {
  for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
});

/** TCP ports a process listens on (Linux: its socket inodes matched against /proc/net/tcp{,6}). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`)
      .map((fd) => /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1])
      .filter(Boolean),
  );
  const ports = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((table) =>
    readFileSync(table, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[3] === '0A' && inodes.has(f[9]))
      .map((f) => parseInt(f[1].split(':')[1], 16)),
  );
  return [...new Set(ports)];
}

/** A README block between `<!-- name -->` and `<!-- /name -->`. */
function readmeBlock(name: string): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n<!-- \\/${name} -->`).exec(readme);
  assert.ok(m, `README has the ${name} block`);
  return m[1];
}

const walkthrough = () => readmeBlock('walkthrough');

function run(script: string, cwd: string): Promise<ProcessResult> {
  return runProcess('bash', ['-euo', 'pipefail', '-c', script], { cwd });
}

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

test("the README's worked example, predict and export run as written and the download hashes to the manifest", async () => {
  const server = await startServer();
  try {
    assert.match(server.output(), /base model: +bert-imdb-4x128-v2 \(seeded now/);
    // The store is a directory: the API's port is the only one, so nothing reaches the store but the API.
    assert.deepEqual(listeningPorts(server.proc.pid!), [Number(new URL(server.url).port)]);
    // A user's working directory: the repository's examples/ and the store at .adapter-store.
    const cwd = mkdtempSync(join(tmpdir(), 'walkthrough-'));
    symlinkSync(join(REPO, 'examples'), join(cwd, 'examples'));
    symlinkSync(store, join(cwd, '.adapter-store'));
    // The "Predict" section continues in the same terminal.
    const script = `${walkthrough()}\n${readmeBlock('predict')}`;
    assert.ok(script.includes('API=http://127.0.0.1:8787'), 'the documented default port');
    const r = await run(script.replace('API=http://127.0.0.1:8787', `API=${server.url}`), cwd);
    assert.equal(r.code, 0, `walkthrough failed:\n${r.stdout}\n${r.stderr}`);

    const status = JSON.parse(readFileSync(join(cwd, 'status.json'), 'utf8')) as {
      status: string;
      adapterVersion: string;
      metrics: { examples: number };
    };
    assert.equal(status.status, 'succeeded');
    assert.equal(status.metrics.examples, 80, 'validationSplit 0.2 of 400 rows');
    const key = readFileSync(join(store, 'api-key'), 'utf8').trim();
    const detail = (await (await fetch(`${server.url}/adapters/sentiment`, { headers: auth(key) })).json()) as {
      latestVersion: string;
      manifest: { files: { name: string; sha256: string }[] };
    };
    assert.equal(detail.latestVersion, status.adapterVersion);
    const expected = detail.manifest.files.find((f) => f.name === 'adapter.safetensors')!.sha256;
    assert.match(r.stdout, new RegExp(`^${expected}  adapter\\.safetensors$`, 'm'), 'shasum of the download = the manifest sha256');

    const predicted = JSON.parse(readFileSync(join(cwd, 'predictions.json'), 'utf8')) as {
      version: string;
      predictions: { label: string; probs: Record<string, number> }[];
    };
    assert.equal(predicted.version, status.adapterVersion, 'predict serves the newest version');
    assert.equal(predicted.predictions.length, 2);
    for (const p of predicted.predictions) {
      assert.deepEqual(Object.keys(p.probs).sort(), ['negative', 'positive']);
      assert.ok(Math.abs(p.probs.negative + p.probs.positive - 1) < 1e-6);
      assert.equal(p.label, p.probs.positive > p.probs.negative ? 'positive' : 'negative');
    }

    // "As a standalone ONNX model", in the same folder: the repository's package (npm run finds it there).
    for (const f of ['package.json', 'node_modules', 'trainer', 'shared'] as const) symlinkSync(join(REPO, f), join(cwd, f));
    const exported = await run(readmeBlock('export'), cwd);
    assert.equal(exported.code, 0, `export failed:\n${exported.stdout}\n${exported.stderr}`);
    const files = readdirSync(join(cwd, 'sentiment-onnx'));
    for (const f of ['model.onnx', 'tokenizer.json', 'labels.json', 'README.md']) assert.ok(files.includes(f), `${f} in ${files}`);
    assert.deepEqual(JSON.parse(readFileSync(join(cwd, 'sentiment-onnx', 'labels.json'), 'utf8')), ['negative', 'positive']);
    assert.match(exported.stdout, /model\.onnx/, 'export says what it wrote');
  } finally {
    assert.equal(await server.stop('SIGINT'), 0, 'SIGINT stops the server cleanly');
  }
});

test('Ctrl-C mid-job: the job is left queued with its checkpoint, no trainer outlives the server, and the next start resumes it', async () => {
  let server = await startServer({ ownGroup: true });
  const key = readFileSync(join(store, 'api-key'), 'utf8').trim();
  const headers = { ...auth(key), 'content-type': 'application/json' };
  const uploaded = await fetch(`${server.url}/datasets?name=sentiment.jsonl`, {
    method: 'POST',
    headers: { ...auth(key), 'content-type': 'application/x-ndjson' },
    body: readFileSync(join(REPO, 'examples', 'sentiment.jsonl')),
  });
  assert.equal(uploaded.status, 201, await uploaded.clone().text());
  const dataset = (await uploaded.json()) as { datasetUri: string };
  const created = await fetch(`${server.url}/finetune`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ task: 'long', datasetUri: dataset.datasetUri, hyperparameters: { epochs: 100 } }),
  });
  assert.equal(created.status, 202, await created.clone().text());
  const job = (await created.json()) as { jobId: string };
  const view = async () => {
    const res = await fetch(`${server.url}/finetune/${job.jobId}`, { headers: auth(key) });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as { status: string; progress: { step: number }; error: { message: string } | null };
  };
  // Its first checkpoint (step 100) is in the store: wait for its pointer (written last) itself, not for a step
  // count by which the upload has usually finished (it runs beside training, and a loaded machine can lag it).
  const running = await waitUntil('the first checkpoint in the store', async () => {
    if (!existsSync(join(store, 'adapter-store', 'jobs', job.jobId, 'checkpoint', 'latest.json'))) return false;
    const v = await view();
    return v.progress.step > 100 && v;
  });
  assert.equal(running.status, 'running', JSON.stringify(running));

  // SIGINT to the server's whole process group, as Ctrl-C in its terminal does.
  assert.equal(await server.stop('SIGINT', true), 0);
  const ps = await run(`ps -eo args | grep -F -- '--job ${job.jobId}' | grep -v grep || true`, REPO);
  assert.equal(ps.stdout.trim(), '', 'no trainer process outlives the server');
  const status = JSON.parse(storedObject(`jobs/${job.jobId}/status.json`)) as { state: string; step: number };
  assert.equal(status.state, 'queued', 'the trainer left its job queued');
  assert.ok(status.step > 100, `stopped at step ${status.step}`);
  // The pointer names a complete checkpoint folder (test/functions/server-crash.test.ts stops servers at many moments).
  const pointer = JSON.parse(storedObject(`jobs/${job.jobId}/checkpoint/latest.json`)) as { folder: string; step: number };
  assert.ok(pointer.step >= 100, `checkpoint at step ${pointer.step}`);
  assert.ok(storedObject(`jobs/${job.jobId}/checkpoint/${pointer.folder}/state.json`).length > 0, 'its checkpoint is in the store');

  server = await startServer();
  assert.match(server.output(), new RegExp(`resumed jobs: ${job.jobId}`));
  const resumed = await view();
  assert.ok(resumed.status === 'queued' || resumed.status === 'running', `resumed job is ${resumed.status}`);
  const cancelled = (await (await fetch(`${server.url}/finetune/${job.jobId}/cancel`, { method: 'POST', headers: auth(key) })).json()) as {
    status: string;
  };
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('at start, partial uploads a killed writer left in the store’s .tmp/ are removed once past the bound; recent ones stay', async () => {
  const own = mkdtempSync(join(tmpdir(), 'adapter-store-tmp-'));
  const tmp = join(own, 'adapter-store', '.tmp');
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'killed-upload'), Buffer.alloc(64 * 1024));
  writeFileSync(join(tmp, 'live-upload'), Buffer.alloc(1024));
  const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
  utimesSync(join(tmp, 'killed-upload'), twoHoursAgo, twoHoursAgo);
  const server = await startLocalServer({ store: own, env: { ADAPTER_STORE_THREADS: '1' } });
  servers.push(server);
  try {
    assert.deepEqual(readdirSync(tmp).sort(), ['live-upload']);
  } finally {
    await server.stop('SIGTERM');
  }
});
