/**
 * The local server, `npm start`: the same Hono app as on Lambda, on Node, with an embedded
 * S3-compatible store in a local directory and the local job runner. No AWS account, no network.
 *
 * Configuration (environment):
 *   PORT                    HTTP port (default 8787)
 *   HOST                    interface to listen on (default 127.0.0.1)
 *   ADAPTER_STORE_DIR       where the store keeps everything (default ./.adapter-store)
 *   ADAPTER_STORE_API_KEY   the bearer key (default: generated once, kept in <dir>/api-key)
 *   ADAPTER_STORE_JOBS      jobs trained at once (default 1)
 *   ADAPTER_STORE_THREADS   CPU threads per job (default: onnxruntime's choice)
 *   ADAPTER_STORE_S3_PORT   the embedded store's S3 API port (default 8788; 0: a free one)
 *   ADAPTER_STORE_DATASET_CHECKS    POST /datasets checks at once (default 2; more answer 429)
 *   ADAPTER_STORE_DATASET_MAX_ROWS  rows a checked upload may have (default 1,000,000)
 *   ADAPTER_STORE_MAX_QUEUED_JOBS, ADAPTER_STORE_MAX_JOBS_PER_KEY, ADAPTER_STORE_MAX_JOB_COST
 *                           spend controls (functions/jobs/spend.ts; README: Security)
 *
 * Stops cleanly on SIGINT/SIGTERM: running jobs are stopped and left queued, and resume (from their
 * last checkpoint) the next time the server starts.
 */
import { serve } from '@hono/node-server';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Registry } from '../shared/registry.ts';
import { createApp, DEFAULT_DATASET_MAX_ROWS } from './app.ts';
import { jobLimitsFromEnv } from './jobs/spend.ts';
import { LocalRunner } from './jobs/local-runner.ts';
import { resolveApiKey } from './local/api-key.ts';
import { startEmbeddedS3 } from './local/embedded-s3.ts';
import { resumeUnfinishedJobs } from './local/resume-jobs.ts';
import { SEED_MODEL, seedBaseModel } from './local/seed-model.ts';

const BUCKET = 'adapter-store';

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  return n;
}

async function main(): Promise<void> {
  const port = intFromEnv('PORT', 8787, 0, 65535);
  const host = process.env.HOST || '127.0.0.1';
  const jobs = intFromEnv('ADAPTER_STORE_JOBS', 1, 1, 64);
  const threads = intFromEnv('ADAPTER_STORE_THREADS', 0, 0, 1024);
  const s3Port = intFromEnv('ADAPTER_STORE_S3_PORT', 8788, 0, 65535);
  const storeDir = resolve(process.env.ADAPTER_STORE_DIR || '.adapter-store');
  mkdirSync(storeDir, { recursive: true });
  const { key, source } = resolveApiKey(storeDir, process.env.ADAPTER_STORE_API_KEY);

  const s3 = await startEmbeddedS3({ directory: join(storeDir, 's3'), buckets: [BUCKET], port: s3Port });
  // This process and the trainer children talk to the embedded store, whatever AWS settings the shell has.
  Object.assign(process.env, s3.env);
  const registry = Registry.fromUri(`s3://${BUCKET}`);
  const seeded = await seedBaseModel(registry);

  const runner = new LocalRunner({
    registryUri: registry.uri,
    concurrency: jobs,
    env: s3.env,
    stopWithParent: true,
    // As Batch gives a container after SIGTERM: time to finish a checkpoint upload before SIGKILL.
    killGraceMs: 30_000,
    extraArgs: threads > 0 ? ['--threads', String(threads)] : [],
    log: (event) => console.log(JSON.stringify({ time: new Date().toISOString(), level: 'info', ...event })),
  });
  const app = createApp({
    registry,
    launcher: runner,
    apiKeys: [key],
    allowedDatasetBuckets: [BUCKET],
    defaultBaseModel: SEED_MODEL,
    downloads: 'stream',
    signUploadUrl: (key, bytes, expiresIn) => registry.presignPut(key, bytes, expiresIn),
    jobLimits: jobLimitsFromEnv(process.env),
    datasetChecks: { concurrency: intFromEnv('ADAPTER_STORE_DATASET_CHECKS', 2, 1, 64), maxRows: intFromEnv('ADAPTER_STORE_DATASET_MAX_ROWS', DEFAULT_DATASET_MAX_ROWS, 1, 1e9) },
  });
  const resumed = await resumeUnfinishedJobs(registry, runner);

  const server = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
    const url = `http://${host}:${info.port}`;
    const lines = [
      `adapter store listening on ${url}   (API docs: ${url}/docs)`,
      `  API key:      ${key}   (${source === 'env' ? 'from ADAPTER_STORE_API_KEY' : `kept in ${join(storeDir, 'api-key')}`})`,
      `  store:        ${storeDir}   (S3 API at ${s3.endpoint}, bucket ${BUCKET})`,
      `  base model:   ${SEED_MODEL}${seeded ? ' (seeded now: a random BERT with the bert-base-uncased vocab)' : ''}`,
      `  add a base:   AWS_ENDPOINT_URL_S3=${s3.endpoint} AWS_ACCESS_KEY_ID=${s3.env.AWS_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY=${s3.env.AWS_SECRET_ACCESS_KEY} npm run trainer -- upload-base --registry ${registry.uri} --name <name> --dir <dir>`,
      ...(resumed.length > 0 ? [`  resumed jobs: ${resumed.join(', ')}`] : []),
    ];
    console.log(lines.join('\n'));
  });

  server.on('error', (err: NodeJS.ErrnoException) => {
    const why = err.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use (set PORT to another)` : err.message;
    console.error(`adapter store: cannot listen: ${why}`);
    void runner.shutdown().then(() => s3.stop()).finally(() => process.exit(1));
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: `${signal}: stopping`, running: runner.runningJobIds }));
    server.close();
    await runner.shutdown(); // running jobs stop and stay queued; they resume on the next start
    await s3.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(`adapter store: ${(err as Error).message}`);
  process.exit(1);
});
