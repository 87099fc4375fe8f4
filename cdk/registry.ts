/**
 * The registry bucket (its layout is shared/registry.ts's) and the bucket its access logs and the
 * CDN's logs go to. Access to the registry is granted here only, by role (grantApiAccess,
 * grantTrainerAccess), from the same prefixes the registry code builds its keys from; each grant comes
 * with its cdk-nag acknowledgements.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { CHECKPOINT_FOLDER, JOB_EVENTS_FOLDER, JOB_FILES, JOB_POINTS_FOLDER, PREFIXES } from '../shared/registry/layout.ts';
import { acknowledge, grantPutFindings, grantReadFindings, nagBucketArn } from './nag.ts';

/** Who can be granted registry access: a role or something with one (a function), acknowledged on itself. */
export type RegistryGrantee = iam.IGrantable & IConstruct;

/** Key patterns of the grants: every object under a prefix, or one object of every job. */
const ANY = {
  jobStatus: `${PREFIXES.jobs}*/${JOB_FILES.status}`,
  jobCheckpoint: `${PREFIXES.jobs}*/${CHECKPOINT_FOLDER}*`,
  jobEvents: `${PREFIXES.jobs}*/${JOB_EVENTS_FOLDER}*`,
  jobPoints: `${PREFIXES.jobs}*/${JOB_POINTS_FOLDER}*`,
  pointCheckpoint: `${PREFIXES.jobs}*/${JOB_POINTS_FOLDER}*/${CHECKPOINT_FOLDER}*`,
  jobIndex: `${PREFIXES.jobIndex}*`,
  idempotency: `${PREFIXES.idempotency}*`,
  datasets: `${PREFIXES.datasets}*`,
  adapters: `${PREFIXES.adapters}*`,
  models: `${PREFIXES.models}*`,
} as const;

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

