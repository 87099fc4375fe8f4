/**
 * The HTTP API as one runtime-agnostic Hono app (plain Request -> Response): the Lambda handlers and
 * the local Node server are thin adapters around `createApp`.
 *
 * Routes come in groups, each registered when the caller gives what it needs (ROUTE_GROUPS below): the
 * store group (adapters, their files and metrics, base models) with a registry; the jobs group (fine-tune
 * jobs, their events, dataset uploads) with a registry and a launcher; predict with a predictor; /edge with
 * its assets. /healthz, /openapi.json, /docs and /console are always there. A group a deployment lacks is
 * still described in /openapi.json (on AWS the API and inference functions serve one API between them,
 * and the console reads the document to know what it may offer), and its routes answer 501 problem+json
 * saying what this deployment does not serve.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import type { Predictor } from '../serving/predictor.ts';
import { Registry, RegistryError } from '../shared/registry/index.ts';
import { type LabelLimits, labelLimitsFromEnv } from '../shared/training-data/label-limits.ts';
import { CONSOLE_PUBLIC_PATHS, registerConsoleRoutes } from './console/route.ts';
import { DatasetChecker } from './datasets/checker.ts';
import { EDGE_PATHS, type EdgeAssets, registerEdgeRoutes } from './edge/routes.ts';
import { bearerAuth } from './http/auth.ts';
import { declaredBodyLimit } from './http/body-limit.ts';
import type { KeySource } from './http/key-source.ts';
import { defaultLog, type LogLine, requestLog } from './http/logging.ts';
import { invalidParamsFromZod, ProblemError, problemResponse } from './http/problem.ts';
import { RouteClock, type RouteTracer } from './http/route-trace.ts';
import type { JobLauncher } from './jobs/launcher.ts';
import { DEFAULT_JOB_LIMITS, type JobLimits } from './jobs/spend.ts';
import { registerAdapterMetricsRoute } from './routes/adapter-metrics.ts';
import { registerAdapterRoutes } from './routes/adapters.ts';
import { DATASET_TYPES_HINT, datasetCheckSlot, registerDatasetRoutes } from './routes/datasets.ts';
import { registerFinetuneRoutes } from './routes/finetune.ts';
import { registerJobEventRoutes } from './routes/job-events.ts';
import { DOCS_PUBLIC_PATHS, registerMetaRoutes } from './routes/meta.ts';
import { registerModelRoutes } from './routes/models.ts';
import { registerPredictRoutes } from './routes/predict.ts';

export interface AppDeps {
  /** Bearer keys accepted on every route but the public ones: a fixed list, or a source re-read as it runs (rotation). */
  apiKeys: string[] | KeySource;
  log?: (line: LogLine) => void;
  now?: () => Date;
  /** Request body limit in bytes (default 64 KiB). */
  maxBodyBytes?: number;

  // The store group (and, with a launcher, the jobs group).
  registry?: Registry;
  /** Base model (models/<name>/ in the registry) for requests that name none (store group: required). */
  defaultBaseModel?: string;
  /** 'stream': the API serves adapter files itself; 'redirect': 302 to `signDownloadUrl(key)` (store group: required). */
  downloads?: 'stream' | 'redirect';
  signDownloadUrl?: (key: string) => Promise<string>;

  // The jobs group: needs the store group too.
  launcher?: JobLauncher;
  /** Buckets that datasetUri / validationUri may point into (jobs group: required). */
  allowedDatasetBuckets?: string[];
  /** A presigned PUT URL for `bytes` bytes to `key` (POST /datasets with {name, bytes}); absent: raw bodies only. */
  signUploadUrl?: (key: string, bytes: number, expiresInSeconds: number) => Promise<string>;
  /** Body limit of POST /datasets (default 32 MiB; on Lambda, keep it under its 6 MB payload limit). */
  maxDatasetBytes?: number;
  /** Spend controls of POST /finetune (default DEFAULT_JOB_LIMITS; functions/jobs/spend.ts). */
  jobLimits?: JobLimits;
  /** Classes and label length at POST /datasets and POST /finetune (default: ADAPTER_STORE_MAX_LABELS / _LABEL_CHARS, else 1,000 and 256). */
  labelLimits?: LabelLimits;
  /** How POST /datasets checks uploads (see DatasetCheckSettings). */
  datasetChecks?: DatasetCheckSettings;
  /** Whether GET /finetune/:jobId/events may hold a Server-Sent Events stream open (the local server; not Lambda). */
  eventStream?: boolean;

  /** The predict group: serves POST /adapters/:task/predict (serving/). */
  predictor?: Predictor;
  /** Where each request's time goes inside the app, span by span (functions/http/route-trace.ts); absent: not measured. */
  routeTrace?: RouteTracer;
  /** The in-browser demo at /edge (functions/edge/assets.ts on Node); absent, /edge is 404 (nothing to describe). */
  edge?: EdgeAssets;
}

