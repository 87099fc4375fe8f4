/**
 * A trainer job definition shaped like the stack's (cdk/training.ts): the registry and region in the
 * environment, up to 3 attempts retried only when the host went away, a 12-hour timeout. For
 * endpoints where the suite registers its own (the emulators; LocalStack without a deployed stack).
 */
import type { RegisterJobDefinitionCommandInput } from '@aws-sdk/client-batch';

/** cdk/training.ts's HOST_TERMINATED_REASON (not imported: that module pulls in aws-cdk-lib). */
const HOST_TERMINATED_REASON = 'Host EC2*';

export function trainerJobDefinition(o: {
  name: string;
  image: string;
  registryUri: string;
  region: string;
  environment?: Record<string, string>;
}): RegisterJobDefinitionCommandInput {
  const environment = { ADAPTER_STORE_REGISTRY: o.registryUri, AWS_REGION: o.region, TRAINER_DEVICE: 'cpu', ...o.environment };
  return {
    jobDefinitionName: o.name,
    type: 'container',
    containerProperties: {
      image: o.image,
      environment: Object.entries(environment).map(([name, value]) => ({ name, value })),
      resourceRequirements: [
        { type: 'VCPU', value: '2' },
        { type: 'MEMORY', value: '4096' },
      ],
    },
    timeout: { attemptDurationSeconds: 12 * 3600 },
    retryStrategy: {
      attempts: 3,
      evaluateOnExit: [
        { action: 'RETRY', onStatusReason: HOST_TERMINATED_REASON },
        { action: 'EXIT', onReason: '*' },
      ],
    },
  };
}
