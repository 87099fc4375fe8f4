/**
 * The integration suite against whatever the current AWS environment points at (LocalStack, AWS):
 *
 *   npx tsx test/integration/run.ts [test/integration/<file>.test.ts ...]
 *
 * Needs ADAPTER_STORE_REGISTRY, BATCH_JOB_QUEUE, ADAPTER_STORE_API_KEYS (see config.ts) and either
 * BATCH_JOB_DEFINITION (e.g. the deployed stack's) or INTEGRATION_TRAINER_IMAGE, in which case this
 * registers a trainer job definition shaped like the stack's with that image (plus, in its environment,
 * AWS_ENDPOINT_URL=$INTEGRATION_CONTAINER_AWS_ENDPOINT_URL when set: how a LocalStack container reaches
 * LocalStack). The bucket, base model and datasets the suite creates itself.
 */
import { RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import { batchClientFromEnv } from '../../functions/jobs/batch-launcher.ts';
import { trainerJobDefinition } from './job-definition.ts';
import { integrationTestFiles, runNodeTests } from './node-test.ts';

const env: NodeJS.ProcessEnv = { ...process.env };
env.INTEGRATION_RUN_ID ??= `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`;

if (!env.BATCH_JOB_DEFINITION) {
  const image = env.INTEGRATION_TRAINER_IMAGE;
  const registryUri = env.ADAPTER_STORE_REGISTRY;
  if (!image || !registryUri) {
    process.stderr.write(
      'set BATCH_JOB_DEFINITION, or INTEGRATION_TRAINER_IMAGE (and ADAPTER_STORE_REGISTRY) to register one; see docs/integration-tests.md\n',
    );
    process.exit(2);
  }
  const client = batchClientFromEnv();
  const containerEndpoint = env.INTEGRATION_CONTAINER_AWS_ENDPOINT_URL;
  const def = await client.send(
    new RegisterJobDefinitionCommand(
      trainerJobDefinition({
        name: 'adapter-store-trainer-it',
        image,
        registryUri,
        region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
        environment: containerEndpoint ? { AWS_ENDPOINT_URL: containerEndpoint } : {},
      }),
    ),
  );
  client.destroy();
  env.BATCH_JOB_DEFINITION = def.jobDefinitionArn;
  process.stderr.write(`registered ${def.jobDefinitionArn}\n`);
}

const started = Date.now();
const result = await runNodeTests(integrationTestFiles(process.argv.slice(2)), env);
process.stderr.write(`integration run: pass ${result.pass}, fail ${result.fail}, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(result.ok ? 0 : 1);