export interface DatasetCheckSettings {
  /** Checks at once; more answer 429 with Retry-After (default 2). */
  concurrency?: number;
  /** Rows a checked upload may have (default 1,000,000). */
  maxRows?: number;
  /** Bytes a gzip upload may inflate to (default 8 x maxDatasetBytes). */
  maxDecompressedBytes?: number;
  /** 'worker' (default): each check on a worker thread; 'inline': on the request's thread (Lambda). */
  mode?: 'worker' | 'inline';
}

export const DEFAULT_DATASET_MAX_ROWS = 1_000_000;
/** A gzip upload may inflate to this many times the body limit by default. */
export const DEFAULT_GZIP_RATIO = 8;

/** What every route group gets. */
export interface CommonDeps {
  log: (line: LogLine) => void;
  now: () => Date;
}

/** The store group's: adapters, versions, downloads, metrics, base models. */
export interface StoreDeps extends CommonDeps {
  registry: Registry;
  defaultBaseModel: string;
  downloads: 'stream' | 'redirect';
  signDownloadUrl?: (key: string) => Promise<string>;
}

/** The jobs group's (routes/finetune.ts, job-events.ts, datasets.ts): the store's and a launcher. */
export interface ResolvedDeps extends StoreDeps {
  launcher: JobLauncher;
  allowedDatasetBuckets: string[];
  maxDatasetBytes: number;
  datasetChecker: DatasetChecker;
  jobLimits: JobLimits;
  labelLimits: LabelLimits;
  signUploadUrl?: (key: string, bytes: number, expiresInSeconds: number) => Promise<string>;
  eventStream?: boolean;
}

/** The predict group's. */
export interface PredictDeps extends CommonDeps {
  predictor: Predictor;
  /** Marks the route's spans when the app was given a tracer. */
  clock?: RouteClock;
}

interface RouteGroup<D> {
  /** What a deployment without the group answers on its routes (501). */
  absent: string;
  register(app: OpenAPIHono, deps: D): void;
}

/** The route groups a deployment may have, and what each needs. */
export const ROUTE_GROUPS = {
  store: {
    absent: 'this deployment lists and serves no adapters or base models (it has no registry); on AWS, the API function does',
    register: (app, deps) => {
      registerAdapterRoutes(app, deps);
      registerAdapterMetricsRoute(app, deps);
      registerModelRoutes(app, deps);
    },
  } satisfies RouteGroup<StoreDeps>,
  jobs: {
    absent: 'this deployment runs no fine-tune jobs and takes no datasets; on AWS, the API function does',
    register: (app, deps) => {
      registerFinetuneRoutes(app, deps);
      registerJobEventRoutes(app, deps);
      registerDatasetRoutes(app, deps);
    },
  } satisfies RouteGroup<ResolvedDeps>,
  predict: {
    absent: 'this deployment serves no predictions; on AWS, predict is routed to the inference function',
    register: registerPredictRoutes,
  } satisfies RouteGroup<PredictDeps>,
};

/**
 * A group's routes, registered with their handlers when its dependencies are given; otherwise described
 * in the OpenAPI document and answering 501. The description is read by registering the group on a
 * scratch app whose handlers never run: the register functions read their dependencies only inside
 * handlers, so an empty object stands in for them there.
 */
