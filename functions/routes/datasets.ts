/**
 * Datasets, like OpenAI's Files API: `POST /datasets?name=<file>` with the raw JSONL/CSV/TSV body is
 * checked (parses, every row has a text and a label), then stored content-addressed in the registry:
 * 201 with its s3:// URI for POST /finetune. Nothing is stored when the check fails. Files too large
 * for a request body (Lambda takes 6 MB) go up by presigned PUT: `POST /datasets` with JSON
 * `{name, bytes}` answers the URI and an upload URL; the job checks those rows when it reads them.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { DataError, DataLimitError, type DatasetColumns, type DatasetSummary } from '../../shared/training-data/index.ts';
import type { ResolvedDeps } from '../app.ts';
import { ProblemError } from '../http/problem.ts';
import { DatasetQuery, DatasetSchema, DatasetUploadRequestSchema, DatasetUploadSchema } from '../schemas.ts';
import { problemResponses } from './common.ts';

/**
 * Presigned upload URLs live this long: well within what the signer's credentials have left (on Lambda,
 * role credentials can expire sooner than an hour, and a URL dies with them).
 */
const UPLOAD_URL_SECONDS = 900;
/** Seconds a client is asked to wait when every dataset check slot is busy. */
const BUSY_RETRY_SECONDS = 5;

// (Not application/jsonl: @hono/zod-openapi takes any application/json* type for JSON.)
const RAW_TYPES = [
  'application/x-ndjson',
  'text/csv',
  'text/tab-separated-values',
  'text/plain',
  'application/gzip',
  'application/octet-stream',
] as const;
export const DATASET_TYPES_HINT = `dataset bodies are ${RAW_TYPES.join(', ')}; or application/json {name, bytes} for a presigned upload`;
const rawBody = { schema: z.string().openapi({ format: 'binary' }) };

const createDataset = createRoute({
  method: 'post',
  path: '/datasets',
  tags: ['datasets'],
  summary: 'Upload a dataset',
  description:
    'With a raw body (JSONL, CSV or TSV, optionally gzip) and `?name=`: checks every row and stores the file, answering 201 with its `datasetUri`. ' +
    'With a JSON body `{name, bytes}`: answers 200 with a presigned `uploadUrl` to PUT the file to (for files over the body limit).',
  request: {
    query: DatasetQuery,
    // Not `required`: @hono/zod-openapi would then parse every body as JSON. The handler checks it.
    body: {
      required: false,
      content: { 'application/json': { schema: DatasetUploadRequestSchema }, ...Object.fromEntries(RAW_TYPES.map((t) => [t, rawBody])) },
    },
  },
  responses: {
    201: { description: 'Checked and stored.', content: { 'application/json': { schema: DatasetSchema } } },
    200: { description: 'Upload the file to `uploadUrl`.', content: { 'application/json': { schema: DatasetUploadSchema } } },
    ...problemResponses(400, 401, 413, 415, 422, 429),
  },
});

function isJson(contentType: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(contentType ?? '');
}

/**
 * POST /datasets with a raw body takes one of the checker's slots before its body is read (the body
 * limit buffers it): beyond `concurrency` at once, 429 with Retry-After. Released when the request ends.
 */
export function datasetCheckSlot(deps: ResolvedDeps): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method !== 'POST' || c.req.path !== '/datasets' || isJson(c.req.header('content-type'))) return next();
    const release = deps.datasetChecker.tryAcquire();
    if (!release)
      throw new ProblemError(
        429,
        'too-many-dataset-checks',
        `${deps.datasetChecker.concurrency} dataset uploads are being checked; retry in ${BUSY_RETRY_SECONDS} s`,
        [],
        { 'retry-after': String(BUSY_RETRY_SECONDS) },
      );
    try {
      await next();
    } finally {
      release();
    }
  };
}

