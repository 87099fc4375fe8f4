/**
 * The local server, `npm start`: the same Hono app as on Lambda, on Node, with the registry in a local
 * directory (shared/file-object-store.ts: no S3 endpoint, no second port) and the local job runner,
 * whose trainer processes open the same directory. No AWS account, no network.
 *
 * Configuration (environment):
 *   PORT                    HTTP port (default 8787)
 *   HOST                    interface to listen on (default 127.0.0.1)
 *   ADAPTER_STORE_DIR       where the store keeps everything (default ./.adapter-store; objects under adapter-store/)
 *   ADAPTER_STORE_API_KEY   the bearer key (default: generated once, kept in <dir>/api-key)
 *   ADAPTER_STORE_JOBS      jobs trained at once (default 1)
 *   ADAPTER_STORE_THREADS   CPU threads per job, and of the in-process predictor (default: onnxruntime's choice)
 *   ADAPTER_STORE_DATASET_CHECKS    POST /datasets checks at once (default 2; more answer 429)
 *   ADAPTER_STORE_DATASET_MAX_ROWS  rows a checked upload may have (default 1,000,000)
 *   ADAPTER_STORE_MAX_QUEUED_JOBS, ADAPTER_STORE_MAX_JOBS_PER_KEY, ADAPTER_STORE_MAX_JOB_COST
 *                           spend controls (functions/jobs/spend.ts; docs/security.md)
 *   ADAPTER_STORE_MAX_LABELS, ADAPTER_STORE_MAX_LABEL_CHARS
 *                           classes per dataset or job and characters per label (default 1,000 and 256)
 *   ADAPTER_STORE_STALE_UPLOAD_SECONDS  partial uploads left in the store's .tmp/ this long are removed
 *                           at start (default 3600)
 *   ADAPTER_STORE_PREDICT_MAX_QUEUED_ROWS, ADAPTER_STORE_PREDICT_BATCH_ADAPTERS, ADAPTER_STORE_PREDICT_BATCH_PADDED_BYTES
 *                           predict work bounds (functions/predict-limits.ts)
 *
 * Stops cleanly on SIGINT/SIGTERM: running jobs are stopped and left queued, and resume (from their
 * last checkpoint) the next time the server starts.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { createNodePredictor } from '../serving/node.ts';
import { integer, optionalString } from '../shared/env.ts';
import { FileObjectStore, STALE_TEMPORARY_MS } from '../shared/file-object-store.ts';
import { LOCAL_REGISTRY_FOLDER, localRegistryUri, localStoreDir, Registry } from '../shared/registry/index.ts';
import { createApp, DEFAULT_DATASET_MAX_ROWS } from './app.ts';
import { edgeAssets } from './edge/assets.ts';
import { LocalRunner } from './jobs/local-runner.ts';
import { jobLimitsFromEnv } from './jobs/spend.ts';
import { resolveApiKey } from './local/api-key.ts';
import { resumeUnfinishedJobs } from './local/resume-jobs.ts';
import { SEED_MODEL, seedBaseModel } from './local/seed-model.ts';
import { signedUploads } from './local/signed-uploads.ts';
import { predictLimitsFromEnv } from './predict-limits.ts';

const intFromEnv = (name: string, fallback: number, min: number, max: number): number => integer(process.env, name, { min, max }, fallback);

async function main(): Promise<void> {
  const port = intFromEnv('PORT', 8787, 0, 65535);
  const host = optionalString(process.env, 'HOST', '127.0.0.1');
  const jobs = intFromEnv('ADAPTER_STORE_JOBS', 1, 1, 64);
  const threads = intFromEnv('ADAPTER_STORE_THREADS', 0, 0, 1024);
  if (process.env.ADAPTER_STORE_S3_PORT !== undefined) {
    console.error('adapter store: ADAPTER_STORE_S3_PORT is ignored: the store is a directory now, with no S3 port');
  }
  const storeDir = localStoreDir();
  mkdirSync(storeDir, { recursive: true });
  const { key, source } = resolveApiKey(storeDir, process.env.ADAPTER_STORE_API_KEY);

  const registry = Registry.fromUri(localRegistryUri(storeDir));
  // Writers killed mid-upload (kill -9) leave their partial files in .tmp/: old ones go now.
  const staleSeconds = intFromEnv('ADAPTER_STORE_STALE_UPLOAD_SECONDS', STALE_TEMPORARY_MS / 1000, 1, 10 * 365 * 24 * 3600);
  if (registry.store instanceof FileObjectStore) await registry.store.removeStaleTemporaryFiles(staleSeconds * 1000);
  const seeded = await seedBaseModel(registry);
  let baseUrl = '';
  const uploads = signedUploads({ registry, apiKey: key, baseUrl: () => baseUrl });

  const runner = new LocalRunner({
    registryUri: registry.uri,
    concurrency: jobs,
    stopWithParent: true,
    // A trainer a killed server left stopping is waited for before its job runs again.
    pidDir: join(storeDir, 'trainers'),
    // As Batch gives a container after SIGTERM: time to finish a checkpoint upload before SIGKILL.
    killGraceMs: 30_000,
    extraArgs: threads > 0 ? ['--threads', String(threads)] : [],
    log: (event) => console.log(JSON.stringify({ time: new Date().toISOString(), level: 'info', ...event })),
  });
  // POST /adapters/:task/predict in-process: onnxruntime on a worker thread, bases loaded on first use.
  const predictor = await createNodePredictor({
    registry,
    threads: threads > 0 ? threads : undefined,
    ...predictLimitsFromEnv(process.env),
  });
  const app = createApp({
    registry,
    predictor,
    launcher: runner,
    apiKeys: [key],
    allowedDatasetBuckets: [LOCAL_REGISTRY_FOLDER],
    defaultBaseModel: SEED_MODEL,
    downloads: 'stream',
    eventStream: true,
    signUploadUrl: uploads.sign,
    edge: edgeAssets(), // /edge: adapters run in the browser (bundled on first visit)
    jobLimits: jobLimitsFromEnv(process.env),
    datasetChecks: {
      concurrency: intFromEnv('ADAPTER_STORE_DATASET_CHECKS', 2, 1, 64),
      maxRows: intFromEnv('ADAPTER_STORE_DATASET_MAX_ROWS', DEFAULT_DATASET_MAX_ROWS, 1, 1e9),
    },
  });
  const resumed = await resumeUnfinishedJobs(registry, runner);

  // Signed upload URLs carry their own credential: they are answered before the app's bearer check.
  const fetch = (req: Request) => (uploads.matches(req) ? uploads.handle(req) : app.fetch(req));
  const server = serve({ fetch, port, hostname: host }, (info) => {
    const url = `http://${host}:${info.port}`;
    baseUrl = url;
    const lines = [
      `adapter store listening on ${url}   (API docs: ${url}/docs)`,
      `  console:      ${url}/console   (sign in with the API key)`,
      `  API key:      ${key}   (${source === 'env' ? 'from ADAPTER_STORE_API_KEY' : `kept in ${join(storeDir, 'api-key')}`})`,
      `  registry:     ${registry.uri}   (objects named s3://${LOCAL_REGISTRY_FOLDER}/...)`,
      `  base model:   ${SEED_MODEL}${seeded ? ` (seeded now: pretrained on movie reviews by trainer pretrain; its card: assets/models/${SEED_MODEL}/README.md)` : ''}`,
      `  in a browser: ${url}/edge   (adapters run in the page)`,
      `  add a base:   npm run trainer -- upload-base --registry ${registry.uri} --name <name> --dir <dir>`,
      ...(resumed.length > 0 ? [`  resumed jobs: ${resumed.join(', ')}`] : []),
    ];
    console.log(lines.join('\n'));
  });

  server.on('error', (err: NodeJS.ErrnoException) => {
    const why = err.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use (set PORT to another)` : err.message;
    console.error(`adapter store: cannot listen: ${why}`);
    void Promise.allSettled([runner.shutdown(), predictor.close()]).finally(() => process.exit(1));
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(
      JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: `${signal}: stopping`, running: runner.runningJobIds }),
    );
    server.close();
    await runner.shutdown(); // running jobs stop and stay queued; they resume on the next start
    await predictor.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(`adapter store: ${(err as Error).message}`);
  process.exit(1);
});
