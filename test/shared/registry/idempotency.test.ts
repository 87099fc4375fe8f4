/** Idempotency-Key claims over both stores: one claim wins, a stale one is taken over by exactly one request, a release frees it. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { forEachStore } from '../../support/registry-stores.ts';

forEachStore((get) => {
  test('a key is claimed once; the claim answers later requests; compare-and-swap replaces a stale one once', async () => {
    const { registry, p } = get();
    const first = { jobId: 'ft-1', requestSha256: 'a' };
    assert.equal(await registry.idempotency.claim('key-1', first), null, 'claimed now');
    assert.deepEqual(await registry.idempotency.claim('key-1', { jobId: 'ft-2', requestSha256: 'b' }), first);
    const hashed = createHash('sha256').update('key-1').digest('hex');
    assert.deepEqual(
      (await registry.list(`${p}idempotency/`)).keys.map((k) => k.key),
      [`${p}idempotency/${hashed}.json`],
    );
    // Two requests take over the same stale claim: exactly one wins.
    const takeovers = await Promise.all([
      registry.idempotency.replace('key-1', first, { jobId: 'ft-3', requestSha256: 'c' }),
      registry.idempotency.replace('key-1', first, { jobId: 'ft-4', requestSha256: 'd' }),
    ]);
    assert.deepEqual(
      takeovers.filter((won) => won),
      [true],
    );
    assert.equal(
      await registry.idempotency.replace('key-1', first, { jobId: 'ft-5', requestSha256: 'e' }),
      false,
      'no longer the expected claim',
    );
    assert.equal(await registry.idempotency.replace('key-unclaimed', first, first), false);
    await registry.idempotency.release('key-1');
    assert.equal(await registry.idempotency.claim('key-1', first), null, 'free again');
  });
});
