/**
 * The integration suite against local emulators, for CI:
 *
 *   npx tsx test/integration/run-emulated.ts [test/integration/<file>.test.ts ...]
 *
 * Starts on loopback: the S3-compatible server (fauxqs with conditional writes, test/support/s3-server.ts),
 * the Batch emulator (test/emulators/batch) whose image `adapter-store-trainer` runs `trainer/cli.ts`
 * as a local process, and an edge endpoint in front of both; registers a job queue and a job
 * definition shaped like the stack's; then runs the suite unchanged in a child process with the
 * environment a deployed Lambda gets plus AWS_ENDPOINT_URL. Exits with the suite's status.
 * INTEGRATION_VERBOSE=1 streams the containers' output.
 */
import { resolve } from 'node:path';
import { RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import { CANCEL_REASON } from '../../functions/jobs/batch-launcher.ts';
import { startBatchEmulator } from '../emulators/batch/server.ts';
import { startEdge } from '../emulators/edge.ts';
import { startS3Server } from '../support/s3-server.ts';
import { trainerJobDefinition } from './job-definition.ts';
import { integrationTestFiles, REPO_ROOT, runNodeTests } from './node-test.ts';

const REGION = 'us-east-1';
const BUCKET = 'adapter-store-it';
const QUEUE = 'adapter-store-training';
/** A sweep's reduce step has a queue of its own, as deployed (a Fargate CPU queue in cdk/training.ts). */
const REDUCE_QUEUE = 'adapter-store-reduce';
const IMAGE = 'adapter-store-trainer';
const credentials = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: REGION };
const started = Date.now();

// Per-service endpoints or a profile from the caller's shell would win over AWS_ENDPOINT_URL: drop them.
const cleanEnv: NodeJS.ProcessEnv = { ...process.env };
for (const k of Object.keys(cleanEnv)) if (k.startsWith('AWS_ENDPOINT_URL') || k === 'AWS_PROFILE') delete cleanEnv[k];

// Checkpoint writes answer 300 ms late (stored at once): an upload is under way long enough for
// retry.test.ts to cut it with a host failure.
const s3 = await startS3Server({ slowWrites: { pathContains: '/checkpoint/', ms: 300 } });
const batch = await startBatchEmulator({
  region: REGION,
  jobQueues: [QUEUE, REDUCE_QUEUE],
  // The image's entrypoint (trainer/Dockerfile) is the trainer CLI; here through tsx.
  images: { [IMAGE]: [process.execPath, '--import', 'tsx', resolve(REPO_ROOT, 'trainer', 'cli.ts')] },
  cwd: REPO_ROOT,
  baseEnv: cleanEnv,
  // What the task role and LocalStack's endpoint injection give a container: credentials and where S3 is.
  containerEnv: { ...credentials, AWS_ENDPOINT_URL: s3.endpoint },
  // One job at a time on a small CI machine, like a one-instance compute environment.
  concurrency: 1,
  onLog: process.env.INTEGRATION_VERBOSE ? (jobId, line) => process.stderr.write(`[batch ${jobId.slice(0, 8)}] ${line}\n`) : undefined,
});
const edge = await startEdge({ s3: s3.endpoint, batch: batch.endpoint });

const registryUri = `s3://${BUCKET}`;
const def = await batch.client.send(
  new RegisterJobDefinitionCommand(trainerJobDefinition({ name: IMAGE, image: IMAGE, registryUri, region: REGION })),
);
const reduceDef = await batch.client.send(
  new RegisterJobDefinitionCommand(trainerJobDefinition({ name: `${IMAGE}-reduce`, image: IMAGE, registryUri, region: REGION })),
);

const env: NodeJS.ProcessEnv = {
  ...cleanEnv,
  ...credentials,
  AWS_ENDPOINT_URL: edge.endpoint,
  // Deploy-shaped: the stack hands the Lambda ARNs.
  ADAPTER_STORE_REGISTRY: registryUri,
  ADAPTER_STORE_API_KEYS: 'it-key-1,it-key-2',
  BATCH_JOB_QUEUE: `arn:aws:batch:${REGION}:${batch.emulator.accountId}:job-queue/${QUEUE}`,
  BATCH_JOB_DEFINITION: def.jobDefinitionArn!,
  BATCH_REDUCE_JOB_QUEUE: `arn:aws:batch:${REGION}:${batch.emulator.accountId}:job-queue/${REDUCE_QUEUE}`,
  BATCH_REDUCE_JOB_DEFINITION: reduceDef.jobDefinitionArn!,
  INTEGRATION_JOB_TIMEOUT_S: process.env.INTEGRATION_JOB_TIMEOUT_S ?? '300',
  // Emulator-only operations (a host failure: retry.test.ts).
  INTEGRATION_BATCH_EMULATOR: batch.endpoint,
};

// Containers run detached (their own process groups): an interrupted run must stop them itself.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.allSettled([edge.stop(), batch.stop(), s3.stop()]).finally(() => process.exit(130));
  });
}

let code = 1;
try {
  const result = await runNodeTests(integrationTestFiles(process.argv.slice(2)), env);
  code = result.ok ? 0 : 1;
  if (!result.ok) {
    process.stderr.write(`\nintegration suite failed (exit ${result.exitCode}, pass ${result.pass}, fail ${result.fail}). Batch jobs:\n`);
    for (const job of batch.jobs.values()) {
      process.stderr.write(
        `- ${job.jobName} ${job.jobId} ${job.status} ${job.statusReason ?? ''} exit=${job.container?.exitCode ?? '-'}\n`,
      );
      if (job.status === 'FAILED' && job.statusReason !== CANCEL_REASON)
        for (const line of batch.logs(job.jobId!).slice(-20)) process.stderr.write(`    | ${line}\n`);
    }
  }
} finally {
  await edge.stop();
  await batch.stop();
  await s3.stop();
}
process.stderr.write(`emulated integration run: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(code);
