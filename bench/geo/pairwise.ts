/**
 * Request-by-request comparison of two policies over the same stream (the geo benchmark runs every
 * policy over the same requests): where does one policy's median request lose to the other's?
 *
 * For the requests both answered as edge misses, each is put in one class by what the first policy
 * (`a`, pixmesh) did compared with the second (`b`, static nearest): the same region with the same
 * region-cache result (the choice was the same: any difference is time, not routing), the same
 * region with another cache result (the caches differ: fills, earlier choices), or another region
 * (hit or miss there). Per class: how many, the median and mean of a − b, and how many requests
 * crossed b's median — "losses" (b at or under its p50, a above it) and "wins" (the reverse). The
 * p50 ratio moves with losses − wins; the classes say whether that is the choice or the time.
 */
import type { RegionId } from '../../shared/regions.js';
import { Rng } from '../lib/prng.js';
import { percentile, round } from '../lib/stats.js';

export interface PairOutcome {
  i: number;
  latencyMs: number;
  edgeHit: boolean;
  ok: boolean;
  region?: RegionId;
  regionCache?: 'HIT' | 'MISS';
  /** Where the time went (when known): the edge worker's own part, the edge's time to the region's headers, the body after the headers. */
  edgeMs?: number;
  originMs?: number;
  bodyMs?: number;
}

const PARTS = ['edgeMs', 'originMs', 'bodyMs'] as const;

export type PairClass = 'same-region-same-cache' | 'same-region-other-cache' | 'other-region-hit' | 'other-region-miss';
export const PAIR_CLASSES: PairClass[] = ['same-region-same-cache', 'same-region-other-cache', 'other-region-hit', 'other-region-miss'];

export interface PairClassReport {
  n: number;
  /** a − b, ms. */
  diffP50: number;
  diffMean: number;
  /** b at or under b's p50 and a above it / the reverse. */
  losses: number;
  wins: number;
  /** Median of a − b per part of the time, over the requests where both have it (a class's Δ p50 split by where it went). */
  parts: { edgeMs: number; originMs: number; bodyMs: number };
}

export interface PairwiseReport {
  /** b's p50 over every measured request (edge hits included): the line the crossings are counted at. */
  medianB: number;
  /** Measured requests that were edge misses answered by both. */
  compared: number;
  byClass: Record<PairClass, PairClassReport>;
}

export function classify(a: PairOutcome, b: PairOutcome): PairClass {
  if (a.region === b.region) return a.regionCache === b.regionCache ? 'same-region-same-cache' : 'same-region-other-cache';
  return a.regionCache === 'HIT' ? 'other-region-hit' : 'other-region-miss';
}

/** `a` and `b`: the measured requests of each policy (same stream, matched by index `i`). */
export function compareRuns(a: PairOutcome[], b: PairOutcome[]): PairwiseReport {
  const medianB = percentile(
    b.map((x) => (x.ok ? x.latencyMs : Infinity)),
    50,
  );
  const byI = new Map(b.map((x) => [x.i, x]));
  const diffs = Object.fromEntries(PAIR_CLASSES.map((c) => [c, [] as number[]])) as Record<PairClass, number[]>;
  const cross = Object.fromEntries(PAIR_CLASSES.map((c) => [c, { losses: 0, wins: 0 }])) as Record<PairClass, { losses: number; wins: number }>;
  const parts = Object.fromEntries(PAIR_CLASSES.map((c) => [c, { edgeMs: [] as number[], originMs: [] as number[], bodyMs: [] as number[] }])) as Record<PairClass, Record<(typeof PARTS)[number], number[]>>;
  let compared = 0;
  for (const x of a) {
    const y = byI.get(x.i);
    if (!y || x.edgeHit || y.edgeHit || !x.ok || !y.ok || !x.region || !y.region) continue;
    compared++;
    const c = classify(x, y);
    diffs[c].push(x.latencyMs - y.latencyMs);
    for (const k of PARTS) if (x[k] !== undefined && y[k] !== undefined) parts[c][k].push(x[k]! - y[k]!);
    if (y.latencyMs <= medianB && x.latencyMs > medianB) cross[c].losses++;
    if (x.latencyMs <= medianB && y.latencyMs > medianB) cross[c].wins++;
  }
  const byClass = Object.fromEntries(
    PAIR_CLASSES.map((c) => {
      const d = diffs[c];
      const med = (xs: number[]) => (xs.length ? round(percentile(xs, 50)) : NaN);
      return [c, { n: d.length, diffP50: med(d), diffMean: d.length ? round(d.reduce((s, v) => s + v, 0) / d.length) : NaN, ...cross[c], parts: { edgeMs: med(parts[c].edgeMs), originMs: med(parts[c].originMs), bodyMs: med(parts[c].bodyMs) } }];
    }),
  ) as Record<PairClass, PairClassReport>;
  return { medianB: round(medianB), compared, byClass };
}

export interface RatioInterval {
  /** a's quantile ÷ b's quantile over the pairs given. */
  ratio: number;
  /** 5th and 95th percentile of the ratio over paired bootstrap resamples: the sampling noise of `ratio`. */
  lo: number;
  hi: number;
}

/**
 * Paired bootstrap of quantile ratios: `pairs` are (a, b) latencies of the same request under two
 * policies (Infinity for a failed one). Each round draws as many pairs as given, with replacement,
 * keeping each pair together, and takes a's quantile ÷ b's; the 5–95 % range of those ratios is how
 * far the ratio moves from which requests happened to be measured alone — the noise a "≤ 2 %"
 * allowance is compared with. Seeded (`Rng`), so a report regenerates the same figures.
 */
export function pairedRatioIntervals(pairs: readonly (readonly [number, number])[], quantiles: readonly number[], rounds = 1000, seed = 1): RatioInterval[] {
  const ratioAt = (as: number[], bs: number[], q: number) => percentile(as, q) / percentile(bs, q);
  const full = quantiles.map((q) => ratioAt(pairs.map((p) => p[0]), pairs.map((p) => p[1]), q));
  if (!pairs.length) return quantiles.map(() => ({ ratio: NaN, lo: NaN, hi: NaN }));
  const rng = new Rng(seed);
  const draws = quantiles.map(() => [] as number[]);
  const as = new Array<number>(pairs.length);
  const bs = new Array<number>(pairs.length);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < pairs.length; k++) {
      const p = pairs[Math.floor(rng.next() * pairs.length)]!;
      as[k] = p[0];
      bs[k] = p[1];
    }
    quantiles.forEach((q, j) => draws[j]!.push(ratioAt(as, bs, q)));
  }
  return quantiles.map((_, j) => ({ ratio: round(full[j]!, 3), lo: round(percentile(draws[j]!, 5), 3), hi: round(percentile(draws[j]!, 95), 3) }));
}

/** The measured requests of two runs of the same stream as (a, b) latency pairs, matched by index (Infinity = not answered). */
export function latencyPairs(a: readonly PairOutcome[], b: readonly PairOutcome[]): [number, number][] {
  const byI = new Map(b.map((x) => [x.i, x]));
  const out: [number, number][] = [];
  for (const x of a) {
    const y = byI.get(x.i);
    if (y) out.push([x.ok ? x.latencyMs : Infinity, y.ok ? y.latencyMs : Infinity]);
  }
  return out;
}
