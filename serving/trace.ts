/**
 * Where a request's time goes, span by span (issue 26's breakdown): off unless a Tracer is passed, so a
 * server that does not ask pays one `undefined` check per span. Times are milliseconds. Spans of a run
 * (rowFeeds .. hopBack) are reported once per run, the others once per request or row.
 */
export const SPANS = [
  /** Resolving the task's version (the manifest), its base and its adapter in the cache. */
  'resolve',
  /** Tokenizing a request's inputs, with the event-loop yields between them. */
  'tokenize',
  /** A row's wait in the micro-batcher, from submit to the start of its run. */
  'queue',
  /** Building a run's row feeds (ids, mask, types, adapter_index). */
  'rowFeeds',
  /** From posting the run to the worker thread to the worker receiving it. */
  'hopOut',
  /** The engine wrapping (or, for a mixed batch, stacking) the feeds before the session runs. */
  'engineFeeds',
  /** onnxruntime's session.run. */
  'session',
  /** From the session's end to the runtime receiving the logits (the reply and the hop back). */
  'hopBack',
  /** Softmax and labels of a request's rows. */
  'post',
] as const;
export type Span = (typeof SPANS)[number];
export type Tracer = (span: Span, ms: number) => void;

/** Epoch milliseconds: performance.timeOrigin differs per thread, this is comparable across them (the hops). */
export const epochMs = (): number => performance.timeOrigin + performance.now();
