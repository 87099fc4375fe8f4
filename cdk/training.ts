/**
 * GPU training on AWS Batch: compute environments of g5/g6 instances (Spot first, on-demand as the
 * fallback), a job queue, and the job definition that runs the trainer image (trainer/Dockerfile).
 * A sweep's reduce step trains nothing: it runs the same bundle (the Dockerfile's `cpu` target, no CUDA) on a
 * small Fargate CPU queue of its own.
 * Both queues cancel a job that waits in RUNNABLE past `maxRunnable` for a reason Batch can act on.
 *
 * The API submits `run-job --registry <uri> --job <id>` as the command override
 * (functions/jobs/batch-launcher.ts); the image's entrypoint is the trainer CLI.
 */
import { fileURLToPath } from 'node:url';
import { Aws, Duration, Size } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledge } from './nag.ts';
import type { TrainingNetwork } from './network.ts';
import type { RegistryBucket } from './registry.ts';

/** The repository root: the trainer image's build context (what it may copy is limited by .dockerignore). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** GPU families with one 24 GB GPU per xlarge: A10G (g5) and L4 (g6). */
export const GPU_INSTANCE_CLASSES = [ec2.InstanceClass.G5, ec2.InstanceClass.G6];

/** Batch statusReason of a job whose host went away (Spot reclaim, host failure): worth another try. */
export const HOST_TERMINATED_REASON = 'Host EC2*';

/** Memory installed on a g5/g6.xlarge. */
export const GPU_HOST_MEMORY = Size.gibibytes(16);

/**
 * A conservative bound on what the ECS agent registers of `installed` memory, which is all a job may ask
 * for (more leaves it RUNNABLE forever): the kernel and platform keep a few percent (AWS Batch user guide,
 * "Compute resource memory management": an 8 GiB m4.large does not register 8192 MiB), and the agent
 * reserves 32 MiB. Counting 95% leaves the NVIDIA driver room too.
 */
export function registrableMemoryMiB(installed: Size): number {
  return Math.floor(installed.toMebibytes() * 0.95) - 32;
}

/**
 * The RUNNABLE statusReasons Batch's jobStateTimeLimitActions can act on (AWS Batch user guide, "Automatic
 * remediation with jobStateTimeLimitActions"). MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS and ACTION_REQUIRED
 * are not among them: Batch refuses an action for those, so a job blocked by them stays queued, with
 * Batch's reason shown in GET /finetune/:id (functions/jobs/batch-launcher.ts).
 */
export const CANCELLABLE_STUCK_REASONS = [
  batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
  batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
  batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT,
];

const cancelStuckJobs = (maxTime: Duration): batch.JobStateTimeLimitAction[] =>
  CANCELLABLE_STUCK_REASONS.map((reason) => ({
    action: batch.JobStateTimeLimitActionsAction.CANCEL,
    state: batch.JobStateTimeLimitActionsState.RUNNABLE,
    maxTime,
    reason,
  }));

/** A sweep's reduce step on Fargate: reads the points' results and publishes one adapter. */
export const REDUCE_VCPUS = 2;
export const REDUCE_MEMORY = Size.gibibytes(8);

export interface TrainingComputeProps {
  network: TrainingNetwork;
  registry: RegistryBucket;
  /** s3://<bucket>, given to the container as ADAPTER_STORE_REGISTRY. */
  registryUri: string;
  /** Other buckets datasets may be read from. */
  datasetBuckets: string[];
  spot: boolean;
  maxVcpus: number;
  /** How long a job may wait in RUNNABLE, blocked for a reason Batch can act on, before Batch cancels it. */
  maxRunnable: Duration;
}

export class TrainingCompute extends Construct {
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly jobRole: iam.Role;
  readonly computeEnvironments: batch.ManagedEc2EcsComputeEnvironment[];
  /** A sweep's reduce step: a Fargate CPU queue and the trainer image with TRAINER_DEVICE=cpu. */
  readonly reduceQueue: batch.JobQueue;
  readonly reduceJobDefinition: batch.EcsJobDefinition;

