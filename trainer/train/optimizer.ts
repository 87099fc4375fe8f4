/**
 * Optimizers over the trainable set, in place on the Float32Arrays the sessions read.
 * Semantics are PyTorch's (torch.optim.AdamW / SGD, clip_grad_norm_); state exists only for trainable
 * parameters, and a step allocates nothing (full fine-tuning runs these over ~110M values).
 */

export interface Param {
  name: string;
  data: Float32Array;
}

/** Gradients aligned with the params (same order), or keyed by parameter name. */
export type Gradients = readonly Float32Array[] | ReadonlyMap<string, Float32Array>;

/** Hugging Face Trainer's rule: no weight decay on biases and LayerNorm weights. */
export const defaultNoDecay = (name: string): boolean => name.endsWith('.bias') || name.includes('LayerNorm');

function isMap(grads: Gradients): grads is ReadonlyMap<string, Float32Array> {
  return grads instanceof Map;
}

/** The gradient of param k, checked against it (a wrong-shaped gradient would silently corrupt weights). */
function gradFor(grads: Gradients, params: readonly Param[], k: number): Float32Array {
  const p = params[k];
  const g = isMap(grads) ? grads.get(p.name) : grads[k];
  if (!g) throw new Error(`optimizer: no gradient for parameter "${p.name}"`);
  if (g.length !== p.data.length)
    throw new Error(`optimizer: gradient of "${p.name}" has ${g.length} values, the parameter ${p.data.length}`);
  return g;
}

/** An aligned list must match one to one; a map only needs every param's name (extras are ignored). */
function checkCount(grads: Gradients, params: readonly Param[]): void {
  if (!isMap(grads) && grads.length !== params.length)
    throw new Error(`optimizer: ${grads.length} gradients for ${params.length} parameters`);
}

function checkRate(lr: number): void {
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`learning rate must be a finite number >= 0, got ${lr}`);
}

export interface AdamWOptions {
  /** Used when step() is called without one. */
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  noDecay?: (name: string) => boolean;
}

/** For checkpointing: `m` / `v` aligned with the params. state() returns live arrays, not copies. */
export interface AdamWState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class AdamW {
  private t = 0;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private readonly decay: boolean[];
  private readonly lr: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;

  constructor(
    private readonly params: readonly Param[],
    opts: AdamWOptions,
  ) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    // The same argument checks torch.optim.AdamW makes.
    checkRate(this.lr);
    if (!(this.beta1 >= 0 && this.beta1 < 1)) throw new RangeError(`AdamW beta1 must be in [0, 1), got ${this.beta1}`);
    if (!(this.beta2 >= 0 && this.beta2 < 1)) throw new RangeError(`AdamW beta2 must be in [0, 1), got ${this.beta2}`);
    if (!(this.eps >= 0)) throw new RangeError(`AdamW eps must be >= 0, got ${this.eps}`);
    if (!(this.weightDecay >= 0)) throw new RangeError(`AdamW weight decay must be >= 0, got ${this.weightDecay}`);
    const noDecay = opts.noDecay ?? defaultNoDecay;
    this.m = params.map((p) => new Float32Array(p.data.length));
    this.v = params.map((p) => new Float32Array(p.data.length));
    this.decay = params.map((p) => !noDecay(p.name));
  }

  /**
   * One update, in torch's order: p *= 1 - lr·wd (decoupled decay, skipped for no-decay names), then
   * m, v moments and p -= (lr / (1 - β1^t)) · m / (sqrt(v) / sqrt(1 - β2^t) + eps).
   */
  step(grads: Gradients, lr: number = this.lr): void {
    checkRate(lr);
    checkCount(grads, this.params);
    this.t++;
    const { beta1: b1, beta2: b2, eps } = this;
    const stepSize = lr / (1 - b1 ** this.t);
    const sqrtC2 = Math.sqrt(1 - b2 ** this.t);
    for (let k = 0; k < this.params.length; k++) {
      const p = this.params[k].data;
      const g = gradFor(grads, this.params, k);
      const m = this.m[k];
      const v = this.v[k];
      const shrink = this.decay[k] ? 1 - lr * this.weightDecay : 1;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = b1 * m[i] + (1 - b1) * gi;
        const vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * shrink - (stepSize * mi) / (Math.sqrt(vi) / sqrtC2 + eps);
      }
    }
  }

  /** Steps taken so far (t in the bias corrections). */
  get stepCount(): number {
    return this.t;
  }

  state(): AdamWState {
    return { step: this.t, m: this.m, v: this.v };
  }

  /** Restores a state() of an optimizer over the same parameters (copied in). */
  loadState(s: AdamWState): void {
    if (!Number.isInteger(s.step) || s.step < 0) throw new RangeError(`AdamW state: step must be an integer >= 0, got ${s.step}`);
    if (s.m.length !== this.params.length || s.v.length !== this.params.length) {
      throw new Error(`AdamW state: ${s.m.length} / ${s.v.length} moment tensors for ${this.params.length} parameters`);
    }
    this.params.forEach((p, k) => {
      if (s.m[k].length !== p.data.length || s.v[k].length !== p.data.length) {
        throw new Error(
          `AdamW state: moments of "${p.name}" have ${s.m[k].length} / ${s.v[k].length} values, the parameter ${p.data.length}`,
        );
      }
    });
    this.t = s.step;
    s.m.forEach((m, k) => this.m[k].set(m));
    s.v.forEach((v, k) => this.v[k].set(v));
  }
}

export interface SGDOptions {
  /** Used when step() is called without one. */
  lr: number;
  weightDecay?: number;
  noDecay?: (name: string) => boolean;
}

/** torch.optim.SGD without momentum: p -= lr·(g + wd·p) (coupled L2 decay), exactly p -= lr·g at wd 0. */
export class SGD {
  private readonly decay: boolean[];
  private readonly lr: number;
  private readonly weightDecay: number;

  constructor(
    private readonly params: readonly Param[],
    opts: SGDOptions,
  ) {
    this.lr = opts.lr;
    this.weightDecay = opts.weightDecay ?? 0;
    checkRate(this.lr);
    if (!(this.weightDecay >= 0)) throw new RangeError(`SGD weight decay must be >= 0, got ${this.weightDecay}`);
    const noDecay = opts.noDecay ?? defaultNoDecay;
    this.decay = params.map((p) => !noDecay(p.name));
  }

  step(grads: Gradients, lr: number = this.lr): void {
    checkRate(lr);
    checkCount(grads, this.params);
    for (let k = 0; k < this.params.length; k++) {
      const p = this.params[k].data;
      const g = gradFor(grads, this.params, k);
      const wd = this.decay[k] ? this.weightDecay : 0;
      if (wd === 0) for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
      else for (let i = 0; i < p.length; i++) p[i] -= lr * (g[i] + wd * p[i]);
    }
  }
}

/**
 * Global L2 norm clipping as torch.nn.utils.clip_grad_norm_: the norm over all gradients (summed in
 * float64), then every gradient scaled in place by maxNorm / (norm + 1e-6) when that is below 1.
 * maxNorm 0 = off. Returns the norm before clipping.
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  if (!(maxNorm >= 0)) throw new RangeError(`max gradient norm must be >= 0, got ${maxNorm}`);
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (maxNorm > 0) {
    // torch clamps the coefficient at 1 rather than testing norm > maxNorm, so it also (barely) scales
    // when norm is within 1e-6 below maxNorm; the same test keeps results identical.
    const scale = maxNorm / (norm + 1e-6);
    if (scale < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= scale;
  }
  return norm;
}
