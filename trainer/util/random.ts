/**
 * A small seeded PRNG (sfc32) for everything the trainer draws: random test checkpoints, adapter init,
 * data shuffling. Deterministic given the seed, on every platform: only 32-bit integer arithmetic
 * (Math.imul, |0, >>>) plus Math.log/sqrt/cos/sin for the normals.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  // Box–Muller yields normals in pairs; the second one waits here.
  private spare = 0;
  private hasSpare = false;

  /** `seed`: any safe integer (negative too); the high bits count, so 1 and 2**32 + 1 differ. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng seed must be a safe integer, got ${seed}`);
    // The reference sfc32 seeding: a = 0, b/c = the 64 seed bits, d = 1 counter, then warm up.
    this.a = 0;
    this.b = seed >>> 0;
    this.c = Math.floor(seed / 0x1_0000_0000) >>> 0;
    this.d = 1;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  /** The next raw 32-bit output, an integer in [0, 2^32). */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1), resolution 2^-32 (plenty for float32 weights and shuffling). */
  uniform(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  /** Standard normal N(0, 1) (Box–Muller). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }

  /** N(0, std²) truncated at ±2·std by resampling (the usual adapter / BERT-style init). */
  truncatedNormal(std: number): number {
    for (;;) {
      const z = this.normal();
      if (z >= -2 && z <= 2) return z * std;
    }
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x1_0000_0000) {
      throw new RangeError(`Rng.int(n) needs an integer 1 <= n <= 2^32, got ${n}`);
    }
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** The generator's whole state, to checkpoint a run and continue it with the same draws. */
  getState(): RngState {
    return { words: [this.a, this.b, this.c, this.d], spare: this.hasSpare ? this.spare : null };
  }

  setState(state: RngState): void {
    [this.a, this.b, this.c, this.d] = state.words;
    this.hasSpare = state.spare !== null;
    this.spare = state.spare ?? 0;
  }
}

export interface RngState {
  words: [number, number, number, number];
  spare: number | null;
}
