/** The synthesized CloudFormation template: every property the deployment relies on. */

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type CfnElement, cx_api as cxapi } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { API_CACHED_PATH_PATTERN, FILE_PATH_PATTERNS, PREDICT_PATH_PATTERN } from '../../cdk/edge.ts';
import { allowedResources, flatten, roleStatements } from './iam.ts';
import { resourcesOf, synth } from './synth.ts';

const { app, stack, template } = synth({ datasetBuckets: ['public-datasets'] });
const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const bucketId = id(stack.registry.bucket);
const bucketArn = `\${${bucketId}.Arn}`;

describe('registry bucket', () => {
  const [, bucket] = resourcesOf(template, 'AWS::S3::Bucket').find(([lid]) => lid === bucketId)!;

  test('is encrypted, versioned and blocks all public access', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    assert.deepEqual(bucket.VersioningConfiguration, { Status: 'Enabled' });
    assert.equal(bucket.CorsConfiguration, undefined, 'same-origin docs page: no CORS');
    assert.ok(bucket.LoggingConfiguration, 'server access logging on');
  });

  test('denies every request without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  test('adapter versions are write-once: a PutObject under adapters/ without If-None-Match is denied to everyone', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AdapterVersionsAreWriteOnce',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/adapters/*']] },
            Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
          }),
        ]),
      },
    });
  });

  test('expires job checkpoints and old versions, aborts stale uploads', () => {
    const rules = (bucket.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    const byId = Object.fromEntries(rules.map((r) => [r.Id, r]));
    assert.equal(byId['expire-job-checkpoints'].Prefix, 'jobs/');
    assert.equal(byId['expire-job-checkpoints'].ExpirationInDays, 14);
    assert.ok(Number(byId['expire-job-checkpoints'].ObjectSizeGreaterThan) >= 1024 * 1024 - 1, 'only checkpoint-sized objects');
    assert.equal(byId['expire-old-job-state'].Prefix, 'jobs/');
    assert.deepEqual(byId['expire-old-job-state'].NoncurrentVersionExpiration, { NoncurrentDays: 3 });
    assert.deepEqual(byId['bucket-hygiene'].AbortIncompleteMultipartUpload, { DaysAfterInitiation: 1 });
    assert.deepEqual(byId['bucket-hygiene'].NoncurrentVersionExpiration, { NoncurrentDays: 30 });
    assert.ok(rules.every((r) => r.Status === 'Enabled'));
  });

  test('is retained when the stack is deleted', () => {
    const res = template.findResources('AWS::S3::Bucket')[bucketId] as { DeletionPolicy: string };
    assert.equal(res.DeletionPolicy, 'Retain');
  });
});

describe('training on AWS Batch', () => {
  test("GPU hosts: IMDSv2 with a hop limit of 1, so containers cannot reach the instance role's credentials", () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ MetadataOptions: Match.objectLike({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 }) }),
    });
    const [[ltId]] = resourcesOf(template, 'AWS::EC2::LaunchTemplate');
    const gpu = resourcesOf(template, 'AWS::Batch::ComputeEnvironment').filter(
      ([, p]) => (p.ComputeResources as { Type: string }).Type !== 'FARGATE',
    );
    assert.equal(gpu.length, 2);
    for (const [, ce] of gpu) {
      const lt = (ce.ComputeResources as { LaunchTemplate?: { LaunchTemplateId?: unknown } }).LaunchTemplate;
      assert.deepEqual(lt?.LaunchTemplateId, { Ref: ltId });
    }
  });

  test('two GPU compute environments, Spot first, on-demand as the fallback', () => {
    const envs = resourcesOf(template, 'AWS::Batch::ComputeEnvironment').filter(
      ([, p]) => (p.ComputeResources as { Type: string }).Type !== 'FARGATE',
    );
    assert.equal(envs.length, 2);
    const cr = Object.fromEntries(envs.map(([lid, p]) => [lid, p.ComputeResources as Record<string, unknown>]));
    const spot = Object.entries(cr).find(([, r]) => r.Type === 'SPOT')!;
    const onDemand = Object.entries(cr).find(([, r]) => r.Type === 'EC2')!;
    assert.ok(spot && onDemand);
    for (const [, r] of [spot, onDemand]) {
      assert.deepEqual(r.InstanceTypes, ['g5', 'g6']);
      assert.equal(r.MinvCpus, 0, 'scales to zero');
      assert.deepEqual(r.Ec2Configuration, [{ ImageType: 'ECS_AL2023_NVIDIA' }]);
    }
    assert.equal(spot[1].AllocationStrategy, 'SPOT_PRICE_CAPACITY_OPTIMIZED');
    template.hasResourceProperties('AWS::Batch::JobQueue', {
      ComputeEnvironmentOrder: [
        { ComputeEnvironment: { 'Fn::GetAtt': [spot[0], 'ComputeEnvironmentArn'] }, Order: 1 },
        { ComputeEnvironment: { 'Fn::GetAtt': [onDemand[0], 'ComputeEnvironmentArn'] }, Order: 2 },
      ],
    });
    assert.ok(
      resourcesOf(template, 'AWS::Batch::ComputeEnvironment').some(([, p]) => (p.ComputeResources as { Type: string }).Type === 'FARGATE'),
      "and the reduce step's Fargate environment (test/cdk/training.test.ts)",
    );
  });

  test('-c spot=false leaves one on-demand environment', () => {
    const od = synth({ spot: false }).template;
    const envs = resourcesOf(od, 'AWS::Batch::ComputeEnvironment');
    assert.deepEqual(
      envs.map(([, p]) => (p.ComputeResources as { Type: string }).Type),
      ['EC2', 'FARGATE'],
      "one GPU environment, on-demand, beside the reduce step's Fargate one",
    );
  });

  test('the job definition: 1 GPU, the registry, a timeout, retries only for lost hosts', () => {
    const [, jd] = resourcesOf(template, 'AWS::Batch::JobDefinition').find(([lid]) => lid === id(stack.training.jobDefinition))!;
    const cp = jd.ContainerProperties as {
      ResourceRequirements: { Type: string; Value: string }[];
      Environment: { Name: string; Value: unknown }[];
      JobRoleArn: unknown;
    };
    assert.equal(cp.ResourceRequirements.find((r) => r.Type === 'GPU')?.Value, '1');
    const env = Object.fromEntries(cp.Environment.map((e) => [e.Name, flatten(e.Value)]));
    assert.equal(env.ADAPTER_STORE_REGISTRY, `s3://\${${bucketId}}`);
    assert.equal(env.TRAINER_DEVICE, 'cuda');
    assert.deepEqual(
      cp.JobRoleArn,
      { 'Fn::GetAtt': [id(stack.training.jobRole), 'Arn'] },
      'a job role: Batch containers have none by default',
    );
    assert.ok((jd.Timeout as { AttemptDurationSeconds: number }).AttemptDurationSeconds >= 3600);
    assert.deepEqual(jd.RetryStrategy, {
      Attempts: 3,
      EvaluateOnExit: [
        { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
        { Action: 'EXIT', OnReason: '*' },
      ],
    });
    assert.deepEqual(jd.PlatformCapabilities, ['EC2']);
  });

  test('the trainer images are Docker assets built from trainer/Dockerfile for linux/amd64: its gpu target and its cpu target', () => {
    const assembly = app.synth();
    const manifest = assembly.artifacts.find((a): a is cxapi.AssetManifestArtifact => a instanceof cxapi.AssetManifestArtifact)!;
    const images = Object.values(
      (
        JSON.parse(readFileSync(manifest.file, 'utf8')) as {
          dockerImages: Record<
            string,
            { source: { directory: string; dockerFile?: string; platform?: string; dockerBuildTarget?: string } }
          >;
        }
      ).dockerImages,
    );
    assert.deepEqual(images.map((i) => i.source.dockerBuildTarget).sort(), ['cpu', 'gpu']);
    for (const image of images) {
      assert.equal(image.source.dockerFile, 'trainer/Dockerfile');
      assert.equal(image.source.platform, 'linux/amd64');
      const staged = join(assembly.directory, image.source.directory);
      // .dockerignore lets in only what the image copies: no node_modules, no tests, no other app code.
      assert.ok(existsSync(join(staged, 'trainer', 'cli.ts')) && existsSync(join(staged, 'shared', 'registry', 'index.ts')));
      for (const absent of ['node_modules', 'test', 'functions', 'cdk', '.git']) assert.ok(!existsSync(join(staged, absent)), absent);
    }
  });

  test('the VPC has public subnets in two AZs and no NAT gateway', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.anyValue() });
    const [[, sg]] = resourcesOf(template, 'AWS::EC2::SecurityGroup');
    assert.equal(sg.SecurityGroupIngress, undefined, 'nothing inbound');
  });
});

describe('API', () => {
  const fnId = id(stack.api.handler);
  const [, fn] = resourcesOf(template, 'AWS::Lambda::Function').find(([lid]) => lid === fnId)!;

  test('Node 22 on ARM64', () => {
    assert.equal(fn.Runtime, 'nodejs22.x');
    assert.deepEqual(fn.Architectures, ['arm64']);
    assert.equal(fn.Handler, 'index.handler');
  });

  test('the environment the Lambda entry point reads', () => {
    const vars = Object.fromEntries(
      Object.entries((fn.Environment as { Variables: Record<string, unknown> }).Variables).map(([k, v]) => [k, flatten(v)]),
    );
    assert.deepEqual(Object.keys(vars).sort(), [
      'ADAPTER_STORE_API_KEY_SECRET',
      'ADAPTER_STORE_CDN_KEY_PAIR_ID',
      'ADAPTER_STORE_CDN_PRIVATE_KEY_SECRET',
      'ADAPTER_STORE_CDN_URL',
      'ADAPTER_STORE_DATASET_BUCKETS',
      'ADAPTER_STORE_DEFAULT_BASE_MODEL',
      'ADAPTER_STORE_REGISTRY',
      'BATCH_JOB_DEFINITION',
      'BATCH_JOB_QUEUE',
      'BATCH_REDUCE_JOB_DEFINITION',
      'BATCH_REDUCE_JOB_QUEUE',
      'NODE_OPTIONS',
    ]);
    assert.equal(vars.ADAPTER_STORE_REGISTRY, `s3://\${${bucketId}}`);
    assert.equal(vars.ADAPTER_STORE_DATASET_BUCKETS, `\${${bucketId}},public-datasets`);
    assert.equal(vars.ADAPTER_STORE_DEFAULT_BASE_MODEL, 'bert-base-uncased');
    assert.equal(vars.ADAPTER_STORE_API_KEY_SECRET, `\${${id(stack.api.apiKeySecret)}}`);
    assert.equal(vars.ADAPTER_STORE_CDN_PRIVATE_KEY_SECRET, `\${${id(stack.edge.keyPair.privateKey)}}`);
    assert.equal(vars.ADAPTER_STORE_CDN_KEY_PAIR_ID, `\${${stack.getLogicalId(stack.edge.keyPair.publicKey)}.Id}`);
    assert.equal(vars.ADAPTER_STORE_CDN_URL, `https://\${${id(stack.edge.distribution)}.DomainName}`);
    assert.match(vars.BATCH_JOB_QUEUE, new RegExp(`^\\$\\{${id(stack.training.jobQueue)}`));
    assert.equal(vars.BATCH_JOB_DEFINITION, `\${${id(stack.training.jobDefinition)}}`);
    assert.match(vars.BATCH_REDUCE_JOB_QUEUE, new RegExp(`^\\$\\{${id(stack.training.reduceQueue)}`));
    assert.equal(vars.BATCH_REDUCE_JOB_DEFINITION, `\${${id(stack.training.reduceJobDefinition)}}`);
  });

  test('context picks the default base model', () => {
    const t = synth({ defaultBaseModel: 'bert-large-cased' }).template;
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ADAPTER_STORE_DEFAULT_BASE_MODEL: 'bert-large-cased' }) },
    });
  });

  test('an HTTP API (v2) sends every route to the function', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': [fnId, 'Arn'] },
      PayloadFormatVersion: '2.0',
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  test('the API key is a generated Secrets Manager secret', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: Match.objectLike({ PasswordLength: 40 }) });
  });
});

describe('least privilege', () => {
  const api = roleStatements(template, id(stack.api.handler.role!));
  const trainer = roleStatements(template, id(stack.training.jobRole));

  test('the API writes only its job records and event pages (never checkpoints), job-index/*, datasets/* and idempotency/*, deletes only idempotency/*', () => {
    assert.deepEqual(allowedResources(api, 's3:PutObject').sort(), [
      `${bucketArn}/datasets/*`,
      `${bucketArn}/idempotency/*`,
      `${bucketArn}/job-index/*`,
      `${bucketArn}/jobs/*/cancel.json`,
      `${bucketArn}/jobs/*/events/*`,
      `${bucketArn}/jobs/*/launch.json`,
      `${bucketArn}/jobs/*/spec.json`,
      `${bucketArn}/jobs/*/status.json`,
    ]);
    assert.deepEqual(allowedResources(api, 's3:DeleteObject'), [`${bucketArn}/idempotency/*`]);
    // The registry, and the configured dataset bucket (POST /finetune checks a dataset exists).
    assert.deepEqual(
      allowedResources(api, 's3:GetObject').sort(),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${AWS::...} substitution syntax, as the template holds it
      ['arn:${AWS::Partition}:s3:::public-datasets', 'arn:${AWS::Partition}:s3:::public-datasets/*', bucketArn, `${bucketArn}/*`].sort(),
    );
    assert.ok(!api.some((s) => s.Action.includes('s3:*')));
  });

  test('the API submits only to its own queues and job definitions; describe needs "*"', () => {
    assert.deepEqual(
      allowedResources(api, 'batch:SubmitJob').sort(),
      [
        `\${${id(stack.training.jobDefinition)}}`,
        `\${${id(stack.training.jobQueue)}.JobQueueArn}`,
        `\${${id(stack.training.reduceJobDefinition)}}`,
        `\${${id(stack.training.reduceQueue)}.JobQueueArn}`,
      ].sort(),
    );
    assert.deepEqual(allowedResources(api, 'batch:DescribeJobs'), ['*']);
    const queueArn = { 'Fn::GetAtt': [id(stack.training.jobQueue), 'JobQueueArn'] };
    const terminate = api.filter((s) => s.Action.includes('batch:TerminateJob'));
    assert.equal(terminate.length, 1);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${AWS::...} substitution syntax, as the template holds it
    assert.deepEqual(terminate[0].Resource, ['arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:job/*']);
    assert.deepEqual(
      terminate[0].Condition,
      { StringEquals: { 'aws:ResourceTag/adapter-store-queue': queueArn } },
      'only jobs tagged with this queue',
    );
    const tag = api.filter((s) => s.Action.includes('batch:TagResource'));
    assert.deepEqual(tag[0]?.Condition, {
      StringEquals: { 'aws:RequestTag/adapter-store-queue': queueArn, 'batch:CreateAction': 'SubmitJob' },
    });
    assert.ok(!api.some((s) => s.Action.some((a) => a === 'batch:*')));
  });

  test('the API reads its two secrets and nothing else', () => {
    const secrets = allowedResources(api, 'secretsmanager:GetSecretValue').sort();
    assert.deepEqual(secrets, [`\${${id(stack.api.apiKeySecret)}}`, `\${${id(stack.edge.keyPair.privateKey)}}`].sort());
  });

  test('the trainer reads the registry and dataset buckets, writes only job status, event pages, checkpoints, sweep points and adapters/*, deletes only checkpoints', () => {
    assert.deepEqual(allowedResources(trainer, 's3:PutObject').sort(), [
      `${bucketArn}/adapters/*`,
      `${bucketArn}/jobs/*/checkpoint/*`,
      `${bucketArn}/jobs/*/events/*`,
      `${bucketArn}/jobs/*/points/*`,
      `${bucketArn}/jobs/*/status.json`,
    ]);
    // Only older checkpoints, once a newer one is complete.
    assert.deepEqual(allowedResources(trainer, 's3:DeleteObject').sort(), [
      `${bucketArn}/jobs/*/checkpoint/*`,
      `${bucketArn}/jobs/*/points/*/checkpoint/*`,
    ]);
    const reads = allowedResources(trainer, 's3:GetObject');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${AWS::...} substitution syntax, as the template holds it
    for (const r of [`${bucketArn}/*`, 'arn:${AWS::Partition}:s3:::public-datasets/*']) assert.ok(reads.includes(r), r);
    assert.deepEqual(allowedResources(trainer, 'batch:SubmitJob'), []);
  });

  test('CloudFront may read adapters/* only', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'CdnReadsAdaptersOnly',
            Effect: 'Deny',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:GetObject',
            NotResource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/adapters/*']] },
          }),
        ]),
      },
    });
  });
});

describe('CDN', () => {
  const [[, dist]] = resourcesOf(template, 'AWS::CloudFront::Distribution');
  const config = dist.DistributionConfig as {
    DefaultCacheBehavior: Record<string, unknown>;
    CacheBehaviors: Record<string, unknown>[];
    Origins: {
      Id: string;
      DomainName: unknown;
      S3OriginConfig?: unknown;
      OriginAccessControlId?: unknown;
      CustomOriginConfig?: Record<string, unknown>;
    }[];
  };
  const origin = (behavior: Record<string, unknown>) => config.Origins.find((o) => o.Id === behavior.TargetOriginId)!;
  const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
  const ALL_VIEWER_EXCEPT_HOST = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

  test('the default behaviour is the API, uncached, all methods, viewer headers except Host', () => {
    const d = config.DefaultCacheBehavior;
    assert.equal(d.CachePolicyId, CACHING_DISABLED);
    assert.equal(d.OriginRequestPolicyId, ALL_VIEWER_EXCEPT_HOST);
    assert.deepEqual(d.AllowedMethods, ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE']);
    assert.equal(d.TrustedKeyGroups, undefined);
    const o = origin(d);
    assert.equal(o.CustomOriginConfig?.OriginProtocolPolicy, 'https-only');
    assert.match(flatten(o.DomainName), new RegExp(id(stack.api.httpApi)));
  });

  test('adapter files come from the bucket through OAC, signed URLs only, cached long; they precede the API patterns', () => {
    const patterns = config.CacheBehaviors.map((b) => b.PathPattern);
    assert.deepEqual(patterns, [...FILE_PATH_PATTERNS, PREDICT_PATH_PATTERN, API_CACHED_PATH_PATTERN]);
    assert.deepEqual(FILE_PATH_PATTERNS, [
      'adapters/*/*/adapter.safetensors',
      'adapters/*/*/adapter_config.json',
      'adapters/*/*/metrics.json',
      'adapters/*/*/README.md',
      'adapters/*/*/pytorch_adapter.bin',
      'adapters/*/*/head_config.json',
      'adapters/*/*/pytorch_model_head.bin',
      'adapters/*/*/model_head.safetensors',
      'adapters/*/*/layernorms.safetensors',
    ]);
    const keyGroup = stack.getLogicalId(stack.edge.keyPair.keyGroup.node.defaultChild as CfnElement);
    const immutable = id(stack.edge.node.findChild('ImmutableFiles'));
    for (const b of config.CacheBehaviors.slice(0, FILE_PATH_PATTERNS.length)) {
      const o = origin(b);
      assert.ok(o.OriginAccessControlId, 'origin access control');
      assert.deepEqual(b.TrustedKeyGroups, [{ Ref: keyGroup }]);
      assert.deepEqual(b.AllowedMethods, ['GET', 'HEAD']);
      assert.deepEqual(b.CachePolicyId, { Ref: immutable });
    }
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
        SigningProtocol: 'sigv4',
      }),
    });
    template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({
        DefaultTTL: 365 * 86400,
        MaxTTL: 365 * 86400,
        MinTTL: 86400,
        ParametersInCacheKeyAndForwardedToOrigin: Match.objectLike({ QueryStringsConfig: { QueryStringBehavior: 'none' } }),
      }),
    });
  });

  test('POST /adapters/<task>/predict reaches the API uncached: the GET/HEAD-only adapters* behaviour would refuse it', () => {
    const b = config.CacheBehaviors.find((x) => x.PathPattern === PREDICT_PATH_PATTERN)!;
    assert.deepEqual(b.AllowedMethods, ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE']);
    assert.equal(b.CachePolicyId, CACHING_DISABLED);
    assert.equal(b.OriginRequestPolicyId, ALL_VIEWER_EXCEPT_HOST, 'Authorization and ?version= reach the API');
    assert.equal(b.TargetOriginId, config.DefaultCacheBehavior.TargetOriginId);
  });

  test('GET /adapters* is cached briefly with Authorization in the cache key', () => {
    const b = config.CacheBehaviors.find((x) => x.PathPattern === API_CACHED_PATH_PATTERN)!;
    assert.deepEqual(b.AllowedMethods, ['GET', 'HEAD', 'OPTIONS']);
    assert.equal(b.OriginRequestPolicyId, ALL_VIEWER_EXCEPT_HOST);
    assert.equal(b.TargetOriginId, config.DefaultCacheBehavior.TargetOriginId);
    const policies = resourcesOf(template, 'AWS::CloudFront::CachePolicy');
    const [, policy] = policies.find(([lid]) => (b.CachePolicyId as { Ref: string }).Ref === lid)!;
    const c = policy.CachePolicyConfig as {
      DefaultTTL: number;
      MaxTTL: number;
      ParametersInCacheKeyAndForwardedToOrigin: { HeadersConfig: unknown; QueryStringsConfig: unknown };
    };
    assert.ok(c.DefaultTTL >= 30 && c.MaxTTL <= 60, `${c.DefaultTTL}..${c.MaxTTL}`);
    assert.deepEqual(c.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig, { HeaderBehavior: 'whitelist', Headers: ['Authorization'] });
    assert.deepEqual(c.ParametersInCacheKeyAndForwardedToOrigin.QueryStringsConfig, { QueryStringBehavior: 'all' });
  });

  test('the key group holds the public key from the key pair custom resource', () => {
    const cr = stack.getLogicalId(stack.edge.keyPair.node.findChild('Resource').node.defaultChild as CfnElement);
    template.hasResourceProperties('AWS::CloudFront::PublicKey', {
      PublicKeyConfig: Match.objectLike({ EncodedKey: { 'Fn::GetAtt': [cr, 'PublicKeyPem'] } }),
    });
    template.hasResourceProperties('AWS::CloudFront::KeyGroup', {
      KeyGroupConfig: Match.objectLike({ Items: [{ 'Fn::GetAtt': [stack.getLogicalId(stack.edge.keyPair.publicKey), 'Id'] }] }),
    });
    template.hasResourceProperties('Custom::CdnKeyPair', { SecretId: { Ref: id(stack.edge.keyPair.privateKey) }, Rotation: '1' });
  });

  test('a rotation makes a new secret, and the API signs with it and the new key pair id together', () => {
    const rotated = synth({ datasetBuckets: ['public-datasets'], cdnKeyRotation: '2' });
    const secretId = rotated.stack.getLogicalId(rotated.stack.edge.keyPair.privateKey.node.defaultChild as CfnElement);
    assert.notEqual(secretId, id(stack.edge.keyPair.privateKey), 'the old secret (and its key) stays for a rollback');
    const [, fn] = resourcesOf(rotated.template, 'AWS::Lambda::Function').find(
      ([, p]) => (p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.ADAPTER_STORE_CDN_PRIVATE_KEY_SECRET,
    )!;
    const vars = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.deepEqual(vars.ADAPTER_STORE_CDN_PRIVATE_KEY_SECRET, { Ref: secretId });
    assert.deepEqual(vars.ADAPTER_STORE_CDN_KEY_PAIR_ID, {
      'Fn::GetAtt': [rotated.stack.getLogicalId(rotated.stack.edge.keyPair.publicKey), 'Id'],
    });
  });
});

test('outputs: API URL, bucket name, CDN domain', () => {
  const outputs = template.findOutputs('*');
  for (const name of ['ApiUrl', 'RegistryBucketName', 'CdnDomain', 'CdnUrl']) assert.ok(outputs[name], name);
  assert.deepEqual(outputs.RegistryBucketName.Value, { Ref: bucketId });
  assert.deepEqual(outputs.CdnDomain.Value, { 'Fn::GetAtt': [id(stack.edge.distribution), 'DomainName'] });
  assert.deepEqual(outputs.ApiUrl.Value, { 'Fn::GetAtt': [id(stack.api.httpApi), 'ApiEndpoint'] });
});
