/**
 * GET /models: the bases the store has (what a fine-tune's `baseModel` may name; the console's picker).
 * GET /models/:name/files/:file: one file of a base (config, weights, tokenizer), for clients that run
 * adapters themselves (the browser runtime, serving/web.ts). Bases are immutable once their
 * weights exist (Registry.models.upload), so a file is cached for good by whoever holds a key.
 */
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { BASE_MODEL_FILES, type BaseModelFile, type Registry } from '../../shared/registry/index.ts';
import { familyOf } from '../../trainer/model/families/registry.ts';
import { parseBertConfig } from '../../trainer/model-files/bert-config.ts';
import type { StoreDeps } from '../app.ts';
import { ProblemError } from '../http/problem.ts';
import { Slug } from '../schemas.ts';
import { problemResponses } from './common.ts';

const ModelFileParams = z.object({
  name: Slug.openapi({ param: { name: 'name', in: 'path' }, example: 'bert-base-uncased' }),
  file: z
    .string()
    .max(64)
    .openapi({ param: { name: 'file', in: 'path' }, description: `One of ${BASE_MODEL_FILES.join(', ')}.`, example: 'config.json' }),
});

const modelFile = createRoute({
  method: 'get',
  path: '/models/{name}/files/{file}',
  tags: ['models'],
  summary: 'Download a file of a base model',
  description:
    'Streamed with `Content-Length` and a strong `ETag` (`If-None-Match` answers 304); immutable, private caching. On AWS, a redirect to a short-lived signed URL (the weights exceed a Lambda response).',
  request: { params: ModelFileParams },
  responses: {
    200: {
      description: 'The file.',
      content: {
        'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) },
        'application/json': { schema: z.object({}).passthrough() },
        'text/plain': { schema: z.string() },
      },
    },
    302: { description: 'Redirect to a short-lived signed URL.' },
    304: { description: 'Not modified (If-None-Match matched the ETag).' },
    ...problemResponses(400, 401, 404),
  },
});

const BaseModelSchema = z
  .object({
    object: z.literal('model'),
    name: z.string().openapi({ example: 'bert-imdb-4x128-v2' }),
    default: z.boolean().openapi({ description: 'The base a fine-tune uses when it names none.' }),
    weightsBytes: z.number().int(),
    files: z
      .array(z.enum(BASE_MODEL_FILES))
      .openapi({ description: 'The base files it holds (GET /models/{name}/files/{file}): a reader fetches these and no others.' }),
    layers: z.number().int().nullable().openapi({ description: "From the base's config.json (null when it is unreadable)." }),
    hiddenSize: z.number().int().nullable(),
    maxSequenceLength: z.number().int().nullable(),
  })
  .openapi('BaseModel');

const BaseModelListSchema = z
  .object({ object: z.literal('list'), data: z.array(BaseModelSchema), hasMore: z.literal(false) })
  .openapi('BaseModelList');

const listModels = createRoute({
  method: 'get',
  path: '/models',
  tags: ['models'],
  summary: 'List the base models',
  description: 'Every base model in the store (the names `baseModel` of POST /finetune takes), by name, with its size and shape.',
  responses: {
    200: { description: 'The bases.', content: { 'application/json': { schema: BaseModelListSchema } } },
    ...problemResponses(401),
  },
});

/** A base's shape from its config.json; nulls when it cannot be read (the listing still names the base). */
async function baseShape(
  registry: Registry,
  name: string,
): Promise<Pick<z.infer<typeof BaseModelSchema>, 'layers' | 'hiddenSize' | 'maxSequenceLength'>> {
  try {
    const body = await registry.models.openFile(name, 'config.json');
    if (!body) return { layers: null, hiddenSize: null, maxSequenceLength: null };
    // Read as the trainer reads it: each family names its fields (DistilBERT's n_layers, dim) and its limit.
    const config = parseBertConfig(JSON.parse(await text(body.stream)));
    return {
      layers: config.num_hidden_layers,
      hiddenSize: config.hidden_size,
      maxSequenceLength: familyOf(config).maxSequenceLength(config),
    };
  } catch {
    return { layers: null, hiddenSize: null, maxSequenceLength: null };
  }
}

const IMMUTABLE = 'private, max-age=31536000, immutable';

function contentType(file: BaseModelFile): string {
  if (file.endsWith('.json')) return 'application/json';
  if (file.endsWith('.txt')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

/** The object store's version tag as a strong HTTP validator (the object is never rewritten). */
const strongEtag = (etag: string): string => `"${etag.replace(/^W\//, '').replace(/"/g, '')}"`;

function etagMatches(header: string | undefined, etag: string): boolean {
  return !!header && header.split(',').some((t) => ['*', etag].includes(t.trim().replace(/^W\//, '')));
}

export function registerModelRoutes(app: OpenAPIHono, deps: StoreDeps): void {
  const { registry } = deps;
  app.openapi(listModels, async (c) => {
    const bases = await registry.models.list();
    const data = await Promise.all(
      bases.map(async (b) => ({
        object: 'model' as const,
        name: b.name,
        default: b.name === deps.defaultBaseModel,
        weightsBytes: b.weightsBytes,
        files: b.files,
        ...(await baseShape(registry, b.name)),
      })),
    );
    return c.json({ object: 'list' as const, data, hasMore: false as const }, 200);
  });
  app.openapi(modelFile, async (c) => {
    const { name, file } = c.req.valid('param');
    if (!(BASE_MODEL_FILES as readonly string[]).includes(file))
      throw new ProblemError(404, 'not-found', `a base has no file "${file}" to download (${BASE_MODEL_FILES.join(', ')})`, [
        { name: 'file', reason: 'not a base model file' },
      ]);
    const f = file as BaseModelFile;
    const body = await registry.models.openFile(name, f);
    if (!body) {
      const exists = await registry.models.exists(name);
      throw new ProblemError(404, 'not-found', exists ? `base model "${name}" has no ${file}` : `no base model "${name}" in the store`, [
        exists ? { name: 'file', reason: 'not in this base' } : { name: 'name', reason: 'no such base model' },
      ]);
    }
    const etag = strongEtag(body.etag);
    const common = { etag, 'cache-control': IMMUTABLE };
    if (etagMatches(c.req.header('if-none-match'), etag) || deps.downloads === 'redirect' || c.req.method === 'HEAD') {
      body.stream.destroy(); // only the metadata was needed
    }
    if (etagMatches(c.req.header('if-none-match'), etag)) return new Response(null, { status: 304, headers: common });
    if (deps.downloads === 'redirect') {
      if (!deps.signDownloadUrl) throw new Error('downloads are "redirect" but no signDownloadUrl was configured');
      return new Response(null, {
        status: 302,
        headers: { location: await deps.signDownloadUrl(registry.models.fileKey(name, f)), 'cache-control': 'no-store' },
      });
    }
    const headers = { ...common, 'content-type': contentType(f), 'content-length': String(body.size) };
    if (c.req.method === 'HEAD') return new Response(null, { status: 200, headers });
    return new Response(Readable.toWeb(body.stream) as ReadableStream<Uint8Array>, { status: 200, headers });
  });
}
