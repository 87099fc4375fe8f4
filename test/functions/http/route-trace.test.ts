/**
 * The app's route spans (functions/http/route-trace.ts): a predict request reports every span once, in
 * order, and they add up to no more than its time in the app; a refused key reports only the spans it
 * reached; without a tracer nothing is measured and the answers are the same.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApp } from '../../../functions/app.ts';
import { ROUTE_SPANS, type RouteSpan } from '../../../functions/http/route-trace.ts';
import type { Predictor } from '../../../serving/predictor.ts';

const KEY = 'trace-key';
const predictor: Predictor = {
  predict: async (req) => ({
    task: req.task,
    version: 'v1',
    predictions: req.inputs.map(() => ({ label: 'pos', probs: { neg: 0.25, pos: 0.75 } })),
  }),
  close: async () => {},
};

function tracedApp() {
  const seen: { span: RouteSpan; ms: number }[] = [];
  const app = createApp({ apiKeys: [KEY], log: () => {}, predictor, routeTrace: (span, ms) => seen.push({ span, ms }) });
  return { app, seen };
}

const predict = (app: ReturnType<typeof createApp>, key: string) => {
  const body = JSON.stringify({ inputs: ['a fine film'] });
  return app.request('/adapters/sentiment/predict', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': String(body.length) },
    body,
  });
};

test('a predict request reports every route span once, in order', async () => {
  const { app, seen } = tracedApp();
  const t0 = performance.now();
  const res = await predict(app, KEY);
  const elapsed = performance.now() - t0;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    task: 'sentiment',
    version: 'v1',
    predictions: [{ label: 'pos', probs: { neg: 0.25, pos: 0.75 } }],
  });
  assert.deepEqual(
    seen.map((s) => s.span),
    [...ROUTE_SPANS],
  );
  for (const s of seen) assert.ok(s.ms >= 0, `${s.span}: ${s.ms}`);
  const sum = seen.reduce((n, s) => n + s.ms, 0);
  assert.ok(sum <= elapsed, `spans add up to ${sum} ms, more than the request's ${elapsed} ms`);
});

test('a refused key reports the log spans only, and the answer is the untraced one', async () => {
  const { app, seen } = tracedApp();
  const res = await predict(app, 'wrong');
  assert.equal(res.status, 401);
  assert.deepEqual(
    seen.map((s) => s.span),
    ['log', 'unwind', 'logLine'],
  );
  const plain = createApp({ apiKeys: [KEY], log: () => {}, predictor });
  const untraced = await predict(plain, 'wrong');
  assert.equal(untraced.status, 401);
  assert.deepEqual(await res.json(), await untraced.json());
});
