/**
 * The integration suite's configuration: only the environment, the same variables the deployed Lambda
 * gets plus the standard AWS ones, so the suite runs unchanged against the emulators, LocalStack or AWS.
 *
 *   AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_BATCH), AWS_REGION, credentials
 *   ADAPTER_STORE_REGISTRY    s3://bucket[/prefix]; the suite creates the bucket if it is missing
 *   BATCH_JOB_QUEUE           an existing queue
 *   BATCH_JOB_DEFINITION      a job definition whose image is the trainer image
 *   ADAPTER_STORE_API_KEYS    comma list; the suite uses the first (or INTEGRATION_API_KEY)
 *   INTEGRATION_JOB_TIMEOUT_S how long one training job may take, queueing included (default 600)
 */
import { parseRegistryUri, type RegistryLocation } from '../../shared/registry/index.ts';

export interface IntegrationConfig {
  registryUri: string;
  location: RegistryLocation;
  jobQueue: string;
  jobDefinition: string;
  apiKey: string;
  jobTimeoutMs: number;
  /** Distinguishes this run's tasks and jobs from earlier runs' on a persistent endpoint. */
  runId: string;
}

function required(env: NodeJS.ProcessEnv, name: string, hint: string): string {
  const v = env[name];
  if (!v) throw new Error(`integration tests: ${name} is not set (${hint}); see docs/integration-tests.md`);
  return v;
}

export function integrationConfig(env: NodeJS.ProcessEnv = process.env): IntegrationConfig {
  const registryUri = required(env, 'ADAPTER_STORE_REGISTRY', 's3://<bucket>');
  const apiKey = env.INTEGRATION_API_KEY ?? env.ADAPTER_STORE_API_KEYS?.split(',')[0]?.trim();
  if (!apiKey) throw new Error('integration tests: set ADAPTER_STORE_API_KEYS (the Lambda reads it) or INTEGRATION_API_KEY');
  return {
    registryUri,
    location: parseRegistryUri(registryUri),
    jobQueue: required(env, 'BATCH_JOB_QUEUE', 'an existing Batch job queue'),
    jobDefinition: required(env, 'BATCH_JOB_DEFINITION', 'a job definition running the trainer image'),
    apiKey,
    jobTimeoutMs: Number(env.INTEGRATION_JOB_TIMEOUT_S ?? 600) * 1000,
    runId: env.INTEGRATION_RUN_ID ?? `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`,
  };
}
