/**
 * Where a request's time goes inside the app (issue 26's breakdown, the route's part; serving/trace.ts has
 * the runtime's): off unless a RouteTracer is given, so a server that does not ask pays one `undefined`
 * check per mark. Each mark reports the milliseconds since the previous mark of the same request, so the
 * spans of one request add up to its time in the app. Spans that a request does not reach (a 401 has no
 * `body`) are not reported for it.
 */
import type { Context } from 'hono';

export const ROUTE_SPANS = [
  /** The request log's work before the chain: the request id (read or made) and its header. */
  'log',
  /** Bearer auth: the header read and parsed, the key's digest compared with every configured one. */
  'auth',
  /** From auth to the handler: the body limit, the body read, JSON.parse, the route's zod validators. */
  'body',
  /** The predict handler's own per-input checks (each input's shape named precisely). */
  'check',
  /** The predictor's call: the runtime (serving/trace.ts breaks it down). */
  'predict',
  /** Serialising the answer and building the Response. */
  'respond',
  /** From the handler's return back to the request log: the middleware chain unwinding. */
  'unwind',
  /** Writing the request's log line. */
  'logLine',
] as const;
export type RouteSpan = (typeof ROUTE_SPANS)[number];
export type RouteTracer = (span: RouteSpan, ms: number) => void;

/** Marks on requests in flight, keyed by their context (a middleware may replace `c.req.raw`). */
export class RouteClock {
  private readonly last = new WeakMap<Context, number>();
  constructor(private readonly trace: RouteTracer) {}

  start(c: Context): void {
    this.last.set(c, performance.now());
  }

  /** Reports `span` as the time since this request's previous mark. */
  mark(c: Context, span: RouteSpan): void {
    const now = performance.now();
    const before = this.last.get(c);
    if (before === undefined) return; // not started: a request the log middleware did not see
    this.trace(span, now - before);
    this.last.set(c, now);
  }
}
