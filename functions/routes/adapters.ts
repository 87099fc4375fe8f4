/**
 * Adapters, shaped like the Hugging Face Hub: a task is a repo, versions are its revisions, download
 * resolves a file at a revision (the newest by default). Only versions with a manifest exist here.
 */
import { pipeline } from 'node:stream';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AdapterManifest } from '../../shared/manifest.ts';
import { contentTypeOf } from '../../shared/registry/index.ts';
import { verifiedBody } from '../../shared/verified-body.ts';
import type { StoreDeps } from '../app.ts';
import { ProblemError } from '../http/problem.ts';
import { responseBodyOf } from '../http/stream-body.ts';
import {
  AdapterDetailSchema,
  AdapterListSchema,
  DownloadQuery,
  ListAdaptersQuery,
  ManifestSchema,
  TaskParam,
  VersionParams,
} from '../schemas.ts';
import { problemResponses } from './common.ts';

const listAdapters = createRoute({
  method: 'get',
  path: '/adapters',
  tags: ['adapters'],
  summary: 'List tasks with their newest version',
  request: { query: ListAdaptersQuery },
  responses: {
    200: {
      description: 'A page of the tasks with at least one published version, in name order.',
      content: { 'application/json': { schema: AdapterListSchema } },
    },
    ...problemResponses(400, 401),
  },
});

const getAdapter = createRoute({
  method: 'get',
  path: '/adapters/{task}',
  tags: ['adapters'],
  summary: "A task's newest manifest and all its versions",
  request: { params: TaskParam },
  responses: {
    200: { description: 'Newest manifest and versions, newest first.', content: { 'application/json': { schema: AdapterDetailSchema } } },
    ...problemResponses(400, 401, 404),
  },
});

const getVersion = createRoute({
  method: 'get',
  path: '/adapters/{task}/versions/{version}',
  tags: ['adapters'],
  summary: 'The manifest of one version',
  request: { params: VersionParams },
  responses: {
    200: {
      description: 'The manifest (immutable: `ETag` and `Cache-Control: private, immutable`).',
      content: { 'application/json': { schema: ManifestSchema } },
    },
    304: { description: 'Not modified (If-None-Match matched the ETag).' },
    ...problemResponses(400, 401, 404),
  },
});

const download = createRoute({
  method: 'get',
  path: '/adapters/{task}/download',
  tags: ['adapters'],
  summary: 'Download an adapter file',
  description:
    'The newest version unless `version` is given. Streamed with `Content-Length` and `ETag` (the sha256 from the manifest; `If-None-Match` answers 304), or, on AWS, a redirect to a short-lived signed URL.',
  request: { params: TaskParam, query: DownloadQuery },
  responses: {
    200: { description: 'The file.', content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
    302: { description: 'Redirect to a short-lived signed URL.' },
    304: { description: 'Not modified (If-None-Match matched the ETag).' },
    ...problemResponses(400, 401, 404),
  },
});

/** Pinned versions never change; they need a key, so only the client may keep them (never a shared cache). */
const IMMUTABLE = 'private, max-age=31536000, immutable';

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}

