/**
 * Datasets, like OpenAI's Files API: `POST /datasets?name=<file>` with the raw JSONL/CSV/TSV body is
 * checked (parses, every row has a text and a label), then stored content-addressed in the registry:
 * 201 with its s3:// URI for POST /finetune. Nothing is stored when the check fails. Files too large
 * for a request body (Lambda takes 6 MB) go up by presigned PUT: `POST /datasets` with JSON
 * `{name, bytes}` answers the URI and an upload URL; the job checks those rows when it reads them.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { ResolvedDeps } from '../app.ts';
import { ProblemError } from '../http/problem.ts';
import { DatasetQuery, DatasetSchema, DatasetUploadRequestSchema, DatasetUploadSchema } from '../schemas.ts';
import { problemResponses } from './common.ts';
import { DataError, inspectDataset } from '../../shared/datasets/index.ts';

/**
 * Presigned upload URLs live this long: well within what the signer's credentials have left (on Lambda,
 * role credentials can expire sooner than an hour, and a URL dies with them).
 */
const UPLOAD_URL_SECONDS = 900;
/** A gzip body may inflate to at most this many times the body limit (a small "zip bomb" cannot exhaust memory). */
const MAX_GZIP_RATIO = 8;

// (Not application/jsonl: @hono/zod-openapi takes any application/json* type for JSON.)
const RAW_TYPES = ['application/x-ndjson', 'text/csv', 'text/tab-separated-values', 'text/plain', 'application/gzip', 'application/octet-stream'] as const;
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
    body: { required: false, content: { 'application/json': { schema: DatasetUploadRequestSchema }, ...Object.fromEntries(RAW_TYPES.map((t) => [t, rawBody])) } },
  },
  responses: {
    201: { description: 'Checked and stored.', content: { 'application/json': { schema: DatasetSchema } } },
    200: { description: 'Upload the file to `uploadUrl`.', content: { 'application/json': { schema: DatasetUploadSchema } } },
    ...problemResponses(400, 401, 413, 415),
  },
});

function isJson(contentType: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(contentType ?? '');
}

export function registerDatasetRoutes(app: OpenAPIHono, deps: ResolvedDeps): void {
  const { registry } = deps;

  app.openapi(createDataset, async (c) => {
    const query = c.req.valid('query');
    const contentType = c.req.header('content-type');

    if (isJson(contentType)) {
      const body = c.req.valid('json');
      if (!deps.signUploadUrl) throw new ProblemError(400, 'presigned-uploads-unavailable', 'this deployment takes datasets as raw request bodies only', [{ name: '(body)', reason: 'send the file itself with ?name=' }]);
      const key = registry.newDatasetUploadKey(body.name, deps.now());
      const uploadUrl = await deps.signUploadUrl(key, body.bytes, UPLOAD_URL_SECONDS);
      const expiresAt = new Date(deps.now().getTime() + UPLOAD_URL_SECONDS * 1000).toISOString();
      return c.json({ object: 'dataset.upload' as const, datasetUri: registry.uriOf(key), name: body.name, bytes: body.bytes, uploadUrl, method: 'PUT' as const, expiresAt }, 200);
    }

    const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
    if (!(RAW_TYPES as readonly string[]).includes(type)) throw new ProblemError(415, 'unsupported-media-type', DATASET_TYPES_HINT, [{ name: 'content-type', reason: `"${type || '(none)'}" is not a dataset type` }]);
    const name = query.name;
    if (!name) throw new ProblemError(400, 'validation-error', 'invalid query: name', [{ name: 'name', reason: 'required with a raw body: the file name, whose extension gives the format' }]);
    const bytes = Buffer.from(await c.req.arrayBuffer());
    if (bytes.length === 0) throw new ProblemError(400, 'validation-error', 'the dataset is empty', [{ name: '(body)', reason: 'empty body' }]);
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      const limit = MAX_GZIP_RATIO * deps.maxDatasetBytes;
      try {
        gunzipSync(bytes, { maxOutputLength: limit });
      } catch (err) {
        const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        if (!tooLarge) throw new ProblemError(400, 'invalid-dataset', `${name}: not valid gzip (${(err as Error).message})`, [{ name: '(body)', reason: 'not valid gzip' }]);
        throw new ProblemError(413, 'body-too-large', `${name} decompresses to more than ${limit} bytes; upload large datasets with a presigned PUT (POST /datasets with {name, bytes})`, [{ name: '(body)', reason: 'decompressed size over the limit' }]);
      }
    }

    // The trainer's own reader checks the rows, from a private temporary file named like the upload.
    const dir = await mkdtemp(join(tmpdir(), 'dataset-'));
    let summary;
    try {
      await writeFile(join(dir, name), bytes);
      summary = await inspectDataset(join(dir, name));
    } catch (err) {
      if (!(err instanceof DataError)) throw err;
      // Messages name the temporary path; the client knows the file by its name.
      const reason = err.message.split(join(dir, name)).join(name);
      throw new ProblemError(400, 'invalid-dataset', reason, [{ name: '(body)', reason }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const datasetUri = await registry.putDataset(name, sha256, bytes);
    return c.json({ object: 'dataset' as const, datasetUri, name, bytes: bytes.length, sha256, ...summary }, 201);
  });
}
