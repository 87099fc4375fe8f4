/** cdk-nag's AwsSolutions pack finds nothing unacknowledged, and every acknowledgement says why. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledge } from '../../cdk/nag.ts';
import { synth } from './synth.ts';

test('no unacknowledged AwsSolutions errors or warnings', () => {
  const { app } = synth({ datasetBuckets: ['public-datasets'] });
  const report = new AwsSolutionsChecks(app).validateScope(app);
  const found = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
  assert.deepEqual(found, []);
  assert.equal(report.success, true);
});

test('on-demand only (-c spot=false) is clean too', () => {
  const { app } = synth({ spot: false });
  assert.deepEqual(
    new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => v.ruleName),
    [],
  );
});

test('the check does find what is not acknowledged', () => {
  const app = new App();
  const stack = new Stack(app, 'Probe');
  const bucket = new s3.Bucket(stack, 'Unlogged');
  const before = new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => v.ruleName);
  assert.ok(before.includes('AwsSolutions-S1') && before.includes('AwsSolutions-S10'), before.join(','));
  acknowledge(bucket, { 'AwsSolutions-S1': 'a probe bucket in a test, never deployed' });
  const after = new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => v.ruleName);
  assert.ok(!after.includes('AwsSolutions-S1') && after.includes('AwsSolutions-S10'));
});

test('every acknowledgement has a reason of its own', () => {
  const { app } = synth();
  const reasons: string[] = [];
  for (const c of app.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [rule, reason] of Object.entries(m.data as Record<string, string>)) {
        assert.ok(typeof reason === 'string' && reason.length >= 20, `${rule} on ${c.node.path}`);
        reasons.push(reason);
      }
    }
  }
  assert.ok(reasons.length > 10);
  assert.throws(() => acknowledge(new Stack(new App(), 'X'), { 'AwsSolutions-S1': 'ok' }), /must say why/);
});