  constructor(scope: Construct, id: string, props: TrainingComputeProps) {
    super(scope, id);

    const instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role')],
    });
    acknowledge(instanceRole, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]':
        'The ECS agent on Batch hosts needs exactly this AWS-maintained policy to register with the cluster, pull images and ship logs.',
    });

    // IMDSv2 with a hop limit of 1: the host may read its instance metadata, a container (one hop more,
    // behind the Docker bridge) may not, so no job can borrow the instance role's credentials.
    const launchTemplate = new ec2.LaunchTemplate(this, 'GpuHosts', {
      requireImdsv2: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      httpPutResponseHopLimit: 1,
    });

    const environment = (name: string, spot: boolean) =>
      new batch.ManagedEc2EcsComputeEnvironment(this, name, {
        vpc: props.network.vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
        securityGroups: [props.network.securityGroup],
        instanceClasses: GPU_INSTANCE_CLASSES,
        useOptimalInstanceClasses: false,
        images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
        instanceRole,
        launchTemplate,
        spot,
        allocationStrategy: spot ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
        minvCpus: 0,
        maxvCpus: props.maxVcpus,
        updateToLatestImageVersion: true,
      });

    this.computeEnvironments = props.spot ? [environment('Spot', true), environment('OnDemand', false)] : [environment('OnDemand', false)];

    this.jobQueue = new batch.JobQueue(this, 'Queue', {
      // Batch places a job in the first environment (by order) with capacity: Spot, then on-demand.
      computeEnvironments: this.computeEnvironments.map((computeEnvironment, i) => ({ computeEnvironment, order: i + 1 })),
      priority: 1,
      jobStateTimeLimitActions: cancelStuckJobs(props.maxRunnable),
    });

    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Trainer container: read datasets and models, write its job status, checkpoints and adapters/*',
    });
    props.registry.grantTrainerAccess(this.jobRole);
    if (props.datasetBuckets.length > 0) {
      this.jobRole.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadDatasetBuckets',
          actions: ['s3:GetObject', 's3:ListBucket'],
          resources: props.datasetBuckets.flatMap((b) => [`arn:${Aws.PARTITION}:s3:::${b}`, `arn:${Aws.PARTITION}:s3:::${b}/*`]),
        }),
      );
    }

    const image = ecs.ContainerImage.fromAsset(REPO_ROOT, { file: 'trainer/Dockerfile', platform: Platform.LINUX_AMD64, target: 'gpu' });
    this.jobDefinition = new batch.EcsJobDefinition(this, 'Trainer', {
      container: new batch.EcsEc2ContainerDefinition(this, 'TrainerContainer', {
        image,
        gpu: 1,
        cpu: 4,
        // Within what a g5/g6.xlarge registers (registrableMemoryMiB), or the job never leaves RUNNABLE.
        memory: Size.gibibytes(14),
        jobRole: this.jobRole,
        environment: {
          ADAPTER_STORE_REGISTRY: props.registryUri,
          // The S3 client's region comes from here (shared/registry/index.ts falls back to us-east-1).
          AWS_REGION: Aws.REGION,
          // The trainer CLI's default --device (the image sets it too): run-job trains on the GPU.
          TRAINER_DEVICE: 'cuda',
        },
      }),
      timeout: Duration.hours(12),
      // Up to 3 attempts, retried only when the host went away (the trainer resumes from its checkpoint);
      // an application error (bad dataset, bug) fails at once.
      retryAttempts: 3,
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onStatusReason: HOST_TERMINATED_REASON })),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
      ],
    });

    // The reduce step: Fargate (no instance to manage, billed per second), in the same public subnets.
    // Without a NAT gateway a Fargate task needs a public IP to pull its image from ECR.
    const reduceEnvironment = new batch.FargateComputeEnvironment(this, 'ReduceCpu', {
      vpc: props.network.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [props.network.securityGroup],
      maxvCpus: 8 * REDUCE_VCPUS,
    });
    this.reduceQueue = new batch.JobQueue(this, 'ReduceQueue', {
      computeEnvironments: [{ computeEnvironment: reduceEnvironment, order: 1 }],
      priority: 1,
      jobStateTimeLimitActions: cancelStuckJobs(props.maxRunnable),
    });
    this.reduceJobDefinition = new batch.EcsJobDefinition(this, 'Reduce', {
      container: new batch.EcsFargateContainerDefinition(this, 'ReduceContainer', {
        // The Dockerfile's `cpu` target: the same bundle on Node's slim image, without the multi-GB CUDA
        // base that Fargate (no image cache) would pull for every reduce.
        image: ecs.ContainerImage.fromAsset(REPO_ROOT, { file: 'trainer/Dockerfile', platform: Platform.LINUX_AMD64, target: 'cpu' }),
        cpu: REDUCE_VCPUS,
        memory: REDUCE_MEMORY,
        assignPublicIp: true,
        fargateCpuArchitecture: ecs.CpuArchitecture.X86_64,
        jobRole: this.jobRole,
        environment: {
          ADAPTER_STORE_REGISTRY: props.registryUri,
          AWS_REGION: Aws.REGION,
          TRAINER_DEVICE: 'cpu',
        },
      }),
      timeout: Duration.hours(1),
      // A failed image pull (ECR throttling, a network blip) is worth one more try; anything else is final.
      retryAttempts: 2,
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
      ],
    });

    acknowledge(this.jobRole, {
      ...(props.datasetBuckets.length > 0
        ? Object.fromEntries(
            props.datasetBuckets.map((b) => [
              `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${b}/*]`,
              `Datasets may be any object of the configured dataset bucket ${b} (read only).`,
            ]),
          )
        : {}),
    });
    for (const executionRole of [this.jobDefinition.container.executionRole, this.reduceJobDefinition.container.executionRole])
      acknowledge(executionRole, {
        'AwsSolutions-IAM5[Resource::*]':
          'ecr:GetAuthorizationToken has no resource-level permissions; image pulls themselves are limited to the asset repository.',
        'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/batch/job:*]':
          'Batch containers log to the fixed /aws/batch/job group, one stream per job attempt, named at run time.',
      });
  }
}
