/** Seeded randomness for reproducible workloads: mulberry32 plus the draws the suites need. */

/** A 32-bit FNV-1a hash, to derive independent seeds from names (e.g. one per network link). */
export function hashSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const ch of parts.join('|')) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** Log-normal with the given median and log-space sigma. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Index drawn with probability proportional to weights[i]. */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((a, b) => a + b, 0);
    let x = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }
}

/** Zipf(s) over ranks 0..n-1 (rank 0 most popular), by inverse CDF over precomputed weights. */
export class Zipf {
  private readonly cdf: number[];
  constructor(
    readonly n: number,
    readonly s: number,
  ) {
    const w = Array.from({ length: n }, (_, i) => 1 / Math.pow(i + 1, s));
    const total = w.reduce((a, b) => a + b, 0);
    let acc = 0;
    this.cdf = w.map((x) => (acc += x / total));
  }
  sample(rng: Rng): number {
    const x = rng.next();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
