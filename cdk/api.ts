/**
 * The HTTP API: the Hono app (functions/lambda.ts) in one Lambda function, bundled locally by esbuild,
 * behind an API Gateway HTTP API. The API keys live in Secrets Manager; the function re-reads them every
 * few minutes (functions/lambda.ts), so a key removed from the secret stops working without a deploy.
 */
import { join } from 'node:path';
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { JOB_QUEUE_TAG } from '../functions/jobs/batch-launcher.ts';
import { acknowledge } from './nag.ts';
import type { RegistryBucket } from './registry.ts';
import { REPO_ROOT } from './training.ts';

export interface ApiProps {
  registry: RegistryBucket;
  registryUri: string;
  jobQueue: batch.IJobQueue;
  jobDefinition: batch.EcsJobDefinition;
  /** Where a sweep's reduce step goes (a CPU queue), given to the function as BATCH_REDUCE_JOB_*. */
  reduceJobQueue: batch.IJobQueue;
  reduceJobDefinition: batch.EcsJobDefinition;
  /** Buckets the API accepts dataset URIs from (the registry bucket comes first). */
  datasetBuckets: string[];
  /** Dataset buckets besides the registry, which POST /finetune checks objects in (HeadObject). */
  extraDatasetBuckets: string[];
  defaultBaseModel: string;
}

/** Never in the Lambda bundle: a native module for the trainer only (esbuild cannot bundle .node files). */
export const LAMBDA_EXTERNAL_MODULES = ['onnxruntime-node'];

