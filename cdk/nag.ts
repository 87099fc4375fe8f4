/**
 * cdk-nag (v3) findings this app accepts, each with its reason. cdk-nag 3 runs as a CDK policy
 * validation plugin (Validations.of(app).addPlugins) instead of an Aspect, and a finding is
 * acknowledged with CDK's own Validations.of(construct).acknowledge; `NagSuppressions` no longer exists.
 */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

/** Acknowledges findings on a construct and everything below it: rule id (or `Rule[finding]`) -> reason. */
export function acknowledge(scope: IConstruct, findings: Record<string, string>): void {
  for (const [id, reason] of Object.entries(findings)) {
    if (!id.startsWith('AwsSolutions-')) throw new Error(`acknowledge(): "${id}" is not an AwsSolutions rule id`);
    if (reason.trim().length < 20) throw new Error(`acknowledge(): the reason for ${id} must say why (got "${reason}")`);
    Validations.of(scope).acknowledge({ id, reason });
  }
}

/** How cdk-nag spells a bucket's ARN inside a finding id: `<LogicalId.Arn>`. */
export function nagBucketArn(bucket: s3.IBucket): string {
  return `<${Stack.of(bucket).getLogicalId(bucket.node.defaultChild as CfnElement)}.Arn>`;
}

/** The IAM5 findings of `bucket.grantRead` (resource findings for the given object patterns come with it). */
export function grantReadFindings(bucket: s3.IBucket, who: string): Record<string, string> {
  return {
    'AwsSolutions-IAM5[Action::s3:GetObject*]': `grantRead: ${who} reads objects (and their versions/tags) of the registry bucket only.`,
    'AwsSolutions-IAM5[Action::s3:GetBucket*]': `grantRead: ${who} reads bucket-level settings (location, versioning) of the registry bucket only.`,
    'AwsSolutions-IAM5[Action::s3:List*]': `grantRead: ${who} lists prefixes (tasks, versions, jobs, models) of the registry bucket only.`,
    [`AwsSolutions-IAM5[Resource::${nagBucketArn(bucket)}/*]`]: `${who} reads any registry object (manifests, job records, models); its writes are limited to named prefixes.`,
  };
}

/** The IAM5 findings of `bucket.grantPut(grantee, '<prefix>/*')`. */
export function grantPutFindings(bucket: s3.IBucket, keyPattern: string, why: string): Record<string, string> {
  return {
    'AwsSolutions-IAM5[Action::s3:Abort*]': 'grantPut: aborting its own multipart uploads, under the prefixes it may write only.',
    [`AwsSolutions-IAM5[Resource::${nagBucketArn(bucket)}/${keyPattern}]`]: why,
  };
}
