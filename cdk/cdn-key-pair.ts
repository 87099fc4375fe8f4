/**
 * The CloudFront signing key pair, made at deploy time by a small custom resource.
 *
 * Why a custom resource: CloudFormation cannot generate RSA keys, and taking a public key from
 * context would leave operators to create, store and rotate the private key by hand. Here the
 * private key is written straight into a Secrets Manager secret (it never appears in the template,
 * the CDK output or the custom resource's response) and the public key PEM comes back as an
 * attribute for CloudFront's CfnPublicKey. Bumping `rotation` generates a new pair on the next deploy.
 */
import { readFileSync } from 'node:fs';
import { CustomResource, Duration, Names, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './nag.ts';

export const CDN_KEY_PAIR_HANDLER = readFileSync(new URL('./cdn-key-pair/handler.cjs', import.meta.url), 'utf8');

export interface CdnKeyPairProps {
  /** Any change generates a new key pair. */
  rotation: string;
}

export class CdnKeyPair extends Construct {
  /** The PEM private key (SecretString), for the function that signs URLs. */
  readonly privateKey: secretsmanager.Secret;
  readonly publicKey: cloudfront.CfnPublicKey;
  readonly keyGroup: cloudfront.KeyGroup;

  constructor(scope: Construct, id: string, props: CdnKeyPairProps) {
    super(scope, id);

    // One secret per rotation: a rotation then switches the Lambda's secret ARN and key pair id together,
    // and a rolled-back deploy restores both (the old secret is never overwritten with a new key).
    this.privateKey = new secretsmanager.Secret(this, `PrivateKey-${props.rotation}`, {
      description: 'Adapter store CDN signing key (PEM, RSA 2048); written by the key pair custom resource',
    });
    acknowledge(this.privateKey, {
      'AwsSolutions-SMG4':
        'Rotated by redeploying with a new cdnKeyRotation context value, which must also replace the CloudFront public key; a Secrets Manager rotation alone would break signing.',
    });

    const fn = new lambda.Function(this, 'Generator', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromInline(CDN_KEY_PAIR_HANDLER),
      timeout: Duration.minutes(1),
      logGroup: new logs.LogGroup(this, 'GeneratorLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
    });
    this.privateKey.grantRead(fn);
    this.privateKey.grantWrite(fn);
    acknowledge(fn, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
        "The AWS-maintained basic execution policy only allows writing the function's own CloudWatch logs.",
      'AwsSolutions-L1':
        "Node.js 22, like the API function; the inline handler uses only node:crypto, node:https and the runtime's AWS SDK v3.",
    });

    const resource = new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::CdnKeyPair',
      properties: { SecretId: this.privateKey.secretArn, Rotation: props.rotation },
    });

    this.publicKey = new cloudfront.CfnPublicKey(this, 'PublicKey', {
      publicKeyConfig: {
        // Names and caller references are unique per account: a new rotation needs new ones.
        name: `${Names.uniqueResourceName(this, { maxLength: 100 })}-${props.rotation}`,
        callerReference: `${Names.uniqueId(this)}-${props.rotation}`,
        encodedKey: resource.getAttString('PublicKeyPem'),
        comment: 'Adapter store signed downloads',
      },
    });
    this.keyGroup = new cloudfront.KeyGroup(this, 'KeyGroup', {
      items: [cloudfront.PublicKey.fromPublicKeyId(this, 'PublicKeyRef', this.publicKey.attrId)],
      comment: 'Adapter store signed downloads',
    });
  }

  /** The id CloudFront signed URLs name as Key-Pair-Id. */
  get keyPairId(): string {
    return this.publicKey.attrId;
  }
}
