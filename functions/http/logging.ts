/** One structured JSON line per request. Never logs headers or bodies (they carry keys and data). */
import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { RouteClock } from './route-trace.ts';

export type LogLine = Record<string, unknown>;

/** A caller's id is kept for tracing only if it is short and plain (it ends up in logs). */
const PLAIN_ID = /^[\w.:-]{1,128}$/;

export function requestLog(log: (line: LogLine) => void, now: () => Date, clock?: RouteClock): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    clock?.start(c);
    const given = c.req.header('x-request-id');
    const requestId = given !== undefined && PLAIN_ID.test(given) ? given : randomUUID();
    c.header('x-request-id', requestId);
    clock?.mark(c, 'log');
    await next();
    clock?.mark(c, 'unwind');
    const status = c.res.status;
    log({
      time: now().toISOString(),
      level: status >= 500 ? 'error' : 'info',
      msg: 'request',
      requestId,
      method: c.req.method,
      path: c.req.path,
      status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    });
    clock?.mark(c, 'logLine');
  };
}

/**
 * Writes a line to `write` now, or (`batchMs`) queues it and writes the queued lines as one string at most
 * `batchMs` later: stdout on a pipe or a file is a blocking write(2) per call in Node, and each wakes the
 * reader, which at a thousand requests a second on 2 cores costs the server more than its log lines are
 * worth. Queued lines are written before the process exits (`flush` on 'exit'); a kill -9 loses at most
 * the last `batchMs` of lines.
 */
export function lineWriter(write: (text: string) => void, batchMs: number | null): { log: (line: LogLine) => void; flush: () => void } {
  const pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending.length = 0;
    write(text);
  };
  const log = (line: LogLine) => {
    const text = `${JSON.stringify(line)}\n`;
    if (batchMs === null) return write(text);
    pending.push(text);
    if (!scheduled) {
      scheduled = true;
      setTimeout(flush, batchMs).unref(); // the exit handler writes what is left
    }
  };
  return { log, flush };
}

/**
 * stdout, batched over 10 ms, except on Lambda: there the process may be frozen as soon as the
 * handler returns, before a queued line is written (and it serves one request at a time anyway).
 */
const stdoutLines = lineWriter((text) => process.stdout.write(text), process.env.AWS_LAMBDA_FUNCTION_NAME === undefined ? 10 : null);
process.once('exit', stdoutLines.flush);

export function defaultLog(line: LogLine): void {
  stdoutLines.log(line);
}
