/**
 * Optimizers over the small trainable set, in place on the Float32Arrays the sessions read.
 * Semantics are PyTorch's (torch.optim.AdamW / SGD); no state exists for frozen weights.
 */

export interface Param {
  name: string;
  data: Float32Array;
}

/** Hugging Face Trainer's rule: no weight decay on biases and LayerNorm weights. */
export const defaultNoDecay = (name: string): boolean => name.endsWith('.bias') || name.includes('LayerNorm');

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  noDecay?: (name: string) => boolean;
}

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
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;

  constructor(private readonly params: readonly Param[], opts: AdamWOptions) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    const noDecay = opts.noDecay ?? defaultNoDecay;
    this.m = params.map((p) => new Float32Array(p.data.length));
    this.v = params.map((p) => new Float32Array(p.data.length));
    this.decay = params.map((p) => !noDecay(p.name));
  }

  /** One update with gradients aligned with the params. */
  step(grads: readonly Float32Array[], lr: number): void {
    this.t++;
    const { beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const stepSize = lr / c1;
    const sqrtC2 = Math.sqrt(c2);
    for (let k = 0; k < this.params.length; k++) {
      const p = this.params[k].data;
      const g = grads[k];
      const m = this.m[k];
      const v = this.v[k];
      const shrink = this.decay[k] ? 1 - lr * this.weightDecay : 1;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
        p[i] = p[i] * shrink - (stepSize * mi) / (Math.sqrt(vi) / sqrtC2 + eps);
      }
    }
  }

  state(): AdamWState {
    return { step: this.t, m: this.m, v: this.v };
  }

  loadState(s: AdamWState): void {
    this.t = s.step;
    s.m.forEach((m, k) => this.m[k].set(m));
    s.v.forEach((v, k) => this.v[k].set(v));
  }
}

export class SGD {
  private readonly decay: boolean[];
  private readonly weightDecay: number;

  constructor(private readonly params: readonly Param[], opts: { lr: number; weightDecay?: number; noDecay?: (name: string) => boolean }) {
    this.weightDecay = opts.weightDecay ?? 0;
    const noDecay = opts.noDecay ?? defaultNoDecay;
    this.decay = params.map((p) => !noDecay(p.name));
  }

  /** p ← p − lr·(g + wd·p): exactly p − lr·g without weight decay. */
  step(grads: readonly Float32Array[], lr: number): void {
    for (let k = 0; k < this.params.length; k++) {
      const p = this.params[k].data;
      const g = grads[k];
      const wd = this.decay[k] ? this.weightDecay : 0;
      if (wd === 0) for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
      else for (let i = 0; i < p.length; i++) p[i] -= lr * (g[i] + wd * p[i]);
    }
  }
}

/** Global L2 norm clipping as torch.nn.utils.clip_grad_norm_; maxNorm 0 = off. Returns the norm before clipping. */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= scale;
  }
  return norm;
}
