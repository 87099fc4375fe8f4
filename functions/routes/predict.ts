/**
 * POST /adapters/:task/predict: an adapter's predictions for a few texts (or text pairs), served by the
 * predictor the deployment passes in (in-process on `npm start`, the inference function on AWS). Registered
 * only with a predictor (functions/app.ts: without one, the route answers 501). Only types come from serving/: the API bundle stays
 * free of the runtime (and of onnxruntime).
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { PredictError, PredictErrorCode } from '../../serving/predictor.ts';
import type { PredictDeps } from '../app.ts';
import { ProblemError } from '../http/problem.ts';
import { ProblemSchema, TaskParam, VERSION_RE } from '../schemas.ts';
import { problemResponses } from './common.ts';

/** Inputs one request may carry: a bound on the work (and latency) one request may ask for. */
export const MAX_PREDICT_INPUTS = 32;
/** Characters of one text (and of one text_pair); BERT reads at most the adapter's maxSeqLen tokens anyway. */
export const MAX_PREDICT_TEXT_CHARS = 4000;

const Text = z.string().max(MAX_PREDICT_TEXT_CHARS, `at most ${MAX_PREDICT_TEXT_CHARS} characters`);
const PairInput = z.object({ text: Text, text_pair: Text.optional() }).strict().openapi('PredictPair');

export const PredictRequestSchema = z
  .object({
    inputs: z
      .array(z.unknown())
      .min(1, 'at least one input')
      .max(MAX_PREDICT_INPUTS, `at most ${MAX_PREDICT_INPUTS} inputs`)
      .openapi({
        type: 'array',
        items: { oneOf: [{ type: 'string', maxLength: MAX_PREDICT_TEXT_CHARS }, { $ref: '#/components/schemas/PredictPair' }] },
        description: `1-${MAX_PREDICT_INPUTS} texts, or {"text", "text_pair"} pairs, each text at most ${MAX_PREDICT_TEXT_CHARS} characters.`,
        example: ['a gripping, beautifully shot film', 'two hours I will never get back'],
      }),
  })
  .strict()
  .openapi('PredictRequest');

const PredictionSchema = z
  .object({
    label: z.string().openapi({ description: 'The most probable label.' }),
    probs: z
      .record(z.string(), z.number())
      .openapi({ description: 'Softmax probability of every label.', example: { neg: 0.08, pos: 0.92 } }),
  })
  .openapi('Prediction');

export const PredictResponseSchema = z
  .object({ task: z.string(), version: z.string(), predictions: z.array(PredictionSchema) })
  .openapi('PredictResponse');

const PredictQuery = z.object({
  version: z
    .string()
    .regex(VERSION_RE, 'must be a version id')
    .optional()
    .openapi({ param: { name: 'version', in: 'query' }, description: 'Default: the newest version.' }),
});

const predictRoute = createRoute({
  method: 'post',
  path: '/adapters/{task}/predict',
  tags: ['adapters'],
  summary: "Run an adapter on texts: each input's label and probabilities",
  description:
    "Tokenized with the base's own tokenizer and truncated to the adapter's maxSeqLen. Requests for any adapter of one base run on one loaded base; concurrent requests are batched together.",
  request: {
    params: TaskParam,
    query: PredictQuery,
    body: { required: true, content: { 'application/json': { schema: PredictRequestSchema } } },
  },
  responses: {
    200: { description: 'One prediction per input, in order.', content: { 'application/json': { schema: PredictResponseSchema } } },
    ...problemResponses(400, 401, 404, 409, 413, 415, 422, 429),
    501: {
      description: 'This deployment serves no predictions (on AWS, the inference function does).',
      content: { 'application/problem+json': { schema: ProblemSchema } },
    },
  },
});

/** Each input's shape, named precisely (`inputs[2].text_pair`). */
function checkInputs(inputs: unknown[]): { name: string; reason: string }[] {
  const bad: { name: string; reason: string }[] = [];
  inputs.forEach((x, i) => {
    if (typeof x === 'string') {
      if (!Text.safeParse(x).success) bad.push({ name: `inputs[${i}]`, reason: `at most ${MAX_PREDICT_TEXT_CHARS} characters` });
      return;
    }
    const r = PairInput.safeParse(x);
    if (r.success) return;
    if (typeof x !== 'object' || x === null || Array.isArray(x)) {
      bad.push({ name: `inputs[${i}]`, reason: 'must be a string or {"text", "text_pair"}' });
      return;
    }
    for (const issue of r.error.issues) {
      const key = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
      bad.push({ name: `inputs[${i}].${key}`, reason: issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message });
    }
  });
  return bad;
}

/** A PredictError, recognised by shape (this module imports none of the runtime's values). */
function isPredictError(err: unknown): err is PredictError {
  return err instanceof Error && err.name === 'PredictError' && typeof (err as { code?: unknown }).code === 'string';
}

const STATUS: Record<PredictErrorCode, { status: 400 | 404 | 408 | 409 | 422 | 429 | 500; code: string }> = {
  'not-found': { status: 404, code: 'not-found' },
  'base-missing': { status: 409, code: 'base-missing' },
  'base-mismatch': { status: 409, code: 'base-mismatch' },
  unsupported: { status: 422, code: 'unsupported-adapter' },
  invalid: { status: 400, code: 'validation-error' },
  corrupt: { status: 500, code: 'adapter-corrupt' },
  busy: { status: 429, code: 'too-many-rows' },
  // The client went away before its rows ran: nobody reads this answer; 408 keeps it out of the 5xx logs.
  cancelled: { status: 408, code: 'request-abandoned' },
};

export function registerPredictRoutes(app: OpenAPIHono, deps: PredictDeps): void {
  app.openapi(predictRoute, async (c) => {
    deps.clock?.mark(c, 'body');
    const { task } = c.req.valid('param');
    const { version } = c.req.valid('query');
    const { inputs } = c.req.valid('json');
    const bad = checkInputs(inputs);
    if (bad.length > 0) throw new ProblemError(400, 'validation-error', `invalid request body: ${bad.map((b) => b.name).join(', ')}`, bad);
    deps.clock?.mark(c, 'check');
    try {
      const res = await deps.predictor.predict({
        task,
        version,
        inputs: inputs as (string | { text: string; text_pair?: string })[],
        signal: c.req.raw.signal, // aborted when the client closes the connection: its rows are dropped
      });
      deps.clock?.mark(c, 'predict');
      const answer = c.json(res, 200);
      deps.clock?.mark(c, 'respond');
      return answer;
    } catch (err) {
      if (!isPredictError(err) || !(err.code in STATUS)) throw err;
      const { status, code } = STATUS[err.code];
      if (status === 500) deps.log({ time: deps.now().toISOString(), level: 'error', msg: 'adapter refused', task, error: err.message });
      const headers: Record<string, string> = err.retryAfterSeconds ? { 'retry-after': String(err.retryAfterSeconds) } : {};
      throw new ProblemError(status, code, err.message, err.field ? [{ name: err.field, reason: err.message }] : [], headers);
    }
  });
}
