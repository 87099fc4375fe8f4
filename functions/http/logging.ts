/** One structured JSON line per request. Never logs headers or bodies (they carry keys and data). */
import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

export type LogLine = Record<string, unknown>;

export function requestLog(log: (line: LogLine) => void, now: () => Date): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const given = c.req.header('x-request-id');
    // A caller's id is kept for tracing only if it is short and plain (it ends up in logs).
    const requestId = given !== undefined && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    c.header('x-request-id', requestId);
    await next();
    log({
      time: now().toISOString(),
      level: c.res.status >= 500 ? 'error' : 'info',
      msg: 'request',
      requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    });
  };
}

export function defaultLog(line: LogLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
