/**
 * The Node engine's worker thread: owns the base weights and one onnxruntime session per (base,
 * variant), and runs them (session.run blocks its thread, never the server's event loop). Base weights
 * are graph inputs wrapping this thread's copy of the weights file without another copy, shared by
 * every session of that base (as initializers, onnxruntime would copy them into each session).
 *
 * A run's row feeds arrive transferred, not copied, and its logits go back transferred. An adapter's
 * packed feeds come once, transferred with its first run, and stay here (wrapped as tensors once) until
 * the runtime drops it from its cache ('forget'): a run names its adapters by id. A batch of one adapter
 * runs the graph without adapter_index on those tensors as they are; a mixed batch is stacked here, off
 * the server's event loop, and runs the graph that gathers per row (created on the first mixed batch).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BertConfig } from '../shared/bert-config.ts';
import { toOnnxModel } from '../trainer/graph/onnx-export.ts';
import { buildServingGraph, type ServingGraph, stackPacked } from '../trainer/model/serving-graph.ts';
import { createSession, hostTensor, type ort } from '../trainer/sessions/session.ts';
import type { FeedTensor, PackedFeeds, Variant } from './engine.ts';
import { epochMs } from './trace.ts';

export interface WeightLayout {
  name: string;
  /** Float offset into the buffer. */
  offset: number;
  shape: number[];
}

export type WorkerRequest =
  | { op: 'base'; id: number; name: string; config: BertConfig; buffer: ArrayBuffer; layout: WeightLayout[] }
  | { op: 'session'; id: number; key: string; base: string; variant: Variant }
  | { op: 'run'; id: number; key: string; feeds: Record<string, FeedTensor>; adapters: WorkerAdapter[]; trace?: boolean }
  | { op: 'forget'; id: number; adapter: number }
  | { op: 'stats'; id: number }
  | { op: 'close'; id: number };

/**
 * An adapter of a run: `adapter` its id; `packed` with its first run (kept under the id when `keep`, else
 * used for this run only: an adapter the runtime already forgot, still wanted by a queued request).
 */
export interface WorkerAdapter {
  adapter: number;
  packed?: PackedFeeds;
  keep?: boolean;
}

/** What the worker built and copied so far (tests read it: no per-run copy of a resident adapter's tensors). */
export interface WorkerStats {
  /** Adapters whose packed feeds were wrapped as tensors (once per resident adapter). */
  adapterFeedsBuilt: number;
  /** Mixed runs, each stacking its adapters' feeds (the one copy a mixed batch makes). */
  stackedRuns: number;
  /** Runs of one adapter on its feeds as they are. */
  oneAdapterRuns: number;
  residentAdapters: number;
}

export type WorkerReply =
  | {
      id: number;
      ok: true;
      logits?: { data: Float32Array; dims: number[] };
      createMs?: number;
      stats?: WorkerStats;
      /** With `trace`: when the run was received, its feeds ready and its session done (epochMs). */
      times?: { received: number; fed: number; ran: number };
    }
  | { id: number; ok: false; error: string };

const { threads } = workerData as { threads?: number };
const bases = new Map<string, { config: BertConfig; weights: Map<string, ort.Tensor> }>();
interface Sessions {
  base: BertConfig;
  variant: Variant;
  /** The graph without adapter_index, for batches of one adapter. */
  one: ort.InferenceSession;
  /** The graph gathering per row, for mixed batches: created on the first one. */
  mixed: Promise<ort.InferenceSession> | null;
  frozen: Record<string, ort.Tensor>;
}
const sessions = new Map<string, Sessions>();
interface Resident {
  packed: PackedFeeds;
  tensors: Record<string, ort.Tensor> | null;
}
const resident = new Map<number, Resident>();
const stats: WorkerStats = { adapterFeedsBuilt: 0, stackedRuns: 0, oneAdapterRuns: 0, residentAdapters: 0 };

