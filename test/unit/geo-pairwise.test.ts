import { describe, expect, it } from 'vitest';
import { classify, compareRuns, type PairOutcome } from '../../bench/geo/pairwise.js';

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
    expect(r.byClass['same-region-same-cache']).toEqual({ n: 2, diffP50: 7.5, diffMean: 7.5, losses: 1, wins: 0 });
    expect(r.byClass['other-region-hit']).toEqual({ n: 1, diffP50: 1, diffMean: 1, losses: 1, wins: 0 });
    expect(r.byClass['other-region-miss']).toEqual({ n: 1, diffP50: -15, diffMean: -15, losses: 0, wins: 1 });
    expect(r.byClass['same-region-other-cache'].n).toBe(0);
  });

  it('leaves out failed requests and requests the other policy did not run', () => {
    const b = [o(1, 20, 'us-east-1', 'HIT'), o(2, 30, 'us-east-1', 'HIT', { ok: false })];
    const a = [o(1, 25, 'us-east-1', 'HIT'), o(2, 30, 'us-east-1', 'HIT'), o(3, 30, 'us-east-1', 'HIT')];
    expect(compareRuns(a, b).compared).toBe(1);
  });
});