export function registerAdapterRoutes(app: OpenAPIHono, deps: StoreDeps): void {
  const { registry } = deps;

  /** The newest version whose manifest is sound; a corrupt one is logged and passed over, never served. */
  async function newest(task: string): Promise<{ versions: string[]; manifest: AdapterManifest }> {
    const { versions, manifest } = await registry.adapters.latest(task, (version, err) =>
      deps.log({ time: deps.now().toISOString(), level: 'warn', msg: 'corrupt manifest skipped', task, version, error: err.message }),
    );
    if (!manifest)
      throw new ProblemError(404, 'not-found', `no published adapter for task "${task}"`, [
        { name: 'task', reason: 'no published version' },
      ]);
    return { versions, manifest };
  }

  async function manifestAt(task: string, version: string): Promise<AdapterManifest> {
    const manifest = await registry.adapters.manifest(task, version);
    if (!manifest)
      throw new ProblemError(404, 'not-found', `task "${task}" has no version "${version}"`, [
        { name: 'version', reason: 'no such version' },
      ]);
    return manifest;
  }

  app.openapi(listAdapters, async (c) => {
    const { limit, after } = c.req.valid('query');
    const { tasks, hasMore } = await registry.adapters.tasks({ limit, after });
    const data = await Promise.all(
      tasks.map(async (task) => {
        // A task whose every manifest is corrupt (logged by newest) is left out, not a 500 for the whole list.
        const found = await newest(task).catch((err: unknown) => {
          if (err instanceof ProblemError && err.status === 404) return null;
          throw err;
        });
        if (!found) return null;
        const { manifest } = found;
        return {
          task,
          latestVersion: manifest.version,
          createdAt: manifest.createdAt,
          baseModel: manifest.baseModel.name,
          mode: manifest.mode,
          labels: manifest.labels,
        };
      }),
    );
    const found = data.filter((d): d is NonNullable<typeof d> => d !== null);
    return c.json({ object: 'list' as const, data: found, hasMore, nextCursor: hasMore ? tasks[tasks.length - 1] : null }, 200);
  });

  app.openapi(getAdapter, async (c) => {
    const { task } = c.req.valid('param');
    const { versions, manifest } = await newest(task);
    return c.json({ task, latestVersion: manifest.version, versions, manifest }, 200);
  });

  app.openapi(getVersion, async (c) => {
    const { task, version } = c.req.valid('param');
    const manifest = await manifestAt(task, version);
    // A version's manifest is immutable: its id names it for good, so it is a strong validator.
    const etag = `"${manifest.version}"`;
    c.header('etag', etag);
    c.header('cache-control', IMMUTABLE);
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304);
    return c.json(manifest, 200);
  });

  app.openapi(download, async (c) => {
    const { task } = c.req.valid('param');
    const { version, file } = c.req.valid('query');
    const manifest = version !== undefined ? await manifestAt(task, version) : (await newest(task)).manifest;
    const entry = manifest.files.find((f) => f.name === file);
    if (!entry)
      throw new ProblemError(404, 'not-found', `version ${manifest.version} of "${task}" has no ${file}`, [
        { name: 'file', reason: 'not in the manifest' },
      ]);
    const key = registry.adapters.fileKey(task, manifest.version, file);
    const etag = `"${entry.sha256}"`;
    // A pinned version never changes; "newest" may move, so caches must revalidate. Private: every
    // response needed a key, so no shared cache may serve it to someone without one.
    const cacheControl = version !== undefined ? IMMUTABLE : 'private, no-cache';
    const common = { etag, 'cache-control': cacheControl, 'x-adapter-version': manifest.version };

    if (etagMatches(c.req.header('if-none-match'), etag)) return new Response(null, { status: 304, headers: common });
    if (deps.downloads === 'redirect') {
      if (!deps.signDownloadUrl) throw new Error('downloads are "redirect" but no signDownloadUrl was configured');
      return new Response(null, {
        status: 302,
        headers: { location: await deps.signDownloadUrl(key), 'cache-control': 'no-store', 'x-adapter-version': manifest.version },
      });
    }
    const fileHeaders = {
      ...common,
      'content-type': contentTypeOf(file),
      'content-disposition': `attachment; filename="${file}"`,
    };
    // Hono answers HEAD through the GET handler; do not open a stream only to drop it.
    if (c.req.method === 'HEAD')
      return new Response(null, { status: 200, headers: { ...fileHeaders, 'content-length': String(entry.bytes) } });
    const body = await registry.adapters.openFile(task, manifest.version, file);
    if (!body) throw new Error(`${registry.uriOf(key)} is in the manifest but not in the store`);
    if (body.size !== entry.bytes) {
      body.stream.destroy();
      throw new Error(`${registry.uriOf(key)} has ${body.size} bytes; its manifest says ${entry.bytes}`);
    }
    // Checked against the manifest's sha256 as it streams: a changed file ends the response with an error.
    // pipeline: an error on either side ends both, and a client that stops reading closes the file.
    const verified = pipeline(
      body.stream,
      verifiedBody(entry, registry.uriOf(key), (err) =>
        deps.log({ time: deps.now().toISOString(), level: 'error', msg: 'download does not match its manifest', task, error: err.message }),
      ),
      () => {}, // the error reaches the client through the body
    );
    return new Response(responseBodyOf(verified), {
      status: 200,
      headers: { ...fileHeaders, 'content-length': String(entry.bytes) },
    });
  });
}
