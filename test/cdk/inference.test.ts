/** The inference function in the synthesized template: its route, its grants, its sizing. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import {
  copyPrunedOnnxRuntime,
  INFERENCE_MEMORY_MB,
  INFERENCE_TMP_MB,
  ORT_RUNTIME_FILES,
  PREDICT_ROUTE_PATH,
  PREDICT_THROTTLE,
} from '../../cdk/inference.ts';
import { allowedResources, flatten, roleStatements } from './iam.ts';
import { resourcesOf, synth } from './synth.ts';

const { stack, template } = synth({ datasetBuckets: ['public-datasets'] });
const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const bucketId = id(stack.registry.bucket);
const bucketArn = `\${${bucketId}.Arn}`;
const fnId = id(stack.inference.handler);
const apiFnId = id(stack.api.handler);
const [, fn] = resourcesOf(template, 'AWS::Lambda::Function').find(([lid]) => lid === fnId)!;

/** The integration a route targets, and the function that integration invokes. */
function routeTarget(routeKey: string): string {
  const [, route] = resourcesOf(template, 'AWS::ApiGatewayV2::Route').find(([, r]) => r.RouteKey === routeKey)!;
  const target = flatten(route.Target);
  const [, integration] = resourcesOf(template, 'AWS::ApiGatewayV2::Integration').find(([lid]) => target === `integrations/\${${lid}}`)!;
  assert.equal(integration.IntegrationType, 'AWS_PROXY');
  assert.equal(integration.PayloadFormatVersion, '2.0');
  return flatten(integration.IntegrationUri);
}

describe('routes', () => {
  test('POST /adapters/{task}/predict goes to the inference function, everything else to the API function', () => {
    assert.equal(PREDICT_ROUTE_PATH, '/adapters/{task}/predict');
    assert.equal(routeTarget(`POST ${PREDICT_ROUTE_PATH}`), `\${${fnId}.Arn}`);
    assert.equal(routeTarget('$default'), `\${${apiFnId}.Arn}`);
    assert.deepEqual(
      resourcesOf(template, 'AWS::ApiGatewayV2::Route')
        .map(([, r]) => r.RouteKey)
        .sort(),
      ['$default', 'POST /adapters/{task}/predict'],
    );
  });

  test('API Gateway may invoke the inference function', () => {
    const perms = resourcesOf(template, 'AWS::Lambda::Permission').filter(([, p]) => flatten(p.FunctionName) === `\${${fnId}.Arn}`);
    assert.ok(perms.length >= 1);
    for (const [, p] of perms) {
      assert.equal(p.Principal, 'apigateway.amazonaws.com');
      assert.equal(p.Action, 'lambda:InvokeFunction');
    }
  });

  test('the predict route has its own throttle, and the stage waits for the route it names', () => {
    const [[stageId, stage]] = resourcesOf(template, 'AWS::ApiGatewayV2::Stage');
    assert.deepEqual(stage.RouteSettings, {
      [`POST ${PREDICT_ROUTE_PATH}`]: { ThrottlingRateLimit: PREDICT_THROTTLE.rate, ThrottlingBurstLimit: PREDICT_THROTTLE.burst },
    });
    const [routeId] = resourcesOf(template, 'AWS::ApiGatewayV2::Route').find(([, r]) => r.RouteKey !== '$default')!;
    const dependsOn = (template.toJSON().Resources[stageId] as { DependsOn?: string[] }).DependsOn ?? [];
    assert.ok(dependsOn.includes(routeId), `stage DependsOn ${dependsOn.join(',')}`);
  });
});

