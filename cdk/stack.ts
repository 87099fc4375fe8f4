/**
 * The adapter store: registry bucket, GPU training on Batch, the HTTP API, and the CDN in front.
 * Env-agnostic on purpose (no account/region): synth needs no credentials and no AZ lookup.
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Api } from './api.ts';
import { type AdapterStoreConfig, DEFAULT_CONFIG } from './config.ts';
import { Edge } from './edge.ts';
import { Inference } from './inference.ts';
import { TrainingNetwork } from './network.ts';
import { RegistryBucket } from './registry.ts';
import { TrainingCompute } from './training.ts';

export interface AdapterStoreStackProps extends StackProps {
  config?: Partial<AdapterStoreConfig>;
}

export class AdapterStoreStack extends Stack {
  readonly registry: RegistryBucket;
  readonly training: TrainingCompute;
  readonly api: Api;
  readonly inference: Inference;
  readonly edge: Edge;

  constructor(scope: Construct, id: string, props: AdapterStoreStackProps = {}) {
    super(scope, id, { description: 'Adapter store: adapter registry, GPU fine-tune jobs, HTTP API and CDN', ...props });
    const config: AdapterStoreConfig = { ...DEFAULT_CONFIG, ...props.config };

    this.registry = new RegistryBucket(this, 'Registry');
    const registryUri = this.registry.uri;
    const network = new TrainingNetwork(this, 'Network');

    this.training = new TrainingCompute(this, 'Training', {
      network,
      registry: this.registry,
      registryUri,
      datasetBuckets: config.datasetBuckets,
      spot: config.spot,
      maxVcpus: config.maxVcpus,
      maxRunnable: Duration.minutes(config.maxRunnableMinutes),
    });

    this.api = new Api(this, 'Api', {
      registry: this.registry,
      registryUri,
      jobQueue: this.training.jobQueue,
      jobDefinition: this.training.jobDefinition,
      reduceJobQueue: this.training.reduceQueue,
      reduceJobDefinition: this.training.reduceJobDefinition,
      datasetBuckets: [this.registry.bucket.bucketName, ...config.datasetBuckets],
      extraDatasetBuckets: config.datasetBuckets,
      defaultBaseModel: config.defaultBaseModel,
    });

    // POST /adapters/{task}/predict goes to its own function (onnxruntime and the base live there only).
    this.inference = new Inference(this, 'Inference', {
      registry: this.registry,
      registryUri,
      apiKeySecret: this.api.apiKeySecret,
      defaultBaseModel: config.defaultBaseModel,
      httpApi: this.api.httpApi,
    });

    this.edge = new Edge(this, 'Edge', {
      registry: this.registry.bucket,
      logBucket: this.registry.logBucket,
      apiEndpoint: this.api.url,
      keyRotation: config.cdnKeyRotation,
    });

    // Downloads: the API answers with a CloudFront signed URL of https://<CDN>/adapters/<task>/<version>/<file>.
    this.api.handler.addEnvironment('ADAPTER_STORE_CDN_URL', this.edge.url);
    this.api.handler.addEnvironment('ADAPTER_STORE_CDN_KEY_PAIR_ID', this.edge.keyPair.keyPairId);
    this.api.handler.addEnvironment('ADAPTER_STORE_CDN_PRIVATE_KEY_SECRET', this.edge.keyPair.privateKey.secretArn);
    this.edge.keyPair.privateKey.grantRead(this.api.handler);

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'The HTTP API (direct, without the CDN)' });
    new CfnOutput(this, 'CdnUrl', { value: this.edge.url, description: 'The CDN: API routes and signed adapter downloads' });
    new CfnOutput(this, 'CdnDomain', { value: this.edge.distribution.distributionDomainName });
    new CfnOutput(this, 'RegistryBucketName', { value: this.registry.bucket.bucketName });
    new CfnOutput(this, 'RegistryUri', { value: registryUri });
    new CfnOutput(this, 'ApiKeySecretArn', {
      value: this.api.apiKeySecret.secretArn,
      description: 'Secrets Manager secret holding the API key(s)',
    });
    new CfnOutput(this, 'JobQueueArn', { value: this.training.jobQueue.jobQueueArn });
    new CfnOutput(this, 'ReduceJobQueueArn', {
      value: this.training.reduceQueue.jobQueueArn,
      description: "Sweeps' reduce steps (Fargate, CPU)",
    });
  }
}