export function registerDatasetRoutes(app: OpenAPIHono, deps: ResolvedDeps): void {
  const { registry } = deps;

  app.openapi(createDataset, async (c) => {
    const query = c.req.valid('query');
    const contentType = c.req.header('content-type');

    if (isJson(contentType)) {
      const body = c.req.valid('json');
      if (!deps.signUploadUrl)
        throw new ProblemError(400, 'presigned-uploads-unavailable', 'this deployment takes datasets as raw request bodies only', [
          { name: '(body)', reason: 'send the file itself with ?name=' },
        ]);
      const key = registry.datasets.newUploadKey(body.name, deps.now());
      const uploadUrl = await deps.signUploadUrl(key, body.bytes, UPLOAD_URL_SECONDS);
      const expiresAt = new Date(deps.now().getTime() + UPLOAD_URL_SECONDS * 1000).toISOString();
      return c.json(
        {
          object: 'dataset.upload' as const,
          datasetUri: registry.uriOf(key),
          name: body.name,
          bytes: body.bytes,
          uploadUrl,
          method: 'PUT' as const,
          expiresAt,
        },
        200,
      );
    }

    const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
    if (!(RAW_TYPES as readonly string[]).includes(type))
      throw new ProblemError(415, 'unsupported-media-type', DATASET_TYPES_HINT, [
        { name: 'content-type', reason: `"${type || '(none)'}" is not a dataset type` },
      ]);
    const name = query.name;
    if (!name)
      throw new ProblemError(400, 'validation-error', 'invalid query: name', [
        { name: 'name', reason: 'required with a raw body: the file name, whose extension gives the format' },
      ]);
    // (datasetCheckSlot holds this request's check slot.)
    const bytes = Buffer.from(await c.req.arrayBuffer());
    if (bytes.length === 0)
      throw new ProblemError(400, 'validation-error', 'the dataset is empty', [{ name: '(body)', reason: 'empty body' }]);
    const { textColumn, textPairColumn, labelColumn } = query;
    const summary = await checkUpload(deps, name, bytes, { textColumn, textPairColumn, labelColumn });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const datasetUri = await registry.datasets.put(name, sha256, bytes);
    // Object.fromEntries defines own properties: a "__proto__" label is a key like any other.
    return c.json(
      {
        object: 'dataset' as const,
        datasetUri,
        name,
        bytes: bytes.length,
        sha256,
        format: summary.format,
        rows: summary.rows,
        labels: Object.fromEntries(summary.labels),
      },
      201,
    );
  });
}

/**
 * The trainer's own reader checks the rows (streamed, capped, off the event loop: DatasetChecker),
 * from a private temporary file named like the upload.
 */
async function checkUpload(deps: ResolvedDeps, name: string, bytes: Buffer, columns: DatasetColumns): Promise<DatasetSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'dataset-'));
  try {
    await writeFile(join(dir, name), bytes);
    return await deps.datasetChecker.check(join(dir, name), columns);
  } catch (err) {
    if (!(err instanceof DataError)) throw err;
    // Messages name the temporary path; the client knows the file by its name.
    const reason = err.message.split(join(dir, name)).join(name);
    if (err instanceof DataLimitError && err.limit === 'labels')
      throw new ProblemError(422, 'dataset-labels-over-limit', reason, [{ name: 'label', reason }]);
    if (err instanceof DataLimitError) {
      const limits = deps.datasetChecker.limits;
      const detail =
        err.limit === 'bytes'
          ? `${name} decompresses to more than ${limits.maxBytes} bytes; upload large datasets with a presigned PUT (POST /datasets with {name, bytes})`
          : err.limit === 'rows'
            ? `${name} has more than ${limits.maxRows} rows (the limit of a checked upload); upload large datasets with a presigned PUT (POST /datasets with {name, bytes})`
            : reason;
      throw new ProblemError(413, 'dataset-too-large', detail, [{ name: '(body)', reason }]);
    }
    throw new ProblemError(400, 'invalid-dataset', reason, [{ name: '(body)', reason }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
