/**
 * What the suite sets up itself against whatever endpoint it is given (idempotent, so reruns against a
 * persistent LocalStack or AWS account reuse it): the registry bucket, a tiny random BERT base under
 * models/<name>/ (with the vocab the product ships in assets/), and small generated SST-2-style datasets
 * under s3://<bucket>/datasets/: nothing outside the repository, so the suite runs on a user's clone. Plus the helpers every
 * integration test uses: calling the Lambda handler and waiting for jobs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BatchClient, DescribeJobsCommand, type JobDetail } from '@aws-sdk/client-batch';
import { CreateBucketCommand, HeadBucketCommand, PutObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { batchClientFromEnv } from '../../functions/jobs/batch-launcher.ts';
import { handler } from '../../functions/lambda.ts';
import { Registry } from '../../shared/registry/index.ts';
import { s3ClientFromEnv } from '../../shared/s3-client.ts';
import { writeRandomBert } from '../../trainer/model-files/random-bert.ts';
import { type EventOptions, invokeLambda, type LambdaHttpResponse } from '../support/api-gateway.ts';
import { BERT_VOCAB_FILE, sentimentRows, toJsonl } from '../support/text-rows.ts';
import { type IntegrationConfig, integrationConfig } from './config.ts';

/** hidden 32, 2 layers: seconds per job on 2 CPU cores. The name says the shape, so reruns reuse it. */
export const BASE_MODEL = 'it-bert-h32-l2';

export interface Fixtures {
  config: IntegrationConfig;
  registry: Registry;
  s3: S3Client;
  batch: BatchClient;
  /** s3:// URIs of the datasets. */
  datasets: { small: string; large: string; malformed: string };
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (!(err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)) throw err;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

const sst2Rows = (n: number): string => toJsonl(sentimentRows(n));

export async function setUp(): Promise<Fixtures> {
  const config = integrationConfig();
  const s3 = s3ClientFromEnv();
  const registry = Registry.fromUri(config.registryUri, s3);
  const { bucket } = config.location;
  await ensureBucket(s3, bucket);

  if (!(await registry.models.exists(BASE_MODEL))) {
    const dir = mkdtempSync(join(tmpdir(), 'it-base-'));
    try {
      writeRandomBert(dir, {
        hiddenSize: 32,
        numLayers: 2,
        numHeads: 2,
        intermediateSize: 64,
        maxPositions: 64,
        seed: 7,
        vocabFile: BERT_VOCAB_FILE,
      });
      await registry.models.upload(BASE_MODEL, dir, ['config.json', 'model.safetensors', 'vocab.txt']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const datasets = {
    small: `datasets/it-sst2-160.jsonl`,
    large: `datasets/it-sst2-4000.jsonl`,
    // Row 2 is cut off mid-object: the trainer rejects the file with its line number.
    malformed: `datasets/it-malformed.jsonl`,
  };
  const bodies: Record<keyof typeof datasets, string> = {
    small: sst2Rows(160),
    large: sst2Rows(4000),
    malformed: '{"text": "fine", "label": 1}\n{"text": \n',
  };
  for (const [name, key] of Object.entries(datasets) as [keyof typeof datasets, string][]) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bodies[name], ContentType: 'application/jsonl' }));
  }
  const uri = (key: string) => `s3://${bucket}/${key}`;
  return {
    config,
    registry,
    s3,
    batch: batchClientFromEnv(),
    datasets: { small: uri(datasets.small), large: uri(datasets.large), malformed: uri(datasets.malformed) },
  };
}

export function tearDown(f: Fixtures | undefined): void {
  f?.s3.destroy();
  f?.batch.destroy();
}

/** The deployed Lambda's handler (configured from this environment) with an API Gateway v2 event. */
export function api(method: string, path: string, o: EventOptions = {}): Promise<LambdaHttpResponse> {
  const [rawPath, query] = path.split('?');
  return invokeLambda(handler, method, rawPath, { query, ...o });
}

/** The job as GET /finetune/:id shows it. */
export interface JobView {
  jobId: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  task: string;
  adapterVersion: string | null;
  progress: { step: number; totalSteps: number };
  error: { message: string } | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls GET /finetune/:id until `done` holds (default: a terminal status). */
export async function waitForJob(
  f: Fixtures,
  jobId: string,
  done: (j: JobView) => boolean = (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status),
): Promise<JobView> {
  const until = Date.now() + f.config.jobTimeoutMs;
  let last: JobView | undefined;
  while (Date.now() < until) {
    const res = await api('GET', `/finetune/${jobId}`, { key: f.config.apiKey });
    if (res.status !== 200) throw new Error(`GET /finetune/${jobId}: ${res.status} ${res.text}`);
    last = res.json<JobView>();
    if (done(last)) return last;
    await sleep(500);
  }
  throw new Error(`job ${jobId} did not get there within ${f.config.jobTimeoutMs / 1000} s; last seen: ${JSON.stringify(last)}`);
}

/** The Batch job behind a fine-tune job (its id is in jobs/<id>/launch.json). */
export async function batchJob(f: Fixtures, jobId: string): Promise<JobDetail> {
  const launch = await f.registry.jobs.launch<{ externalId: string }>(jobId);
  if (!launch) throw new Error(`job ${jobId} has no launch.json`);
  const out = await f.batch.send(new DescribeJobsCommand({ jobs: [launch.externalId] }));
  const job = out.jobs?.[0];
  if (!job) throw new Error(`Batch does not know job ${launch.externalId}`);
  return job;
}

/** Polls DescribeJobs until the Batch job is SUCCEEDED or FAILED. */
export async function waitForBatchJob(f: Fixtures, jobId: string, timeoutMs = f.config.jobTimeoutMs): Promise<JobDetail> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = await batchJob(f, jobId);
    if (job.status === 'SUCCEEDED' || job.status === 'FAILED') return job;
    if (Date.now() > until) throw new Error(`Batch job ${job.jobId} is still ${job.status}`);
    await sleep(500);
  }
}
