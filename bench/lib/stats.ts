/** Percentiles and summaries of latency samples (ms). */

/** Linear-interpolated percentile (p in 0–100) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

export interface LatencySummary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p98: number;
  p99: number;
  max: number;
}

export const round = (x: number, digits = 1): number => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);

export function summarise(values: readonly number[]): LatencySummary {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : NaN;
  return {
    n,
    mean: round(mean),
    p50: round(percentile(values, 50)),
    p90: round(percentile(values, 90)),
    p98: round(percentile(values, 98)),
    p99: round(percentile(values, 99)),
    max: round(n ? Math.max(...values) : NaN),
  };
}

/** Share of values at or below a threshold. */
export const shareBelow = (values: readonly number[], threshold: number): number =>
  values.length ? values.filter((v) => v <= threshold).length / values.length : NaN;
