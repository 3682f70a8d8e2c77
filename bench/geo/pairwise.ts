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
import { percentile, round } from '../lib/stats.js';

export interface PairOutcome {
  i: number;
  latencyMs: number;
  edgeHit: boolean;
  ok: boolean;
  region?: RegionId;
  regionCache?: 'HIT' | 'MISS';
}

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
  let compared = 0;
  for (const x of a) {
    const y = byI.get(x.i);
    if (!y || x.edgeHit || y.edgeHit || !x.ok || !y.ok || !x.region || !y.region) continue;
    compared++;
    const c = classify(x, y);
    diffs[c].push(x.latencyMs - y.latencyMs);
    if (y.latencyMs <= medianB && x.latencyMs > medianB) cross[c].losses++;
    if (x.latencyMs <= medianB && y.latencyMs > medianB) cross[c].wins++;
  }
  const byClass = Object.fromEntries(
    PAIR_CLASSES.map((c) => {
      const d = diffs[c];
      return [c, { n: d.length, diffP50: d.length ? round(percentile(d, 50)) : NaN, diffMean: d.length ? round(d.reduce((s, v) => s + v, 0) / d.length) : NaN, ...cross[c] }];
    }),
  ) as Record<PairClass, PairClassReport>;
  return { medianB: round(medianB), compared, byClass };
}
