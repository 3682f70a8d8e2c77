import { describe, expect, it } from 'vitest';
import { classify, compareRuns, latencyPairs, pairedRatioIntervals, type PairOutcome } from '../../bench/geo/pairwise.js';

const o = (i: number, latencyMs: number, region?: PairOutcome['region'], regionCache?: PairOutcome['regionCache'], extra: Partial<PairOutcome> = {}): PairOutcome => ({
  i,
  latencyMs,
  edgeHit: region === undefined,
  ok: true,
  region,
  regionCache,
  ...extra,
});

describe('geo pairwise comparison (bench/geo/pairwise.ts)', () => {
  it.each([
    ['same region, same cache result', o(0, 10, 'us-east-1', 'HIT'), o(0, 9, 'us-east-1', 'HIT'), 'same-region-same-cache'],
    ['same region, a miss where the other hit', o(0, 10, 'us-east-1', 'MISS'), o(0, 9, 'us-east-1', 'HIT'), 'same-region-other-cache'],
    ['another region that held the variant', o(0, 10, 'us-west-1', 'HIT'), o(0, 9, 'us-east-1', 'MISS'), 'other-region-hit'],
    ['another region that did not', o(0, 10, 'eu-central-1', 'MISS'), o(0, 9, 'us-east-1', 'HIT'), 'other-region-miss'],
  ] as const)('%s', (_name, a, b, want) => {
    expect(classify(a, b)).toBe(want);
  });

  it('counts the requests that cross the second policy’s median, per class, and the differences', () => {
    // b's latencies 10, 20, 30, 40, 50 → median 30.
    const b = [o(0, 10), o(1, 20, 'us-east-1', 'HIT'), o(2, 30, 'us-east-1', 'HIT'), o(3, 40, 'us-east-1', 'MISS'), o(4, 50, 'us-east-1', 'MISS')];
    const a = [
      o(0, 10), // an edge hit for both: not compared
      o(1, 35, 'us-east-1', 'HIT'), // same choice, slower, crosses 30 upwards: a loss
      o(2, 31, 'us-west-1', 'HIT'), // another region: a loss too
      o(3, 25, 'eu-central-1', 'MISS'), // another region, faster, crosses downwards: a win
      o(4, 50, 'us-east-1', 'MISS'), // same, no crossing
    ];
    const r = compareRuns(a, b);
    expect(r.medianB).toBe(30);
    expect(r.compared).toBe(4);
    expect(r.byClass['same-region-same-cache']).toMatchObject({ n: 2, diffP50: 7.5, diffMean: 7.5, losses: 1, wins: 0 });
    expect(r.byClass['other-region-hit']).toMatchObject({ n: 1, diffP50: 1, diffMean: 1, losses: 1, wins: 0 });
    expect(r.byClass['other-region-miss']).toMatchObject({ n: 1, diffP50: -15, diffMean: -15, losses: 0, wins: 1 });
    expect(r.byClass['same-region-other-cache'].n).toBe(0);
  });

  it('splits a class’s difference by where the time went (edge worker, region, body), over the requests that have the parts', () => {
    const b = [o(1, 40, 'us-east-1', 'HIT', { edgeMs: 5, originMs: 30, bodyMs: 1 }), o(2, 40, 'us-east-1', 'HIT', { edgeMs: 5, originMs: 30, bodyMs: 1 }), o(3, 40, 'us-east-1', 'HIT')];
    const a = [o(1, 52, 'us-east-1', 'HIT', { edgeMs: 6, originMs: 40, bodyMs: 2 }), o(2, 50, 'us-east-1', 'HIT', { edgeMs: 6, originMs: 38, bodyMs: 2 }), o(3, 45, 'us-east-1', 'HIT')];
    expect(compareRuns(a, b).byClass['same-region-same-cache'].parts).toEqual({ edgeMs: 1, originMs: 9, bodyMs: 1 });
  });

  it('leaves out failed requests and requests the other policy did not run', () => {
    const b = [o(1, 20, 'us-east-1', 'HIT'), o(2, 30, 'us-east-1', 'HIT', { ok: false })];
    const a = [o(1, 25, 'us-east-1', 'HIT'), o(2, 30, 'us-east-1', 'HIT'), o(3, 30, 'us-east-1', 'HIT')];
    expect(compareRuns(a, b).compared).toBe(1);
  });
});

describe('paired-bootstrap ratio intervals (bench/geo/pairwise.ts)', () => {
  const ramp = (n: number) => Array.from({ length: n }, (_, k) => 10 + k);
  it.each([
    ['identical latencies: ratio 1 and no spread', ramp(101).map((v) => [v, v] as const), 1, 1, 1],
    ['a exactly 10 % slower on every request: 1.1 with no spread', ramp(101).map((v) => [v * 1.1, v] as const), 1.1, 1.1, 1.1],
  ])('%s', (_name, pairs, ratio, lo, hi) => {
    const [p50] = pairedRatioIntervals(pairs, [50], 200, 3);
    expect(p50).toEqual({ ratio, lo, hi });
  });

  it('gives a range around the ratio when the same-choice times differ by noise, and it narrows with 16× the pairs', () => {
    const noisy = (n: number, seed: number) => {
      let s = seed;
      const u = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      return Array.from({ length: n }, () => {
        const base = 20 + 200 * u();
        return [base + 8 * (u() - 0.5), base + 8 * (u() - 0.5)] as const;
      });
    };
    const [small] = pairedRatioIntervals(noisy(100, 5), [50], 400, 1);
    const [large] = pairedRatioIntervals(noisy(1600, 5), [50], 400, 1);
    expect(small!.lo).toBeLessThan(small!.ratio);
    expect(small!.hi).toBeGreaterThan(small!.ratio);
    expect(large!.hi - large!.lo).toBeLessThan((small!.hi - small!.lo) / 2);
  });

  it('pairs the measured requests by index and counts an unanswered one as infinitely slow', () => {
    const a = [o(0, 10), o(1, 20, 'us-east-1', 'HIT', { ok: false }), o(2, 30, 'us-east-1', 'HIT')];
    const b = [o(0, 11), o(2, 29, 'us-east-1', 'HIT'), o(1, 19, 'us-east-1', 'HIT')];
    expect(latencyPairs(a, b)).toEqual([
      [10, 11],
      [Infinity, 19],
      [30, 29],
    ]);
  });
});