export class RegistryBucket extends Construct {
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
          prefix: PREFIXES.jobs,
          objectSizeGreaterThan: CHECKPOINT_MIN_BYTES - 1,
          expiration: Duration.days(props.checkpointDays ?? 14),
        },
        {
          id: 'expire-old-job-state',
          prefix: PREFIXES.jobs,
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
    // Published files are immutable: whoever writes under adapters/ (the trainer, or anyone granted
    // PutObject later) must say "create only" (If-None-Match: *), so an existing version is never overwritten.
    // ObjectCreationOperation is false for the parts of a multipart upload (CreateMultipartUpload, UploadPart),
    // which take no conditional header; their CompleteMultipartUpload must carry it.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AdapterVersionsAreWriteOnce',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${PREFIXES.adapters}*`)],
        conditions: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
      }),
    );
    Validations.of(this.bucket).acknowledge({
      id: 'CloudFormation-Validate::W9003',
      reason: 'ObjectSizeGreaterThan is typed number in aws-cdk-lib and string in the CloudFormation schema; CloudFormation accepts both.',
    });
  }

  get uri(): string {
    return `s3://${this.bucket.bucketName}`;
  }

  /**
   * The API: reads everything; writes job records (never checkpoints: those are the trainer's), the job
   * index, datasets and idempotency claims; deletes only its claims.
   */
  grantApiAccess(grantee: RegistryGrantee): void {
    this.bucket.grantRead(grantee);
    const jobRecords = Object.values(JOB_FILES).map((file) => `${PREFIXES.jobs}*/${file}`);
    for (const pattern of [...jobRecords, ANY.jobEvents, ANY.idempotency, ANY.jobIndex, ANY.datasets])
      this.bucket.grantPut(grantee, pattern);
    // Released when a submit fails, so a retry can claim the Idempotency-Key again.
    this.bucket.grantDelete(grantee, ANY.idempotency);
    acknowledge(grantee, {
      ...grantReadFindings(this.bucket, 'The API'),
      ...Object.assign(
        {},
        ...jobRecords.map((p) =>
          grantPutFindings(this.bucket, p, `The API writes ${p.replace('*', '<id>')} for job ids it generates at request time.`),
        ),
      ),
      ...grantPutFindings(
        this.bucket,
        ANY.jobEvents,
        `The API appends ${PREFIXES.jobs}<id>/${JOB_EVENTS_FOLDER}<seq>.json event pages (created, queued, cancel) for job ids it generates at request time.`,
      ),
      ...grantPutFindings(
        this.bucket,
        ANY.jobIndex,
        'Listing-index markers are keyed by job id and creation time, known only at request time.',
      ),
      ...grantPutFindings(
        this.bucket,
        ANY.datasets,
        `POST /datasets stores uploads under ${PREFIXES.datasets}<content hash>/<name> and signs PUTs under ${PREFIXES.datasetUploads}<id>/, known only at request time.`,
      ),
      ...grantPutFindings(
        this.bucket,
        ANY.idempotency,
        "Idempotency claims are keyed by a hash of the client's Idempotency-Key, known only at request time.",
      ),
      'AwsSolutions-IAM5[Action::s3:DeleteObject*]': `grantDelete: releasing its own idempotency claims under ${ANY.idempotency} only.`,
    });
  }

  /**
   * The inference function: reads base models and adapter versions, nothing else, and writes nothing.
   * It may list the bucket: S3 answers a missing key (an unknown version) with 404 only to a caller
   * allowed to list, 403 otherwise; a listing shows key names, never contents.
   */
  grantInferenceAccess(grantee: RegistryGrantee): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadModelsAndAdapters',
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(ANY.models), this.bucket.arnForObjects(ANY.adapters)],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ListRegistry', actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
    const arn = nagBucketArn(this.bucket);
    acknowledge(grantee, {
      [`AwsSolutions-IAM5[Resource::${arn}/${ANY.models}]`]:
        'The inference function reads any base model under models/ (named per request by the adapter).',
      [`AwsSolutions-IAM5[Resource::${arn}/${ANY.adapters}]`]:
        'The inference function reads any adapter version under adapters/ (task and version come with each request).',
    });
  }

  /** A training job: reads everything; writes only job status, checkpoints, sweep points and new adapter versions. */
  grantTrainerAccess(grantee: RegistryGrantee): void {
    this.bucket.grantRead(grantee);
    // Its job's status, events, checkpoints and sweep points only: spec, launch and cancel records are the API's.
    for (const pattern of [ANY.jobStatus, ANY.jobCheckpoint, ANY.jobEvents, ANY.jobPoints, ANY.adapters])
      this.bucket.grantPut(grantee, pattern);
    // A checkpoint's older folder goes once the next one is complete (shared/checkpoint-layout.ts).
    for (const pattern of [ANY.jobCheckpoint, ANY.pointCheckpoint]) this.bucket.grantDelete(grantee, pattern);
    acknowledge(grantee, {
      ...grantReadFindings(this.bucket, 'The trainer'),
      ...grantPutFindings(
        this.bucket,
        ANY.jobStatus,
        `The trainer writes ${PREFIXES.jobs}<id>/${JOB_FILES.status} for the job it runs (ids are known at submit time).`,
      ),
      ...grantPutFindings(
        this.bucket,
        ANY.jobCheckpoint,
        `The trainer writes ${PREFIXES.jobs}<id>/${CHECKPOINT_FOLDER}* for the job it runs, so a retried job resumes.`,
      ),
      [`AwsSolutions-IAM5[Resource::${nagBucketArn(this.bucket)}/${ANY.pointCheckpoint}]`]: `A sweep's array child deletes its point's older checkpoints under ${PREFIXES.jobs}<id>/${JOB_POINTS_FOLDER}<index>/${CHECKPOINT_FOLDER} once a newer one is complete.`,
      'AwsSolutions-IAM5[Action::s3:DeleteObject*]': `grantDelete: a job's older checkpoints under ${ANY.jobCheckpoint} and ${ANY.pointCheckpoint} only, once a newer one is complete.`,
      ...grantPutFindings(
        this.bucket,
        ANY.jobEvents,
        `The trainer appends ${PREFIXES.jobs}<id>/${JOB_EVENTS_FOLDER}<seq>.json event pages (create-only) for the job it runs.`,
      ),
      ...grantPutFindings(
        this.bucket,
        ANY.jobPoints,
        `A sweep's array child writes ${PREFIXES.jobs}<id>/${JOB_POINTS_FOLDER}<index>/* (its point's status, checkpoint and staged adapter) for the job it runs.`,
      ),
      ...grantPutFindings(
        this.bucket,
        ANY.adapters,
        `The trainer publishes ${PREFIXES.adapters}<task>/<version>/* (new version ids, never overwritten: If-None-Match).`,
      ),
    });
  }
}
