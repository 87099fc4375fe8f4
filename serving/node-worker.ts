/**
 * The Node engine's worker thread: owns the base weights and one onnxruntime session per (base,
 * variant), and runs them (session.run blocks its thread, never the server's event loop). Base weights
 * are graph inputs wrapping this thread's copy of the weights file without another copy, shared by
 * every session of that base (as initializers, onnxruntime would copy them into each session).
 *
 * A run's feeds arrive transferred, not copied: the row feeds are the run's own, and each adapter's
 * packed feeds go back to the runtime with the reply (transferred again), so the worker never holds an
 * adapter between runs and a mixed batch is stacked here, off the server's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BertConfig } from '../shared/bert-config.ts';
import { toOnnxModel } from '../trainer/graph/onnx-export.ts';
import { buildServingGraph, stackPacked } from '../trainer/model/serving-graph.ts';
import { createSession, hostTensor, type ort } from '../trainer/sessions/session.ts';
import type { FeedTensor, PackedFeeds, Variant } from './engine.ts';

export interface WeightLayout {
  name: string;
  /** Float offset into the buffer. */
  offset: number;
  shape: number[];
}

export type WorkerRequest =
  | { op: 'base'; id: number; name: string; config: BertConfig; buffer: ArrayBuffer; layout: WeightLayout[] }
  | { op: 'session'; id: number; key: string; base: string; variant: Variant }
  | { op: 'run'; id: number; key: string; feeds: Record<string, FeedTensor>; adapters: PackedFeeds[] }
  | { op: 'close'; id: number };

/** `adapters`: a run's packed adapter feeds, handed back (success or failure) to the runtime that owns them. */
export type WorkerReply =
  | { id: number; ok: true; logits?: { data: Float32Array; dims: number[] }; createMs?: number; adapters?: PackedFeeds[] }
  | { id: number; ok: false; error: string; adapters?: PackedFeeds[] };

const { threads } = workerData as { threads?: number };
const bases = new Map<string, { config: BertConfig; weights: Map<string, ort.Tensor> }>();
const sessions = new Map<string, { session: ort.InferenceSession; frozen: Record<string, ort.Tensor> }>();

async function handle(m: WorkerRequest): Promise<WorkerReply> {
  switch (m.op) {
    case 'base': {
      const weights = new Map<string, ort.Tensor>();
      for (const w of m.layout) {
        const n = w.shape.reduce((a, b) => a * b, 1);
        weights.set(w.name, hostTensor(new Float32Array(m.buffer, w.offset * 4, n), w.shape));
      }
      bases.set(m.name, { config: m.config, weights });
      return { id: m.id, ok: true };
    }
    case 'session': {
      const base = bases.get(m.base);
      if (!base) throw new Error(`no base "${m.base}" on this worker`);
      const t0 = performance.now();
      const { graph, frozen } = buildServingGraph(base.config, m.variant);
      const session = await createSession(toOnnxModel(graph, 'serving'), { threads, spinning: false });
      const feeds: Record<string, ort.Tensor> = {};
      for (const p of frozen) {
        const t = base.weights.get(p.name);
        if (!t) throw new Error(`base "${m.base}" has no tensor "${p.name}"`);
        feeds[p.name] = t;
      }
      sessions.set(m.key, { session, frozen: feeds });
      return { id: m.id, ok: true, createMs: performance.now() - t0 };
    }
    case 'run': {
      const s = sessions.get(m.key);
      if (!s) throw new Error(`no session "${m.key}" on this worker`);
      const feeds: Record<string, ort.Tensor> = { ...s.frozen };
      for (const [name, t] of Object.entries(m.feeds)) feeds[name] = hostTensor(t.data, t.dims);
      const perTask = m.adapters.length === 1 ? m.adapters[0] : stackPacked(m.adapters);
      for (const [name, t] of Object.entries(perTask)) feeds[name] = hostTensor(t.data, t.dims);
      const out = await s.session.run(feeds, ['logits']);
      const logits = out.logits;
      return { id: m.id, ok: true, logits: { data: logits.data as Float32Array, dims: [...logits.dims] }, adapters: m.adapters };
    }
    case 'close': {
      for (const s of sessions.values()) await s.session.release();
      sessions.clear();
      bases.clear();
      return { id: m.id, ok: true };
    }
  }
}

/** The buffers a reply moves back: the logits and the adapters' packed feeds. */
function transferOf(reply: WorkerReply): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  if (reply.ok && reply.logits) buffers.add(reply.logits.data.buffer as ArrayBuffer);
  for (const a of reply.adapters ?? [])
    for (const t of Object.values(a)) if (t.data.buffer instanceof ArrayBuffer) buffers.add(t.data.buffer);
  return [...buffers];
}

parentPort!.on('message', (m: WorkerRequest) => {
  handle(m).then(
    (reply) => parentPort!.postMessage(reply, transferOf(reply)),
    (err: unknown) => {
      const reply: WorkerReply = { id: m.id, ok: false, error: (err as Error).message, adapters: m.op === 'run' ? m.adapters : undefined };
      parentPort!.postMessage(reply, transferOf(reply));
    },
  );
});