describe('the function', () => {
  test("Node 22 on arm64, sized for a BERT-base base in memory and on /tmp, within API Gateway's 30 s", () => {
    assert.equal(fn.Runtime, 'nodejs22.x');
    assert.deepEqual(fn.Architectures, ['arm64']);
    assert.equal(fn.Handler, 'index.handler');
    assert.equal(fn.MemorySize, INFERENCE_MEMORY_MB);
    assert.ok(INFERENCE_MEMORY_MB <= 3008, 'within the memory every account may use');
    assert.deepEqual(fn.EphemeralStorage, { Size: INFERENCE_TMP_MB });
    assert.ok(INFERENCE_TMP_MB >= 1024, 'BERT-base weights are 440 MB');
    assert.equal(fn.Timeout, 29);
    assert.equal(fn.ReservedConcurrentExecutions, undefined, 'bounded by the route throttle instead');
  });

  test('the environment its entry point reads: registry, the API key secret, runtime settings', () => {
    const vars = Object.fromEntries(
      Object.entries((fn.Environment as { Variables: Record<string, unknown> }).Variables).map(([k, v]) => [k, flatten(v)]),
    );
    assert.deepEqual(Object.keys(vars).sort(), [
      'ADAPTER_STORE_ADAPTER_CACHE_BYTES',
      'ADAPTER_STORE_API_KEY_SECRET',
      'ADAPTER_STORE_DEFAULT_BASE_MODEL',
      'ADAPTER_STORE_INFERENCE_THREADS',
      'ADAPTER_STORE_REGISTRY',
      'NODE_OPTIONS',
    ]);
    assert.equal(vars.ADAPTER_STORE_REGISTRY, `s3://\${${bucketId}}`);
    assert.equal(vars.ADAPTER_STORE_API_KEY_SECRET, `\${${id(stack.api.apiKeySecret)}}`, 'the same keys as the API function');
    assert.ok(Number(vars.ADAPTER_STORE_INFERENCE_THREADS) >= 1);
  });

  test('logs to its own group, kept a month', () => {
    const logGroup = (fn.LoggingConfig as { LogGroup: unknown }).LogGroup;
    const [, lg] = resourcesOf(template, 'AWS::Logs::LogGroup').find(([lid]) => flatten(logGroup) === `\${${lid}}`)!;
    assert.equal(lg.RetentionInDays, 30);
    assert.notDeepEqual(
      logGroup,
      (resourcesOf(template, 'AWS::Lambda::Function').find(([l]) => l === apiFnId)![1].LoggingConfig as { LogGroup: unknown }).LogGroup,
    );
  });
});

describe('least privilege', () => {
  const role = roleStatements(template, id(stack.inference.handler.role!));

  test('reads models/* and adapters/* only, lists the registry bucket, writes and deletes nothing', () => {
    assert.deepEqual(allowedResources(role, 's3:GetObject').sort(), [`${bucketArn}/adapters/*`, `${bucketArn}/models/*`]);
    assert.deepEqual(allowedResources(role, 's3:ListBucket'), [bucketArn]);
    for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:GetObjectVersion', 's3:AbortMultipartUpload'])
      assert.deepEqual(allowedResources(role, action), [], action);
    assert.ok(!role.some((s) => s.Action.some((a) => a === 's3:*' || a.startsWith('batch:'))));
  });

  test('reads the API key secret and nothing else', () => {
    assert.deepEqual(allowedResources(role, 'secretsmanager:GetSecretValue'), [`\${${id(stack.api.apiKeySecret)}}`]);
  });
});

describe('packaging', () => {
  test('onnxruntime-node is copied pruned to linux/<arch>: its JS, onnxruntime-common, one binary folder', () => {
    assert.deepEqual(
      ORT_RUNTIME_FILES('arm64').filter((f) => f.includes('/bin/')),
      ['onnxruntime-node/bin/napi-v6/linux/arm64'],
    );
    const cmds = copyPrunedOnnxRuntime("/out/it's", 'arm64', '/nm');
    assert.equal(cmds.length, ORT_RUNTIME_FILES('arm64').length);
    assert.ok(cmds.every((c) => !/darwin|win32|x64/.test(c)));
    assert.equal(
      cmds[2],
      "mkdir -p '/out/it'\\''s/node_modules/onnxruntime-node/bin/napi-v6/linux' && cp -RL '/nm/onnxruntime-node/bin/napi-v6/linux/arm64' '/out/it'\\''s/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64'",
    );
  });
});
