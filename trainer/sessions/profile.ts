/**
 * Reads onnxruntime's profile (the JSON array of trace events a session with enableProfiling writes) for
 * which execution provider ran each node, and checks that the nodes that carry the work — matrix products,
 * attention and normalisation — ran on the expected one. onnxruntime silently places a node without a kernel
 * for the requested provider on the CPU (with device copies around it): the profile is where that shows.
 */

/** One graph node as it ran (deduplicated over runs). */
export interface NodeRun {
  /** Node name after onnxruntime's fusions, e.g. `Gemm_12` or `MatMul_3_FusedMatMulAndScale`. */
  node: string;
  op: string;
  provider: string;
}

export type HeavyKind = 'matmul' | 'gemm' | 'attention' | 'normalization';

/** Ops whose placement decides a step's speed, by kind (onnxruntime's fused forms included). */
const HEAVY_OPS: Record<string, HeavyKind> = {
  MatMul: 'matmul',
  FusedMatMul: 'matmul',
  MatMulInteger: 'matmul',
  Gemm: 'gemm',
  FusedGemm: 'gemm',
  Softmax: 'attention',
  Attention: 'attention',
  MultiHeadAttention: 'attention',
  LayerNormalization: 'normalization',
  SkipLayerNormalization: 'normalization',
  SimplifiedLayerNormalization: 'normalization',
  SkipSimplifiedLayerNormalization: 'normalization',
};

export function heavyKind(op: string): HeavyKind | null {
  return HEAVY_OPS[op] ?? null;
}

const KERNEL_SUFFIX = '_kernel_time';

/**
 * The nodes a profile shows running: its `Node` events named `<node>_kernel_time`, whose args carry
 * `op_name` and `provider`. @param source what the text is, for the error messages (a file name).
 */
export function parseProfile(text: string, source = 'profile'): NodeRun[] {
  let events: unknown;
  try {
    events = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(events)) throw new Error(`${source}: expected onnxruntime's array of trace events`);
  const byNode = new Map<string, NodeRun>();
  events.forEach((e: unknown, i) => {
    if (typeof e !== 'object' || e === null) throw new Error(`${source}: event ${i} is not an object`);
    const { cat, name, args } = e as { cat?: unknown; name?: unknown; args?: unknown };
    if (cat !== 'Node' || typeof name !== 'string' || !name.endsWith(KERNEL_SUFFIX)) return;
    const a = (args ?? {}) as { op_name?: unknown; provider?: unknown };
    if (typeof a.op_name !== 'string' || typeof a.provider !== 'string')
      throw new Error(`${source}: node event "${name}" has no args.op_name / args.provider`);
    const node = name.slice(0, -KERNEL_SUFFIX.length);
    const seen = byNode.get(node);
    if (seen && seen.provider !== a.provider) throw new Error(`${source}: node "${node}" ran on both ${seen.provider} and ${a.provider}`);
    byNode.set(node, { node, op: a.op_name, provider: a.provider });
  });
  return [...byNode.values()];
}

export interface PlacementCheck {
  provider: string;
  /** Node count per op (every op seen), per provider. */
  ops: Map<string, Map<string, number>>;
  /** Heavy nodes run, per kind. */
  heavy: Map<HeavyKind, number>;
  /** Heavy nodes that ran on another provider: each one is a failure. */
  misplaced: NodeRun[];
}

/** Where the nodes ran, against the provider every heavy node must have run on. */
export function checkPlacement(nodes: readonly NodeRun[], provider: string): PlacementCheck {
  const ops = new Map<string, Map<string, number>>();
  const heavy = new Map<HeavyKind, number>();
  const misplaced: NodeRun[] = [];
  for (const n of nodes) {
    const perProvider = ops.get(n.op) ?? new Map<string, number>();
    perProvider.set(n.provider, (perProvider.get(n.provider) ?? 0) + 1);
    ops.set(n.op, perProvider);
    const kind = heavyKind(n.op);
    if (!kind) continue;
    heavy.set(kind, (heavy.get(kind) ?? 0) + 1);
    if (n.provider !== provider) misplaced.push(n);
  }
  return { provider, ops, heavy, misplaced };
}
