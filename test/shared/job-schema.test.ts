/** The job spec's dataset URIs: one precise issue per bad URI, and only s3:// keys without empty, "." or ".." segments. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3Uri } from '../../shared/job-schema.ts';

const issues = (uri: string) => {
  const r = S3Uri.safeParse(uri);
  return r.success ? [] : r.error.issues.map((i) => i.message);
};

test('a dataset URI that is not s3:// gets one issue, saying what it must be', () => {
  for (const uri of ['http://example.com/x', 'file:///etc/passwd', 's3://', 'x'])
    assert.deepEqual(issues(uri), ['must be an s3://bucket/key URI'], uri);
});

test('an s3:// key with empty, "." or ".." segments is refused; a plain key is fine', () => {
  for (const uri of ['s3://bucket/x/../datasets/a.jsonl', 's3://bucket/x//a.jsonl', 's3://bucket/./a.jsonl']) {
    assert.deepEqual(issues(uri), ['the key must not have empty, "." or ".." segments'], uri);
  }
  assert.deepEqual(issues('s3://bucket/datasets/0123456789abcdef/a.jsonl'), []);
});

test('hyperparameters.labels: at most 1,000 labels of 256 characters, the issue at the label at fault; the environment sets both', async () => {
  const { HyperparametersSchema } = await import('../../shared/job-schema.ts');
  const problems = (labels: string[]) => {
    const r = HyperparametersSchema.safeParse({ labels });
    return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  };
  assert.deepEqual(problems(Array.from({ length: 1000 }, (_, i) => `c${i}`.padEnd(256, '.'))), []);
  assert.deepEqual(problems(Array.from({ length: 1001 }, (_, i) => `c${i}`)), [
    { path: 'labels', message: 'more than 1000 distinct labels, the limit (ADAPTER_STORE_MAX_LABELS)' },
  ]);
  assert.deepEqual(problems(['a', 'b', 'c', 'x'.repeat(500_000)]), [
    {
      path: 'labels.3',
      message: `label of 500000 characters ("${'x'.repeat(32)}..."), over the limit of 256 (ADAPTER_STORE_MAX_LABEL_CHARS)`,
    },
  ]);
  process.env.ADAPTER_STORE_MAX_LABELS = '2';
  try {
    assert.equal(problems(['a', 'b', 'c'])[0]?.message, 'more than 2 distinct labels, the limit (ADAPTER_STORE_MAX_LABELS)');
  } finally {
    delete process.env.ADAPTER_STORE_MAX_LABELS;
  }
});
