/**
 * shared/env.ts: unset and empty take the default; a set value parses completely and within its bounds, or
 * the error names the variable, what it must be and the value it had.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boolean, EnvError, integer, number, optionalString, requiredString, splitList, stringList } from '../../shared/env.ts';

/** Asserts `f` throws an EnvError naming `name` with exactly `message`. */
function refuses(f: () => unknown, name: string, message: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof EnvError, `an EnvError, got ${String(e)}`);
    assert.equal(e.variable, name);
    assert.equal(e.message, message);
    return true;
  });
}

test('requiredString: the value, or "is not set" for unset and empty alike', () => {
  assert.equal(requiredString({ A: 's3://bucket' }, 'A'), 's3://bucket');
  refuses(
    () => requiredString({}, 'ADAPTER_STORE_REGISTRY'),
    'ADAPTER_STORE_REGISTRY',
    'environment variable ADAPTER_STORE_REGISTRY is not set',
  );
  refuses(() => requiredString({ X: '' }, 'X'), 'X', 'environment variable X is not set');
});

test('optionalString and stringList: defaults when unset or empty; lists trimmed, empty items dropped', () => {
  assert.equal(optionalString({}, 'HOST'), undefined);
  assert.equal(optionalString({ HOST: '' }, 'HOST', '127.0.0.1'), '127.0.0.1');
  assert.equal(optionalString({ HOST: '0.0.0.0' }, 'HOST', '127.0.0.1'), '0.0.0.0');
  assert.deepEqual(stringList({}, 'B', ['registry']), ['registry']);
  assert.deepEqual(stringList({ B: ' a, b,,c ' }, 'B', ['registry']), ['a', 'b', 'c']);
  assert.deepEqual(splitList(', ,'), []);
});

test('integer: whole decimal numbers within the bounds; the default when unset', () => {
  assert.equal(integer({}, 'N', { min: 1 }), undefined);
  assert.equal(integer({ N: '' }, 'N', { min: 1 }, 7), 7);
  assert.equal(integer({ N: '64' }, 'N', { min: 1, max: 64 }), 64);
  assert.equal(integer({ N: '0' }, 'N', { min: 0, max: 65535 }), 0);
  assert.equal(integer({ N: '+5' }, 'N', { min: 1 }), 5);
  for (const bad of ['0', '-3', '1.5', '12abc', '1e3', '0x10', ' 5', 'Infinity', '9007199254740993'])
    refuses(
      () => integer({ ADAPTER_STORE_MAX_LABELS: bad }, 'ADAPTER_STORE_MAX_LABELS', { min: 1 }),
      'ADAPTER_STORE_MAX_LABELS',
      `ADAPTER_STORE_MAX_LABELS must be a positive integer, got "${bad}"`,
    );
  refuses(
    () => integer({ ADAPTER_STORE_JOBS: '65' }, 'ADAPTER_STORE_JOBS', { min: 1, max: 64 }, 1),
    'ADAPTER_STORE_JOBS',
    'ADAPTER_STORE_JOBS must be an integer in [1, 64], got "65"',
  );
  refuses(() => integer({ T: '-1' }, 'T', { min: 0 }), 'T', 'T must be an integer >= 0, got "-1"');
});

test('number: decimal or exponent notation, finite, within the bounds', () => {
  assert.equal(number({ C: '1e17' }, 'C', { min: 0, exclusiveMin: true }), 1e17);
  assert.equal(number({ C: '2.5' }, 'C', { min: 0 }), 2.5);
  assert.equal(number({ C: '0' }, 'C', { min: 0 }), 0);
  assert.equal(number({}, 'C', { min: 0 }, 120), 120);
  for (const bad of ['0', '-1', 'abc', 'Infinity', '1e400', '0x10', '5s'])
    refuses(
      () => number({ ADAPTER_STORE_MAX_JOB_COST: bad }, 'ADAPTER_STORE_MAX_JOB_COST', { min: 0, exclusiveMin: true }),
      'ADAPTER_STORE_MAX_JOB_COST',
      `ADAPTER_STORE_MAX_JOB_COST must be a positive number, got "${bad}"`,
    );
  refuses(() => number({ TTL: '-0.5' }, 'TTL', { min: 0 }), 'TTL', 'TTL must be a number >= 0, got "-0.5"');
  refuses(() => number({ R: '1.5' }, 'R', { min: 0, max: 1 }), 'R', 'R must be a number in [0, 1], got "1.5"');
});

test('boolean: true/1 and false/0 in any case; anything else is refused by name', () => {
  assert.equal(boolean({}, 'F', false), false);
  assert.equal(boolean({ F: '' }, 'F', true), true);
  for (const yes of ['true', 'TRUE', '1']) assert.equal(boolean({ F: yes }, 'F', false), true);
  for (const no of ['false', 'False', '0']) assert.equal(boolean({ F: no }, 'F', true), false);
  for (const bad of ['yes', 'on', '2'])
    refuses(
      () => boolean({ AWS_S3_FORCE_PATH_STYLE: bad }, 'AWS_S3_FORCE_PATH_STYLE', false),
      'AWS_S3_FORCE_PATH_STYLE',
      `AWS_S3_FORCE_PATH_STYLE must be true or false (or 1 or 0), got "${bad}"`,
    );
});
