/**
 * The VPC the GPU instances run in.
 *
 * Public subnets only, no NAT gateway: a training host only makes outbound calls (ECR, S3, CloudWatch
 * Logs, Batch/ECS), and its security group admits nothing inbound, so a public IP exposes no port.
 * A NAT gateway would cost ~$32/month per AZ plus per-GB processing on multi-GB image pulls for no
 * security gain here. The S3 gateway endpoint (free) keeps registry traffic off the internet path.
 * Two AZs from Fn::GetAZs: the stack is env-agnostic, so synth needs no AZ lookup or credentials.
 */

import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export class TrainingNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20, mapPublicIpOnLaunch: true }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      flowLogs: {
        // Rejected traffic only: enough to see probes against the hosts, at a fraction of ALL's volume.
        rejected: {
          trafficType: ec2.FlowLogTrafficType.REJECT,
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
          ),
        },
      },
    });
    this.securityGroup = new ec2.SecurityGroup(this, 'Hosts', {
      vpc: this.vpc,
      description: 'GPU training hosts: outbound only',
      allowAllOutbound: true,
    });
  }
}