export class Api extends Construct {
  readonly handler: NodejsFunction;
  readonly httpApi: apigw.HttpApi;
  readonly apiKeySecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);

    this.apiKeySecret = new secretsmanager.Secret(this, 'ApiKey', {
      description: 'Adapter store API keys (comma-separated); clients send one as "Authorization: Bearer <key>"',
      generateSecretString: { passwordLength: 40, excludePunctuation: true },
    });
    acknowledge(this.apiKeySecret, {
      'AwsSolutions-SMG4':
        'API keys are handed to clients out of band; an automatic rotation would lock them out. Operators rotate by editing the comma-separated list.',
    });

    const logGroup = new logs.LogGroup(this, 'FunctionLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.handler = new NodejsFunction(this, 'Handler', {
      entry: join(REPO_ROOT, 'functions', 'lambda.ts'),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 1024,
      // API Gateway gives up on an integration after 30 s.
      timeout: Duration.seconds(29),
      logGroup,
      environment: {
        ADAPTER_STORE_REGISTRY: props.registryUri,
        ADAPTER_STORE_API_KEY_SECRET: this.apiKeySecret.secretArn,
        BATCH_JOB_QUEUE: props.jobQueue.jobQueueArn,
        BATCH_JOB_DEFINITION: props.jobDefinition.jobDefinitionArn,
        BATCH_REDUCE_JOB_QUEUE: props.reduceJobQueue.jobQueueArn,
        BATCH_REDUCE_JOB_DEFINITION: props.reduceJobDefinition.jobDefinitionArn,
        ADAPTER_STORE_DATASET_BUCKETS: props.datasetBuckets.join(','),
        ADAPTER_STORE_DEFAULT_BASE_MODEL: props.defaultBaseModel,
      },
      bundling: {
        // Local esbuild (a devDependency), never a Docker build: synth works offline without Docker.
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        // Some CommonJS dependencies call require(); give the ES module bundle one.
        banner:
          "import { createRequire as __adapterStoreRequire } from 'node:module'; const require = __adapterStoreRequire(import.meta.url);",
        // The AWS SDK is bundled too (not taken from the runtime): the code needs the versions it was
        // tested with, and @aws-sdk/cloudfront-signer / s3-request-presigner are not in the runtime.
        externalModules: LAMBDA_EXTERNAL_MODULES,
        minify: true,
        sourceMap: true,
        environment: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
      },
    });
    this.handler.addEnvironment('NODE_OPTIONS', '--enable-source-maps');

    // Least privilege on the registry: read everything, write only what the API owns (cdk/registry.ts).
    props.registry.grantApiAccess(this.handler);
    this.apiKeySecret.grantRead(this.handler);
    if (props.extraDatasetBuckets.length > 0) {
      // HeadObject on a dataset before a job is created; ListBucket makes a missing key a 404, not a 403.
      this.handler.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'CheckDatasetObjects',
          actions: ['s3:GetObject', 's3:ListBucket'],
          resources: props.extraDatasetBuckets.flatMap((b) => [`arn:${Aws.PARTITION}:s3:::${b}`, `arn:${Aws.PARTITION}:s3:::${b}/*`]),
        }),
      );
    }

    props.jobDefinition.grantSubmitJob(this.handler, props.jobQueue);
    props.reduceJobDefinition.grantSubmitJob(this.handler, props.reduceJobQueue);
    // Job ARNs are only known after SubmitJob, so jobs are scoped by a tag: the API tags every job it
    // submits with its queue (tagging on create needs batch:TagResource), and may terminate only those.
    const jobArns = `arn:${Aws.PARTITION}:batch:${Aws.REGION}:${Aws.ACCOUNT_ID}:job/*`;
    this.handler.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'TagOwnJobsOnSubmit',
        actions: ['batch:TagResource'],
        resources: [jobArns],
        conditions: {
          StringEquals: { [`aws:RequestTag/${JOB_QUEUE_TAG}`]: props.jobQueue.jobQueueArn, 'batch:CreateAction': 'SubmitJob' },
        },
      }),
    );
    this.handler.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'TerminateOwnJobs',
        actions: ['batch:TerminateJob'],
        resources: [jobArns],
        conditions: { StringEquals: { [`aws:ResourceTag/${JOB_QUEUE_TAG}`]: props.jobQueue.jobQueueArn } },
      }),
    );
    this.handler.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DescribeJobs',
        // ListJobs: the spend limits count the queue's unfinished jobs (functions/jobs/spend.ts).
        actions: ['batch:DescribeJobs', 'batch:ListJobs'],
        // DescribeJobs supports no resource-level permissions: "*" is the only resource it accepts.
        resources: ['*'],
      }),
    );

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'Adapter store API',
      defaultIntegration: new HttpLambdaIntegration('App', this.handler),
      createDefaultStage: true,
    });
    const stage = this.httpApi.defaultStage?.node.defaultChild as apigw.CfnStage;
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        time: '$context.requestTime',
        method: '$context.httpMethod',
        path: '$context.path',
        status: '$context.status',
        latency: '$context.responseLatency',
        error: '$context.integrationErrorMessage',
      }),
    };
    stage.defaultRouteSettings = { throttlingBurstLimit: 200, throttlingRateLimit: 100 };

    acknowledge(this.handler, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
        "The AWS-maintained basic execution policy only allows writing the function's own CloudWatch logs.",
      'AwsSolutions-L1':
        'Node.js 22 is the runtime this code is built and tested for (esbuild target node22); moving to a newer major is a tested change, not an automatic one.',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*]':
        "TerminateJob and TagResource are authorised per job ARN, known only after SubmitJob: both are limited by condition to jobs tagged with this stack's queue.",
      'AwsSolutions-IAM5[Resource::*]': 'batch:DescribeJobs and batch:ListJobs have no resource-level permissions; both are read-only.',
      ...Object.fromEntries(
        props.extraDatasetBuckets.map((b) => [
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${b}/*]`,
          `POST /finetune checks that a dataset exists in the configured dataset bucket ${b} (read only).`,
        ]),
      ),
    });
    acknowledge(this.httpApi, {
      'AwsSolutions-APIG4':
        'Every route except /healthz, the API documentation (/docs, /openapi.json) and the console shell checks a Bearer API key inside the app (functions/http/auth.ts); an API Gateway authorizer would duplicate it and add a cold start.',
    });
  }

  /** https://<api id>.execute-api.<region>.amazonaws.com (no trailing slash). */
  get url(): string {
    return this.httpApi.apiEndpoint;
  }
}
