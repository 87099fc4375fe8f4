/**
 * The registry bucket (models/, jobs/, idempotency/, adapters/ — see shared/registry.ts) and the
 * bucket its access logs and the CDN's logs go to.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './nag.ts';

export interface RegistryProps {
  /** Days a job's checkpoint objects are kept (they only matter while the job can still be retried). */
  checkpointDays?: number;
  /** Days overwritten jobs/ objects (status.json is rewritten every few seconds) are kept as noncurrent versions. */
  jobsNoncurrentDays?: number;
  /** Days any other overwritten or deleted object is kept as a noncurrent version. */
  noncurrentDays?: number;
}

/** Checkpoint tensors are the only large objects under jobs/ (spec/status/launch are a few KB). */
export const CHECKPOINT_MIN_BYTES = 1024 * 1024;

export class Registry extends Construct {
  readonly bucket: s3.Bucket;
  readonly logBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: RegistryProps = {}) {
    super(scope, id);

    this.logBucket = new s3.Bucket(this, 'Logs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // CloudFront standard logging writes with an ACL grant, which needs ACLs enabled on the bucket.
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(this.logBucket, {
      'AwsSolutions-S1': 'This is the access-log bucket itself; logging it into itself would loop.',
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      // SSE-S3 rather than KMS: CloudFront's origin access control reads it without a key policy,
      // and Batch, Lambda and the CDN need no kms:Decrypt grants.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'registry/',
      // No CORS: the docs page and the API share one origin (the CDN), and file downloads are redirects.
      lifecycleRules: [
        {
          // S3 lifecycle filters are prefixes, not globs: jobs/*/checkpoint/ is matched as "big objects under jobs/".
          id: 'expire-job-checkpoints',
          prefix: 'jobs/',
          objectSizeGreaterThan: CHECKPOINT_MIN_BYTES - 1,
          expiration: Duration.days(props.checkpointDays ?? 14),
        },
        {
          id: 'expire-old-job-state',
          prefix: 'jobs/',
          noncurrentVersionExpiration: Duration.days(props.jobsNoncurrentDays ?? 3),
        },
        {
          id: 'bucket-hygiene',
          noncurrentVersionExpiration: Duration.days(props.noncurrentDays ?? 30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          expiredObjectDeleteMarker: true,
        },
      ],
      // The registry holds trained adapters and base models: never delete it with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'CloudFormation-Validate::W9003',
      reason: 'ObjectSizeGreaterThan is typed number in aws-cdk-lib and string in the CloudFormation schema; CloudFormation accepts both.',
    });
  }

  get uri(): string {
    return `s3://${this.bucket.bucketName}`;
  }
}
