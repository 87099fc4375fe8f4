/**
 * A Batch job whose host goes away while it uploads a checkpoint (a Spot reclaim: SIGKILL, no notice) is
 * retried by the job definition's "Host EC2*" rule, and the retry continues from the last complete
 * checkpoint: the registry's pointer never names a half-written one, the retry resumes from it (not from
 * step 0), the job ends succeeded with exactly one version, and its events hold no failure.
 *
 * Only against the emulators (run-emulated.ts sets INTEGRATION_BATCH_EMULATOR): nothing orders a host
 * failure on AWS. run-emulated.ts also holds the S3 server's answer to checkpoint writes for a moment,
 * so an upload is under way long enough to be cut.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CHECKPOINT_FILES, CHECKPOINT_POINTER, type CheckpointPointer } from '../../shared/checkpoint-layout.ts';
import { waitUntil } from '../support/wait.ts';
import { api, BASE_MODEL, batchJob, type Fixtures, type JobView, setUp, tearDown, waitForBatchJob, waitForJob } from './fixtures.ts';

const EMULATOR = process.env.INTEGRATION_BATCH_EMULATOR;
let f: Fixtures;

before(async () => {
  if (EMULATOR) f = await setUp();
});

after(() => tearDown(f));

test('a Batch job killed with its host mid-upload is retried and resumes from its last complete checkpoint', {
  skip: EMULATOR ? false : 'needs the Batch emulator (INTEGRATION_BATCH_EMULATOR): a host failure cannot be ordered on AWS',
}, async () => {
  const task = `it-retry-${f.config.runId}`;
  // 3,000 training rows at batch 16, two epochs: 375 steps, checkpoints at 100, 200 and 300.
  const res = await api('POST', '/finetune', {
    key: f.config.apiKey,
    body: {
      task,
      datasetUri: f.datasets.large,
      baseModel: BASE_MODEL,
      hyperparameters: { epochs: 2, batchSize: 16, maxSeqLen: 32, dropout: 0, validationSplit: 0.25 },
    },
  });
  assert.equal(res.status, 202, res.text);
  const { jobId } = res.json<JobView>();
  const prefix = `${f.config.location.prefix}jobs/${jobId}/checkpoint/`;
  const keys = async () => (await f.registry.list(prefix)).keys.map((k) => k.key.slice(prefix.length)).sort();
  const pointer = async () => {
    const got = await f.registry.list(prefix + CHECKPOINT_POINTER);
    if (got.keys.length === 0) return null;
    const body = await fetchObject(prefix + CHECKPOINT_POINTER);
    return JSON.parse(body) as CheckpointPointer;
  };

  // The moment: a checkpoint folder after the first appears while the pointer still names the one before.
  let first: CheckpointPointer | null = null;
  await waitUntil(
    'a second checkpoint upload under way',
    async () => {
      first ??= await pointer();
      if (first && (await keys()).some((k) => /^\d+\//.test(k) && Number(k.split('/')[0]) > first!.step)) return true;
      const job = (await api('GET', `/finetune/${jobId}`, { key: f.config.apiKey })).json<JobView>();
      assert.ok(
        !['succeeded', 'failed', 'cancelled'].includes(job.status),
        `the job ended before a second checkpoint: ${JSON.stringify(job)}`,
      );
      return false;
    },
    { timeoutMs: 300_000, intervalMs: 50 },
  );
  const batch = await batchJob(f, jobId);
  const killed = await fetch(`${EMULATOR}/v1/emulatorhostfailure`, { method: 'POST', body: JSON.stringify({ jobId: batch.jobId }) });
  assert.equal(killed.status, 200, await killed.text());

  // Whatever the kill cut, the pointer names a folder with every file of a checkpoint.
  const at = (await pointer())!;
  assert.ok(at.step >= first!.step, JSON.stringify(at));
  const stored = await keys();
  for (const file of CHECKPOINT_FILES) assert.ok(stored.includes(`${at.folder}/${file}`), `${at.folder}/${file} in ${stored.join(', ')}`);
  console.log(`host killed with the pointer at ${at.step}; checkpoint objects: ${stored.join(', ')}`);

  const job = await waitForJob(f, jobId);
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  const done = await waitForBatchJob(f, jobId);
  assert.equal(done.status, 'SUCCEEDED');
  assert.equal(done.attempts?.length, 2, JSON.stringify(done.attempts));
  assert.match(done.attempts![0].statusReason ?? '', /^Host EC2/);

  const list = (await f.registry.jobs.listEvents(jobId)).events;
  const resumed = list.flatMap((e) => (e.type === 'resumed' ? [e.data.step] : []));
  assert.equal(resumed.length, 1, JSON.stringify(list.map((e) => e.type)));
  assert.ok(resumed[0] >= at.step, `resumed at ${resumed[0]}, the pointer was at ${at.step}`);
  assert.deepEqual(
    list.filter((e) => e.type === 'failed' || e.type === 'warning'),
    [],
  );
  assert.equal(list.at(-1)?.type, 'succeeded');

  const detail = await api('GET', `/adapters/${task}`, { key: f.config.apiKey });
  assert.equal(detail.status, 200, detail.text);
  assert.deepEqual(detail.json<{ versions: string[] }>().versions, [job.adapterVersion], 'exactly one version');
  // What is left of the checkpoints: the last one and its pointer (the older ones went once it was complete).
  const last = (await pointer())!;
  assert.deepEqual(await keys(), [...CHECKPOINT_FILES.map((file) => `${last.folder}/${file}`).sort(), CHECKPOINT_POINTER].sort());
});

async function fetchObject(key: string): Promise<string> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const out = await f.s3.send(new GetObjectCommand({ Bucket: f.config.location.bucket, Key: key }));
  return out.Body!.transformToString();
}
