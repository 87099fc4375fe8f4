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
