/**
 * A job's event log and checkpoints, shaped like OpenAI's fine-tuning job events and checkpoints
 * (`{object: 'list', data, hasMore}`, cursor `after`), but oldest first: a client polls with the last
 * id it has and gets only what is newer. Where the runtime keeps a connection open (the local server),
 * `?stream=true` sends the same events as Server-Sent Events.
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { JOB_EVENT_ID_RE, type JobEventRecord, TERMINAL_EVENT_TYPES } from '../../shared/job-events.ts';
import type { Registry } from '../../shared/registry/index.ts';
import type { ResolvedDeps } from '../app.ts';
import { ProblemError } from '../http/problem.ts';
import { CheckpointListSchema, JobEventListSchema, JobIdParam, ListCheckpointsQuery, ListEventsQuery } from '../schemas.ts';
import { problemResponses } from './common.ts';

/** How often a stream looks for new events, and sends a comment to keep proxies from closing it. */
const STREAM_POLL_MS = 1000;
const STREAM_KEEPALIVE_MS = 15_000;

const listEvents = createRoute({
  method: 'get',
  path: '/finetune/{jobId}/events',
  tags: ['fine-tuning'],
  summary: "A job's events, oldest first",
  description:
    'Typed events in the order they were recorded: created, dataset-validated, queued, running, training-started, metrics (every few steps: loss, lr, examples per second), evaluation, checkpoint-saved, and the end (succeeded, failed or cancelled, with the reason). Poll with `after` set to the last id you have. With `stream=true` (or `Accept: text/event-stream`) on the local server: Server-Sent Events, each `data` one event and `id` its id (a reconnect sends `Last-Event-ID`); the stream ends after the job ends.',
  request: { params: JobIdParam, query: ListEventsQuery },
  responses: {
    200: {
      description: 'A page of events (or a text/event-stream of them).',
      content: { 'application/json': { schema: JobEventListSchema }, 'text/event-stream': { schema: z.string() } },
    },
    ...problemResponses(400, 401, 404),
  },
});

const listCheckpoints = createRoute({
  method: 'get',
  path: '/finetune/{jobId}/checkpoints',
  tags: ['fine-tuning'],
  summary: "A job's checkpoints, oldest first",
  description:
    'Each resumable state the trainer saved to the registry while training: its step and the latest training loss and validation metrics before it. (The registry keeps only the newest state, for a retried job to resume from; this is its history.)',
  request: { params: JobIdParam, query: ListCheckpointsQuery },
  responses: {
    200: { description: 'A page of checkpoints.', content: { 'application/json': { schema: CheckpointListSchema } } },
    ...problemResponses(400, 401, 404),
  },
});

function page<T extends { id: string }>(data: T[], hasMore: boolean) {
  return { object: 'list' as const, data, hasMore, nextCursor: hasMore ? data[data.length - 1].id : null };
}

function wantsStream(c: Context, stream: 'true' | 'false' | undefined): boolean {
  if (stream !== undefined) return stream === 'true';
  return (c.req.header('accept') ?? '').includes('text/event-stream');
}

/** The events after `after`, as they come, until one ends the job or the client goes. */
function streamEvents(c: Context, registry: Registry, jobId: string, after: string | undefined): Response {
  return streamSSE(c, async (stream) => {
    let cursor = after;
    let open = true;
    stream.onAbort(() => {
      open = false;
    });
    let quietSince = Date.now();
    while (open) {
      const { events } = await registry.jobs.listEvents(jobId, { after: cursor, limit: 1000 });
      for (const e of events) {
        await stream.writeSSE({ id: e.id, data: registry.withoutLocalPaths(JSON.stringify(e)) });
        cursor = e.id;
      }
      if (events.some((e) => TERMINAL_EVENT_TYPES.includes(e.type))) return;
      if (events.length > 0) quietSince = Date.now();
      else if (Date.now() - quietSince >= STREAM_KEEPALIVE_MS) {
        await stream.write(': keepalive\n\n');
        quietSince = Date.now();
      }
      await stream.sleep(STREAM_POLL_MS);
    }
  });
}

export function registerJobEventRoutes(app: OpenAPIHono, deps: ResolvedDeps): void {
  const { registry } = deps;

  app.openapi(listEvents, async (c) => {
    const { jobId } = c.req.valid('param');
    const { after, limit, stream } = c.req.valid('query');
    await registry.jobs.spec(jobId); // 404 for a job that does not exist
    if (wantsStream(c, stream)) {
      if (!deps.eventStream) {
        throw new ProblemError(400, 'validation-error', 'invalid query: stream', [
          { name: 'stream', reason: 'this deployment cannot hold a stream open; poll with `after` instead' },
        ]);
      }
      const lastEventId = after === undefined ? c.req.header('last-event-id') : undefined;
      if (lastEventId !== undefined && !JOB_EVENT_ID_RE.test(lastEventId)) {
        throw new ProblemError(400, 'validation-error', 'invalid header: Last-Event-ID', [
          { name: 'Last-Event-ID', reason: 'must be an event id like 00000003-0012' },
        ]);
      }
      return streamEvents(c, registry, jobId, after ?? lastEventId);
    }
    const { events, hasMore } = await registry.jobs.listEvents(jobId, { after, limit });
    // A failure's reason comes from the trainer, which may name the local store's files by path.
    const shown = events.map((e) => JSON.parse(registry.withoutLocalPaths(JSON.stringify(e))) as JobEventRecord);
    return c.json(page(shown, hasMore), 200);
  });

  app.openapi(listCheckpoints, async (c) => {
    const { jobId } = c.req.valid('param');
    const { after, limit } = c.req.valid('query');
    await registry.jobs.spec(jobId);
    const { events } = await registry.jobs.listEvents(jobId, { after });
    const saved = events.filter((e): e is Extract<JobEventRecord, { type: 'checkpoint-saved' }> => e.type === 'checkpoint-saved');
    const data = saved.slice(0, limit).map((e) => ({
      object: 'finetune.checkpoint' as const,
      id: e.id,
      jobId,
      createdAt: e.createdAt,
      seed: e.data.seed,
      step: e.data.step,
      metrics: { trainLoss: e.data.trainLoss, validation: e.data.validation },
    }));
    return c.json(page(data, saved.length > limit), 200);
  });
}
