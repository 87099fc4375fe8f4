/**
 * The training compute in the synthesized template: what keeps a job from waiting forever (memory the
 * hosts can register, a route out for image pulls, the queues' RUNNABLE time limit), the sweep reduce's
 * CPU queue, and Node 22 wherever a runtime is set.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { type CfnElement, Size } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { CANCELLABLE_STUCK_REASONS, GPU_HOST_MEMORY, REDUCE_MEMORY, REDUCE_VCPUS, registrableMemoryMiB } from '../../cdk/training.ts';
import { resourcesOf, synth } from './synth.ts';

const { stack, template } = synth();
const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
type Requirements = { ResourceRequirements: { Type: string; Value: string }[] };
const jobDefinition = (c: IConstruct) => resourcesOf(template, 'AWS::Batch::JobDefinition').find(([lid]) => lid === id(c))![1];
const requirement = (jd: Record<string, unknown>, type: string) =>
  (jd.ContainerProperties as Requirements).ResourceRequirements.find((r) => r.Type === type)?.Value;
const environments = resourcesOf(template, 'AWS::Batch::ComputeEnvironment');
const byType = (type: string) => environments.filter(([, p]) => (p.ComputeResources as { Type: string }).Type === type);

describe('a GPU job can be placed', () => {
  test('its memory is within what the smallest g5/g6 host (xlarge, 16 GiB) registers, its vCPUs within its 4', () => {
    const trainer = jobDefinition(stack.training.jobDefinition);
    const memory = Number(requirement(trainer, 'MEMORY'));
    assert.ok(
      memory <= registrableMemoryMiB(GPU_HOST_MEMORY),
      `${memory} MiB asked, ${registrableMemoryMiB(GPU_HOST_MEMORY)} MiB registrable`,
    );
    assert.ok(Number(requirement(trainer, 'VCPU')) <= 4);
    assert.equal(requirement(trainer, 'GPU'), '1');
    // The bound itself: a job asking for all 16 GiB would never be placed.
    assert.ok(registrableMemoryMiB(GPU_HOST_MEMORY) < GPU_HOST_MEMORY.toMebibytes());
    assert.equal(registrableMemoryMiB(Size.gibibytes(16)), Math.floor(16384 * 0.95) - 32);
  });

  test('the GPU hosts get a public IP in subnets routed to an internet gateway (there is no NAT gateway)', () => {
    const subnets = Object.fromEntries(resourcesOf(template, 'AWS::EC2::Subnet'));
    const routes = resourcesOf(template, 'AWS::EC2::Route').map(([, r]) => r);
    const associations = resourcesOf(template, 'AWS::EC2::SubnetRouteTableAssociation').map(([, a]) => a);
    const gateways = resourcesOf(template, 'AWS::EC2::InternetGateway').map(([lid]) => lid);
    assert.equal(gateways.length, 1);
    for (const [lid, ce] of [...byType('SPOT'), ...byType('EC2'), ...byType('FARGATE')]) {
      const refs = (ce.ComputeResources as { Subnets: { Ref: string }[] }).Subnets.map((s) => s.Ref);
      assert.ok(refs.length >= 1, lid);
      for (const subnet of refs) {
        assert.equal(subnets[subnet].MapPublicIpOnLaunch, true, `${lid}: ${subnet} maps a public IP on launch`);
        const table = associations.find((a) => (a.SubnetId as { Ref: string }).Ref === subnet)?.RouteTableId as { Ref: string };
        const out = routes.find((r) => (r.RouteTableId as { Ref: string }).Ref === table.Ref && r.DestinationCidrBlock === '0.0.0.0/0');
        assert.deepEqual(out?.GatewayId, { Ref: gateways[0] }, `${lid}: ${subnet} reaches ECR through the internet gateway`);
      }
    }
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
  });
});

describe("a job stuck in RUNNABLE is cancelled past the queue's time limit", () => {
  const actions = (template_: typeof template, queueId: string) =>
    resourcesOf(template_, 'AWS::Batch::JobQueue').find(([lid]) => lid === queueId)![1].JobStateTimeLimitActions;

  test('both queues: cancel after 4 h (the default) for every reason Batch can act on', () => {
    const expected = [
      'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY',
      'MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE',
      'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
    ].map((Reason) => ({ Action: 'CANCEL', MaxTimeSeconds: 4 * 3600, Reason, State: 'RUNNABLE' }));
    assert.deepEqual([...CANCELLABLE_STUCK_REASONS].sort(), expected.map((e) => e.Reason).sort());
    assert.deepEqual(actions(template, id(stack.training.jobQueue)), expected);
    assert.deepEqual(actions(template, id(stack.training.reduceQueue)), expected);
  });

  test('-c maxRunnableMinutes sets the bound', () => {
    const s = synth({ maxRunnableMinutes: 45 });
    const queueId = s.stack.getLogicalId(s.stack.training.jobQueue.node.defaultChild as CfnElement);
    const limits = (actions(s.template, queueId) as { MaxTimeSeconds: number }[]).map((a) => a.MaxTimeSeconds);
    assert.deepEqual(limits, [2700, 2700, 2700]);
  });
});

describe("a sweep's reduce step runs on a CPU queue", () => {
  test('its queue has only a Fargate environment, and the GPU queue none', () => {
    const [[fargateId, fargate]] = byType('FARGATE');
    assert.equal(byType('FARGATE').length, 1);
    assert.equal((fargate.ComputeResources as { MaxvCpus: number }).MaxvCpus % REDUCE_VCPUS, 0);
    const queues = Object.fromEntries(resourcesOf(template, 'AWS::Batch::JobQueue'));
    const order = (q: IConstruct) =>
      (queues[id(q)].ComputeEnvironmentOrder as { ComputeEnvironment: { 'Fn::GetAtt': [string, string] } }[]).map(
        (o) => o.ComputeEnvironment['Fn::GetAtt'][0],
      );
    assert.deepEqual(order(stack.training.reduceQueue), [fargateId]);
    assert.ok(!order(stack.training.jobQueue).includes(fargateId));
  });

  test("its job definition: Fargate, no GPU, the trainer image's cpu target, the trainer's role, TRAINER_DEVICE=cpu, a public IP to pull the image", () => {
    const reduce = jobDefinition(stack.training.reduceJobDefinition);
    const trainer = jobDefinition(stack.training.jobDefinition);
    assert.deepEqual(reduce.PlatformCapabilities, ['FARGATE']);
    assert.equal(requirement(reduce, 'GPU'), undefined);
    assert.equal(requirement(reduce, 'VCPU'), String(REDUCE_VCPUS));
    assert.equal(requirement(reduce, 'MEMORY'), String(REDUCE_MEMORY.toMebibytes()));
    const cp = reduce.ContainerProperties as Record<string, unknown>;
    const tp = trainer.ContainerProperties as Record<string, unknown>;
    // Another asset (the Dockerfile's cpu target, test/cdk/stack.test.ts), not the CUDA image.
    assert.notDeepEqual(cp.Image, tp.Image);
    assert.deepEqual((cp.RuntimePlatform as { CpuArchitecture?: string }).CpuArchitecture, 'X86_64', 'the image is built for linux/amd64');
    assert.deepEqual(cp.JobRoleArn, tp.JobRoleArn);
    assert.deepEqual(cp.NetworkConfiguration, { AssignPublicIp: 'ENABLED' });
    const env = Object.fromEntries((cp.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
    assert.equal(env.TRAINER_DEVICE, 'cpu');
    assert.deepEqual(env.ADAPTER_STORE_REGISTRY, (tp.Environment as { Name: string; Value: unknown }[])[0].Value);
  });
});

test('Node 22 wherever a runtime is set: every Lambda function, and the trainer image', () => {
  const runtimes = resourcesOf(template, 'AWS::Lambda::Function').map(([lid, f]) => [lid, f.Runtime]);
  assert.ok(runtimes.length >= 3);
  for (const [lid, runtime] of runtimes) assert.equal(runtime, 'nodejs22.x', String(lid));
  const dockerfile = readFileSync(new URL('../../trainer/Dockerfile', import.meta.url), 'utf8');
  assert.match(dockerfile, /^ARG NODE_IMAGE=node:22-bookworm-slim$/m);
  assert.doesNotMatch(dockerfile, /node:(1\d|20)\b/);
});