function registerGroup<D>(app: OpenAPIHono, group: RouteGroup<D>, deps: D | undefined): void {
  if (deps !== undefined) {
    group.register(app, deps);
    return;
  }
  const described = new OpenAPIHono();
  group.register(described, {} as D);
  for (const def of described.openAPIRegistry.definitions) if (def.type === 'route') app.openAPIRegistry.registerPath(def.route);
  const seen = new Set<string>();
  for (const { method, path } of described.routes) {
    if (method === 'ALL' || seen.has(`${method} ${path}`)) continue;
    seen.add(`${method} ${path}`);
    app.on(method, path, () => {
      throw new ProblemError(501, 'not-implemented', group.absent);
    });
  }
}

// The console's static shell loads without a key; every API call it makes sends one. The API's
// documentation is public too (functions/routes/meta.ts says why).
const PUBLIC_PATHS = ['/healthz', ...DOCS_PUBLIC_PATHS, ...CONSOLE_PUBLIC_PATHS];

function routePattern(path: string): RegExp {
  const body = path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}$`);
}

/** The store group's dependencies, if the caller gave a registry; a half-given group is an error that says what is missing. */
function storeDeps(input: AppDeps, common: CommonDeps): StoreDeps | undefined {
  const { registry, defaultBaseModel, downloads, signDownloadUrl } = input;
  if (!registry) {
    const stray = (['defaultBaseModel', 'downloads', 'signDownloadUrl', 'launcher'] as const).filter((k) => input[k] !== undefined);
    if (stray.length > 0) throw new Error(`createApp: ${stray.join(', ')} given without a registry (the store and jobs routes need one)`);
    return undefined;
  }
  if (defaultBaseModel === undefined) throw new Error('createApp: a registry needs defaultBaseModel (the store routes name it)');
  if (downloads === undefined) throw new Error('createApp: a registry needs downloads: "stream" or "redirect"');
  if (downloads === 'redirect' && !signDownloadUrl) throw new Error('downloads: "redirect" needs signDownloadUrl');
  return { ...common, registry, defaultBaseModel, downloads, signDownloadUrl };
}

/** The jobs group's dependencies, if the caller gave a launcher (and so the store group). */
function jobsDeps(input: AppDeps, store: StoreDeps | undefined): ResolvedDeps | undefined {
  const { launcher, allowedDatasetBuckets } = input;
  if (!launcher || !store) return undefined;
  if (!allowedDatasetBuckets) throw new Error('createApp: a launcher needs allowedDatasetBuckets (where datasetUri may point)');
  const maxDatasetBytes = input.maxDatasetBytes ?? 32 * 1024 * 1024;
  const checks = input.datasetChecks ?? {};
  const labelLimits = input.labelLimits ?? labelLimitsFromEnv();
  const datasetChecker = new DatasetChecker({
    concurrency: checks.concurrency,
    mode: checks.mode,
    limits: {
      maxBytes: checks.maxDecompressedBytes ?? DEFAULT_GZIP_RATIO * maxDatasetBytes,
      maxRows: checks.maxRows ?? DEFAULT_DATASET_MAX_ROWS,
      labels: labelLimits,
    },
  });
  return {
    ...store,
    launcher,
    allowedDatasetBuckets,
    maxDatasetBytes,
    datasetChecker,
    jobLimits: input.jobLimits ?? { ...DEFAULT_JOB_LIMITS },
    labelLimits,
    signUploadUrl: input.signUploadUrl,
    eventStream: input.eventStream,
  };
}

export function createApp(input: AppDeps): OpenAPIHono {
  const common: CommonDeps = { log: input.log ?? defaultLog, now: input.now ?? (() => new Date()) };
  const store = storeDeps(input, common);
  const jobs = jobsDeps(input, store);
  const clock = input.routeTrace ? new RouteClock(input.routeTrace) : undefined;
  const predict: PredictDeps | undefined = input.predictor ? { ...common, predictor: input.predictor, clock } : undefined;
  const deps = { ...common, maxBodyBytes: input.maxBodyBytes ?? 64 * 1024, apiKeys: input.apiKeys, edge: input.edge };

  const app = new OpenAPIHono({
    // Every schema failure becomes a 400 problem naming each field at fault.
    defaultHook: (result) => {
      if (!result.success) {
        const params = invalidParamsFromZod(result.error);
        const where = result.target === 'json' ? 'request body' : result.target;
        throw new ProblemError(400, 'validation-error', `invalid ${where}: ${params.map((p) => p.name).join(', ')}`, params);
      }
    },
  });

  app.use('*', requestLog(deps.log, deps.now, clock));
  app.use('*', bearerAuth(deps.apiKeys, { public: deps.edge ? [...PUBLIC_PATHS, ...EDGE_PATHS] : PUBLIC_PATHS, clock }));
  const limit = (maxSize: number) =>
    declaredBodyLimit(maxSize, () => {
      throw new ProblemError(413, 'body-too-large', `request bodies here are limited to ${maxSize} bytes`);
    });
  const defaultLimit = limit(deps.maxBodyBytes);
  if (jobs) app.use('/datasets', datasetCheckSlot(jobs));
  const datasetLimit = jobs ? limit(jobs.maxDatasetBytes) : defaultLimit;
  app.use('*', (c, next) => (c.req.path === '/datasets' ? datasetLimit : defaultLimit)(c, next));

  registerMetaRoutes(app);
  registerGroup(app, ROUTE_GROUPS.jobs, jobs);
  registerGroup(app, ROUTE_GROUPS.store, store);
  registerGroup(app, ROUTE_GROUPS.predict, predict);
  registerConsoleRoutes(app, { edge: deps.edge !== undefined });
  if (deps.edge) registerEdgeRoutes(app, deps.edge);

  app.notFound((c) => {
    const path = c.req.path;
    const allow = [...new Set(app.routes.filter((r) => r.method !== 'ALL' && routePattern(r.path).test(path)).map((r) => r.method))];
    if (allow.length > 0) {
      if (allow.includes('GET')) allow.push('HEAD');
      return problemResponse(
        c,
        new ProblemError(405, 'method-not-allowed', `${c.req.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`, [], {
          allow: allow.join(', '),
        }),
      );
    }
    return problemResponse(c, new ProblemError(404, 'not-found', `no route ${c.req.method} ${path}`));
  });

  // Details name keys, never the server's paths (a local store's directory in a lower layer's message).
  const hidePaths = (text: string) => (input.registry instanceof Registry ? input.registry.withoutLocalPaths(text) : text);
  const forClients = (p: ProblemError) =>
    new ProblemError(
      p.status,
      p.code,
      hidePaths(p.message),
      p.invalidParams.map((x) => ({ ...x, reason: hidePaths(x.reason) })),
      p.headers,
    );
  app.onError((err, c) => {
    if (err instanceof ProblemError) return problemResponse(c, forClients(err));
    if (err instanceof RegistryError) {
      if (err.code === 'not-found') return problemResponse(c, forClients(new ProblemError(404, 'not-found', err.message)));
      if (err.code === 'invalid') return problemResponse(c, forClients(new ProblemError(400, 'validation-error', err.message)));
      if (err.code === 'conflict') return problemResponse(c, forClients(new ProblemError(409, 'conflict', err.message)));
    }
    if (err instanceof HTTPException) {
      // Hono's own: malformed JSON bodies and the like.
      const status = err.status === 413 || err.status === 415 ? err.status : err.status < 500 ? 400 : 500;
      const code = status === 415 ? 'unsupported-media-type' : status === 400 ? 'malformed-request' : 'error';
      const detail =
        status === 415
          ? c.req.path === '/datasets'
            ? DATASET_TYPES_HINT
            : 'request bodies must be JSON (Content-Type: application/json)'
          : err.message;
      return problemResponse(c, new ProblemError(status, code, detail, status < 500 ? [{ name: '(body)', reason: detail }] : []));
    }
    deps.log({
      time: deps.now().toISOString(),
      level: 'error',
      msg: 'unhandled error',
      method: c.req.method,
      path: c.req.path,
      error: err.message,
      stack: err.stack,
    });
    return problemResponse(c, new ProblemError(500, 'internal-error', 'internal error; see the server log'));
  });

  return app;
}