const session = (graph: ServingGraph['graph']) => createSession(toOnnxModel(graph, 'serving'), { threads, spinning: false });

function residentOf(a: WorkerAdapter): Resident {
  const kept = resident.get(a.adapter);
  if (kept) return kept;
  if (!a.packed) throw new Error(`adapter ${a.adapter} is not on this worker (forgotten before its run)`);
  const r: Resident = { packed: a.packed, tensors: null };
  if (a.keep) resident.set(a.adapter, r);
  stats.residentAdapters = resident.size;
  return r;
}

/** An adapter's feeds as tensors, wrapped once (no copy: the tensors view the packed buffers). */
function tensorsOf(r: Resident): Record<string, ort.Tensor> {
  if (r.tensors) return r.tensors;
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(r.packed)) out[name] = hostTensor(t.data, t.dims);
  stats.adapterFeedsBuilt++;
  r.tensors = out;
  return out;
}

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
      const { graph, frozen } = buildServingGraph(base.config, m.variant, { oneAdapter: true });
      const one = await session(graph);
      const feeds: Record<string, ort.Tensor> = {};
      for (const p of frozen) {
        const t = base.weights.get(p.name);
        if (!t) throw new Error(`base "${m.base}" has no tensor "${p.name}"`);
        feeds[p.name] = t;
      }
      sessions.set(m.key, { base: base.config, variant: m.variant, one, mixed: null, frozen: feeds });
      return { id: m.id, ok: true, createMs: performance.now() - t0 };
    }
    case 'run': {
      const received = m.trace ? epochMs() : 0;
      const packs = m.adapters.map(residentOf); // first: an adapter sent with a failing run is still kept
      const s = sessions.get(m.key);
      if (!s) throw new Error(`no session "${m.key}" on this worker`);
      const feeds: Record<string, ort.Tensor> = { ...s.frozen };
      for (const [name, t] of Object.entries(m.feeds)) feeds[name] = hostTensor(t.data, t.dims);
      let run: ort.InferenceSession;
      if (packs.length === 1) {
        Object.assign(feeds, tensorsOf(packs[0]));
        stats.oneAdapterRuns++;
        run = s.one;
      } else {
        for (const [name, t] of Object.entries(stackPacked(packs.map((p) => p.packed)))) feeds[name] = hostTensor(t.data, t.dims);
        stats.stackedRuns++;
        s.mixed ??= session(buildServingGraph(s.base, s.variant).graph);
        run = await s.mixed;
      }
      const fed = m.trace ? epochMs() : 0;
      const out = await run.run(feeds, ['logits']);
      const logits = out.logits;
      const times = m.trace ? { received, fed, ran: epochMs() } : undefined;
      return { id: m.id, ok: true, logits: { data: logits.data as Float32Array, dims: [...logits.dims] }, times };
    }
    case 'forget': {
      resident.delete(m.adapter);
      stats.residentAdapters = resident.size;
      return { id: m.id, ok: true };
    }
    case 'stats':
      return { id: m.id, ok: true, stats: { ...stats } };
    case 'close': {
      for (const s of sessions.values()) {
        await s.one.release();
        await (await s.mixed?.catch(() => null))?.release();
      }
      sessions.clear();
      resident.clear();
      bases.clear();
      return { id: m.id, ok: true };
    }
  }
}

/** The buffer a reply moves back: the logits (the run's own output, not copied). */
function transferOf(reply: WorkerReply): ArrayBuffer[] {
  const data = reply.ok ? reply.logits?.data : undefined;
  return data?.buffer instanceof ArrayBuffer ? [data.buffer] : [];
}

parentPort!.on('message', (m: WorkerRequest) => {
  handle(m).then(
    (reply) => parentPort!.postMessage(reply, transferOf(reply)),
    (err: unknown) => parentPort!.postMessage({ id: m.id, ok: false, error: (err as Error).message } satisfies WorkerReply),
  );
});
