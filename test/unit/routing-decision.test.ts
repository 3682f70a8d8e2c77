/**
 * The parts of the routing decision beyond the prior (docs/routing.md): per-variant evidence,
 * service and work times, hysteresis, exploration by probes, and the variant memory.
 */
import { describe, expect, it } from 'vitest';
import { confirmKey, loopbackKey, planProbes, probeKey } from '../../edge/src/routing/explore.js';
import {
  decideRoute,
  emptyState,
  evidenceFor,
  fillTarget,
  fillTargets,
  forceOrder,
  mixShares,
  nearestRegion,
  recordNearest,
  type RegionMix,
  holdProbability,
  recordHit,
  recordSample,
  recordService,
  restoreState,
  serviceMs,
  type RouteInput,
  type RoutingAccount,
  type RoutingState,
} from '../../edge/src/routing/model.js';
import { forgetVariants, newVariantMemory, recordSighting, variantEvidence } from '../../edge/src/routing/variants.js';
import { REGION_IDS, type RegionId } from '../../shared/regions.js';

const demo: RoutingAccount = { id: 'demo', homeRegion: 'eu-central-1', residency: 'flexible' };
const T0 = 1_800_000_000_000;
const pick = (input: Partial<RouteInput>) => decideRoute({ account: demo, now: T0, location: { colo: 'GRU' }, ...input });

function reports(region: RegionId, hit: boolean, n: number, evidence: 'seen' | 'unseen', s = emptyState()): RoutingState {
  for (let i = 0; i < n; i++) s = recordHit(s, region, hit, T0, 'demo', undefined, evidence).state;
  return s;
}

describe('routing decision: which region holds the variant', () => {
  it.each<[string, { seen: Partial<Record<RegionId, number>> } | undefined, RegionId, string]>([
    ['no per-variant knowledge → the account ratio (evidence none)', undefined, 'us-east-1', 'none'],
    ['seen at us-east-1 a minute ago → seen', { seen: { 'us-east-1': T0 - 60_000 } }, 'us-east-1', 'seen'],
    ['seen at us-east-1 two hours ago → unseen (older than seenTtlMs)', { seen: { 'us-east-1': T0 - 2 * 3_600_000 } }, 'us-east-1', 'unseen'],
    ['seen elsewhere only → unseen here', { seen: { 'ap-south-1': T0 } }, 'us-east-1', 'unseen'],
  ])('%s', (_name, variant, region, want) => {
    expect(evidenceFor(variant, region, T0)).toBe(want);
  });

  it.each<[string, RoutingState, 'seen' | 'unseen' | 'none', number]>([
    ['seen, nothing learned → prior 0.95', emptyState(), 'seen', 0.95],
    ['unseen, nothing learned → the account ratio (0.5)', emptyState(), 'unseen', 0.5],
    ['unseen after 12 MISS answers for unseen variants → (4 × base + 0) / 16', reports('us-east-1', false, 12, 'unseen'), 'unseen', -1],
    ['seen after 12 HIT answers for seen variants → near 1', reports('us-east-1', true, 12, 'seen'), 'seen', -2],
  ])('holdProbability: %s', (_name, state, ev, want) => {
    const p = holdProbability(state, 'us-east-1', 'demo', ev, T0).ratio;
    if (want === -1) {
      const base = holdProbability(state, 'us-east-1', 'demo', 'none', T0).ratio;
      expect(p).toBeCloseTo((4 * base) / 16, 6);
      expect(p).toBeLessThan(0.1);
    } else if (want === -2) expect(p).toBeGreaterThan(0.97);
    else expect(p).toBeCloseTo(want, 6);
  });

  it('GRU: a variant us-east-1 served goes there; one it never saw goes straight home once unseen variants are known to miss', () => {
    const state = reports('us-east-1', false, 20, 'unseen', reports('us-east-1', true, 20, 'seen'));
    const seen = pick({ state, variant: { seen: { 'us-east-1': T0 - 1000, 'eu-central-1': T0 - 1000 } } });
    expect(seen.candidates[0]?.region).toBe('us-east-1');
    expect(seen.candidates[0]?.evidence).toBe('seen');
    const unseen = pick({ state, variant: { seen: {} } });
    expect(unseen.candidates[0]?.region).toBe('eu-central-1');
    expect(unseen.candidates.find((c) => c.region === 'us-east-1')?.evidence).toBe('unseen');
  });

  it('home holding the variant removes the work term from every path', () => {
    const state = reports('eu-central-1', true, 20, 'seen');
    const d = pick({ state, variant: { seen: { 'eu-central-1': T0 } } });
    const home = d.candidates.find((c) => c.isHome)!;
    expect(home.hitRatio).toBeGreaterThan(0.97);
    expect(home.missCostMs).toBeLessThan(2);
  });
});

describe('routing decision: placement credit (a miss through a region warms it)', () => {
  let cold = emptyState();
  for (let i = 0; i < 20; i++) cold = recordHit(cold, 'us-east-1', false, T0, 'demo').state;
  const credit = (d: ReturnType<typeof pick>, r: RegionId) => [...d.candidates, ...d.excluded].find((c) => c.region === r)!.placementCreditMs;
  // GRU, every cache at P(miss) 0.75: via us-east-1 164.4 + 0.75 · (93.1 + 2 + 0.75 · 60) = 269.5 ms, straight home 206.6 + 2 + 0.75 · 60 = 253.6.
  const pv1 = { placementValue: 1 };
  it.each<[string, Partial<RouteInput>, RegionId, number]>([
    ['GRU, P(miss) 0.75, the default placementValue 0 (myopic; the edge fills instead) → home, 15.9 ms shorter now', { config: { hitPrior: 0.25 } }, 'eu-central-1', 0],
    ['GRU, P(miss) 0.75, placementValue 1 → us-east-1: credit 0.75 · (208.6 − 164.4) = 33.2 ms outweighs the 15.9 ms detour', { config: { hitPrior: 0.25, ...pv1 } }, 'us-east-1', 33.2],
    ['GRU, placementValue 1, us-east-1 cold for demo (P(miss) 0.986) → still home: 0.986 · 44.2 = 43.6 ms does not cover the 49.2 ms detour', { state: cold, config: pv1 }, 'eu-central-1', 43.6],
    ['GRU, placementValue 1, nothing learned (P(miss) 0.5) → us-east-1, credit 22.1 ms', { config: pv1 }, 'us-east-1', 22.1],
    ['GRU, placementValue 1, us-east-1 half-open → no credit for a region that may be failing', { health: { 'us-east-1': 'half-open' }, config: pv1 }, 'eu-central-1', 0],
  ])('%s', (_name, input, want, usEast1Credit) => {
    const d = pick(input);
    expect(d.candidates[0]!.region).toBe(want);
    expect(Math.abs(credit(d, 'us-east-1') - usEast1Credit)).toBeLessThanOrEqual(0.15);
    expect(credit(d, 'eu-central-1')).toBe(0);
  });

  it('the credit changes the ranking only: expectedMs is the same with and without it', () => {
    const myopic = pick({ config: { hitPrior: 0.25, placementValue: 0 } });
    const credited = pick({ config: { hitPrior: 0.25, placementValue: 1 } });
    const byRegion = (d: ReturnType<typeof pick>) => Object.fromEntries(d.candidates.map((c) => [c.region, c.expectedMs]));
    expect(byRegion(credited)).toEqual(byRegion(myopic));
    expect(credited.candidates[0]!.expectedMs).toBeGreaterThan(credited.candidates.find((c) => c.isHome)!.expectedMs);
  });
});

describe('routing decision: background fill of the colo’s nearest region (fillTarget)', () => {
  // GRU (prior): us-east-1 162.4 ms is its nearest region; home eu-central-1 206.6.
  const seenAt = (r: RegionId) => ({ seen: { [r]: T0 } });
  it.each<[string, Partial<RouteInput>, RegionId, RegionId | undefined]>([
    ['answered by home, us-east-1 unseen → fill us-east-1', { variant: { seen: {} } }, 'eu-central-1', 'us-east-1'],
    ['answered by us-east-1 itself → nothing to fill', { variant: { seen: {} } }, 'us-east-1', undefined],
    ['us-east-1 seen serving it a moment ago → it holds it, no fill', { variant: seenAt('us-east-1') }, 'eu-central-1', undefined],
    ['nothing known per variant (evidence none) → fill', {}, 'eu-central-1', 'us-east-1'],
    ['us-east-1 half-open → the nearest closed region instead: home (206.6 ms), which answered → no fill', { variant: { seen: {} }, health: { 'us-east-1': 'half-open' } }, 'eu-central-1', undefined],
    ['us-east-1 open, answered by us-west-1 → fill the nearest closed region, home', { variant: { seen: {} }, health: { 'us-east-1': 'open' } }, 'us-west-1', 'eu-central-1'],
    ['strict residency → never (no region but home may hold the bytes)', { account: { ...demo, residency: 'strict' } }, 'eu-central-1', undefined],
    ['custom domain (home-first) → never', { viaCustomDomain: true }, 'eu-central-1', undefined],
    ['every region open → never', { health: Object.fromEntries(REGION_IDS.map((r) => [r, 'open'])) as RouteInput['health'] }, 'eu-central-1', undefined],
  ])('%s', (_name, input, answered, want) => {
    expect(fillTarget(pick(input), answered)).toBe(want);
  });

  it('the benchmark’s forced orders never fill (the baselines stay static)', () => {
    expect(fillTarget(forceOrder(pick({}), ['eu-central-1']), 'eu-central-1')).toBeUndefined();
  });

  it('the nearest region is the one with the lowest RTT used (learned RTTs count)', () => {
    let state = emptyState();
    for (let i = 0; i < 30; i++) state = recordSample(state, 'GRU', 'us-west-1', 100, T0).state;
    expect(fillTarget(pick({ state }), 'eu-central-1')).toBe('us-west-1');
  });
});

describe('routing decision: fills of the account’s other near regions (fillTargets, region mix)', () => {
  // GRU (prior): nearest us-east-1; home eu-central-1. The mix says which regions are the nearest of the account's edge misses.
  const mixOf = (counts: Partial<Record<RegionId, number>>, at = T0): RegionMix => {
    let m: RegionMix | undefined;
    for (const [r, n] of Object.entries(counts)) for (let i = 0; i < n!; i++) m = recordNearest(m, r as RegionId, at);
    return m ?? {};
  };
  const mix = mixOf({ 'us-east-1': 4, 'ap-southeast-2': 3, 'ap-south-1': 2, 'us-west-1': 1 }); // shares 0.4 / 0.3 / 0.2 / 0.1
  it.each<[string, Partial<RouteInput>, RegionId, RegionMix | undefined, RegionId[]]>([
    ['answered by home: the colo’s nearest first, then the mix’s regions with ≥ 10 %, largest share first', { variant: { seen: {} } }, 'eu-central-1', mix, ['us-east-1', 'ap-southeast-2', 'ap-south-1', 'us-west-1']],
    ['no mix yet → only the colo’s nearest (as fillTarget)', { variant: { seen: {} } }, 'eu-central-1', undefined, ['us-east-1']],
    ['answered by the colo’s nearest → the mix’s other regions only', { variant: { seen: {} } }, 'us-east-1', mix, ['ap-southeast-2', 'ap-south-1', 'us-west-1']],
    ['a region seen serving the variant is not filled (it holds it)', { variant: { seen: { 'ap-southeast-2': T0, 'us-east-1': T0 } } }, 'eu-central-1', mix, ['ap-south-1', 'us-west-1']],
    ['a region whose breaker is not closed is not filled', { variant: { seen: {} }, health: { 'ap-southeast-2': 'open', 'ap-south-1': 'half-open' } }, 'eu-central-1', mix, ['us-east-1', 'us-west-1']],
    ['a share under 10 % is not filled', { variant: { seen: {} } }, 'eu-central-1', mixOf({ 'us-east-1': 19, 'ap-southeast-2': 1 }), ['us-east-1']],
    ['home in the mix, answered elsewhere → home filled too (it is some colos’ nearest)', { variant: { seen: {} } }, 'us-east-1', mixOf({ 'eu-central-1': 1, 'us-east-1': 1 }), ['eu-central-1']],
    ['strict residency → never', { account: { ...demo, residency: 'strict' } }, 'eu-central-1', mix, []],
    ['custom domain (home-first) → never', { viaCustomDomain: true }, 'eu-central-1', mix, []],
    ['every region open → never', { health: Object.fromEntries(REGION_IDS.map((r) => [r, 'open'])) as RouteInput['health'] }, 'eu-central-1', mix, []],
  ])('%s', (_name, input, answered, m, want) => {
    expect(fillTargets(pick(input), answered, m, T0)).toEqual(want);
  });

  it('fillMinShare 1 restores the one fill of the colo’s nearest region; fillMaxRegions bounds the list', () => {
    expect(fillTargets(pick({ variant: { seen: {} } }), 'eu-central-1', mix, T0, { fillMinShare: 1.01 })).toEqual(['us-east-1']);
    expect(fillTargets(pick({ variant: { seen: {} } }), 'eu-central-1', mix, T0, { fillMaxRegions: 2 })).toEqual(['us-east-1', 'ap-southeast-2']);
  });

  it('the forced orders of the benchmark never fill', () => {
    expect(fillTargets(forceOrder(pick({}), ['eu-central-1']), 'eu-central-1', mix, T0)).toEqual([]);
  });

  it('the mix decays: counts halve every fillMixHalfLifeMs, so an old side of the world falls under the share', () => {
    const old = mixOf({ 'ap-southeast-2': 10 }, T0 - 60 * 60_000); // six half-lives ago: 10 → 0.16
    const m = recordNearest(recordNearest(old, 'us-east-1', T0), 'us-east-1', T0);
    const shares = mixShares(m, T0);
    expect(shares['us-east-1']).toBeCloseTo(2 / 2.156, 2);
    expect(shares['ap-southeast-2']!).toBeLessThan(0.1);
    expect(fillTargets(pick({ variant: { seen: {} } }), 'eu-central-1', m, T0)).toEqual(['us-east-1']);
  });

  it('recordNearest does not change its input; mixShares ignores invalid entries', () => {
    const m = mixOf({ 'us-east-1': 1 });
    const copy = JSON.parse(JSON.stringify(m));
    recordNearest(m, 'us-west-1', T0 + 1);
    expect(m).toEqual(copy);
    expect(mixShares({ 'us-east-1': { n: Number.NaN, at: T0 }, 'us-west-1': { n: -1, at: T0 }, 'ap-south-1': { n: 1, at: T0 } }, T0)).toEqual({ 'ap-south-1': 1 });
    expect(mixShares(undefined, T0)).toEqual({});
  });

  it('nearestRegion is the closed candidate with the lowest RTT used; none for forced orders', () => {
    expect(nearestRegion(pick({}))).toBe('us-east-1');
    expect(nearestRegion(pick({ health: { 'us-east-1': 'open' } }))).toBe('eu-central-1');
    expect(nearestRegion(forceOrder(pick({}), ['eu-central-1']))).toBeUndefined();
  });
});

describe('routing decision: service and work times', () => {
  it.each<[string, 'hit' | 'work', number, boolean]>([
    ['a hit service time', 'hit', 3.5, true],
    ['zero', 'work', 0, true],
    ['negative', 'hit', -1, false],
    ['NaN', 'work', Number.NaN, false],
    ['too large', 'hit', 20_000, false],
  ])('recordService: %s → accepted %s', (_name, kind, ms, ok) => {
    const s = emptyState();
    const r = recordService(s, kind, 'us-east-1', ms, T0);
    expect(r.accepted).toBe(ok);
    if (!ok) expect(r.state).toBe(s);
  });

  it('defaults until measured, then the learned value dominates', () => {
    expect(serviceMs(emptyState(), 'hit', 'us-east-1', T0).ms).toBe(2);
    expect(serviceMs(emptyState(), 'work', 'eu-central-1', T0).ms).toBe(60);
    let s = emptyState();
    for (let i = 0; i < 30; i++) s = recordService(s, 'work', 'eu-central-1', 200, T0).state;
    expect(serviceMs(s, 'work', 'eu-central-1', T0).ms).toBeGreaterThan(180);
  });

  it('a loaded region (slow cached answers) loses to a slightly farther idle one', () => {
    // SYD: ap-southeast-2 is 5 ms away, ap-southeast-1 134.5 ms; make ap-southeast-2 answer its hits in 400 ms.
    let s = emptyState();
    for (let i = 0; i < 30; i++) s = recordService(s, 'hit', 'ap-southeast-2', 400, T0).state;
    const d = decideRoute({ account: demo, now: T0, location: { colo: 'SYD' }, state: s });
    expect(d.candidates[0]?.region).toBe('ap-southeast-1');
    expect(d.candidates.find((c) => c.region === 'ap-southeast-2')!.serviceMs).toBeGreaterThan(350);
  });

  it('the service estimates survive restoreState; garbage keys are dropped', () => {
    const s = recordService(emptyState(), 'hit', 'us-east-1', 4, T0).state;
    const json = JSON.parse(JSON.stringify(s));
    json.svc['bogus|us-east-1'] = { mean: 1, n: 1, at: T0 };
    json.svc['hit|mars-1'] = { mean: 1, n: 1, at: T0 };
    json.svc['work|us-east-1'] = { mean: -5, n: 1, at: T0 };
    expect(restoreState(json).svc).toEqual({ 'hit|us-east-1': { mean: 4, n: 1, at: T0 } });
  });
});

describe('routing decision: hysteresis', () => {
  // SYD with learned RTTs: ap-southeast-2 and ap-southeast-1 made nearly equal.
  function near(a: number, b: number): RoutingState {
    let s = emptyState();
    for (let i = 0; i < 50; i++) {
      s = recordSample(s, 'SYD', 'ap-southeast-2', a, T0).state;
      s = recordSample(s, 'SYD', 'ap-southeast-1', b, T0).state;
    }
    return reports('ap-southeast-1', true, 40, 'seen', reports('ap-southeast-2', true, 40, 'seen', s));
  }
  const variant = { seen: { 'ap-southeast-2': T0, 'ap-southeast-1': T0 } as Partial<Record<RegionId, number>> };

  // The prior (5 vs 134.5 ms, worth 3 samples) tilts the blend: 43 ms learned for ap-southeast-1 puts it ~1.5 ms behind.
  it.each<[string, number, number, RegionId | undefined, RegionId, boolean]>([
    ['no previous pick → the best', 50, 43, undefined, 'ap-southeast-2', false],
    ['previous within the margin (3 ms) is kept', 50, 43, 'ap-southeast-1', 'ap-southeast-1', true],
    ['previous beyond the margin (~20 ms) is dropped', 50, 63, 'ap-southeast-1', 'ap-southeast-2', false],
    ['previous that is the best stays without hysteresis', 50, 43, 'ap-southeast-2', 'ap-southeast-2', false],
  ])('%s', (_name, a, b, previous, want, kept) => {
    const state = near(a, b);
    const plain = decideRoute({ account: demo, now: T0, location: { colo: 'SYD' }, state, variant }).candidates;
    const gap = plain.find((c) => c.region === 'ap-southeast-1')!.expectedMs - plain.find((c) => c.region === 'ap-southeast-2')!.expectedMs;
    expect(gap).toBeGreaterThan(0);
    const d = decideRoute({ account: demo, now: T0, location: { colo: 'SYD' }, state, variant, previous });
    expect(d.candidates[0]?.region).toBe(want);
    expect(d.hysteresis !== null).toBe(kept);
    if (kept) {
      expect([d.hysteresis?.kept, d.hysteresis?.best]).toEqual(['ap-southeast-1', 'ap-southeast-2']);
      expect(Math.abs(d.hysteresis!.byMs - gap)).toBeLessThanOrEqual(0.2);
    }
  });

  it('an open previous region is never kept', () => {
    const d = decideRoute({ account: demo, now: T0, location: { colo: 'SYD' }, state: near(50, 43), variant, previous: 'ap-southeast-1', health: { 'ap-southeast-1': 'open' } });
    expect(d.candidates[0]?.region).toBe('ap-southeast-2');
    expect(d.hysteresis).toBeNull();
  });
});

describe('routing decision: exploration by probes', () => {
  const regions: RegionId[] = ['us-east-1', 'eu-central-1'];
  const measured = (age: number, n = 5) => {
    let s = emptyState();
    for (let i = 0; i < n; i++) s = recordSample(s, 'GRU', 'us-east-1', 120, T0 - age).state;
    for (let i = 0; i < n; i++) s = recordSample(s, 'GRU', 'eu-central-1', 200, T0 - age).state;
    return s;
  };
  it.each<[string, Parameters<typeof planProbes>[0], [RegionId, string][]]>([
    ['a new colo probes every region', { state: emptyState(), colo: 'GRU', regions, lastProbeAt: new Map(), now: T0 }, [['us-east-1', 'unmeasured'], ['eu-central-1', 'unmeasured']]],
    ['fresh samples: nothing to probe', { state: measured(1000), colo: 'GRU', regions, lastProbeAt: new Map(), now: T0 }, []],
    ['samples older than 15 s: both stale', { state: measured(20_000), colo: 'GRU', regions, lastProbeAt: new Map(), now: T0 }, [['us-east-1', 'stale'], ['eu-central-1', 'stale']]],
    ['probed 2 s ago: not again (min interval 5 s)', { state: emptyState(), colo: 'GRU', regions, lastProbeAt: new Map([[probeKey('GRU', 'us-east-1'), T0 - 2000]]), now: T0 }, [['eu-central-1', 'unmeasured']]],
    ['open breaker: no probe; half-open: the trial', { state: emptyState(), colo: 'GRU', regions, lastProbeAt: new Map(), health: { 'us-east-1': 'open', 'eu-central-1': 'half-open' }, now: T0 }, [['eu-central-1', 'trial']]],
    ['no colo: only half-open trials', { state: emptyState(), colo: null, regions, lastProbeAt: new Map(), health: { 'us-east-1': 'half-open' }, now: T0 }, [['us-east-1', 'trial']]],
    ['a bad colo code is no colo', { state: emptyState(), colo: 'not a colo', regions, lastProbeAt: new Map(), now: T0 }, []],
    ['a closed region whose last answer failed: confirmed at once, even though its samples are fresh', { state: measured(1000), colo: 'GRU', regions, lastProbeAt: new Map(), failing: { 'us-east-1': 1 }, now: T0 }, [['us-east-1', 'confirm']]],
    ['confirmed 50 ms ago: not again yet (every 100 ms), and no other probe of it', { state: emptyState(), colo: 'GRU', regions, lastProbeAt: new Map([[confirmKey('us-east-1'), T0 - 50]]), failing: { 'us-east-1': 2 }, now: T0 }, [['eu-central-1', 'unmeasured']]],
    ['confirmed 150 ms ago, from another colo: again (one series for all colos)', { state: measured(1000), colo: 'FRA', regions, lastProbeAt: new Map([[confirmKey('us-east-1'), T0 - 150]]), failing: { 'us-east-1': 3 }, now: T0 }, [['us-east-1', 'confirm'], ['eu-central-1', 'unmeasured']]],
    ['loopback URLs: one loopback probe per region besides the network probes', { state: measured(1000), colo: 'GRU', regions, lastProbeAt: new Map(), loopback: regions, now: T0 }, [['us-east-1', 'loopback'], ['eu-central-1', 'loopback']]],
    ['loopback probed 1 s ago: not again (every 2 s); 2.5 s ago: again', { state: measured(1000), colo: 'GRU', regions, lastProbeAt: new Map([[loopbackKey('us-east-1'), T0 - 1000], [loopbackKey('eu-central-1'), T0 - 2500]]), loopback: regions, now: T0 }, [['eu-central-1', 'loopback']]],
    ['loopback only where a loopback URL exists, and not to an open region', { state: emptyState(), colo: 'GRU', regions, lastProbeAt: new Map(), loopback: ['us-east-1'], health: { 'us-east-1': 'open' }, now: T0 }, [['eu-central-1', 'unmeasured']]],
    ['failing but open: no confirm probe (the breaker decides when to try again)', { state: emptyState(), colo: 'GRU', regions, lastProbeAt: new Map(), failing: { 'us-east-1': 5 }, health: { 'us-east-1': 'open' }, now: T0 }, [['eu-central-1', 'unmeasured']]],
  ])('%s', (_name, input, want) => {
    expect(planProbes(input).map((p) => [p.region, p.reason])).toEqual(want);
  });
});

describe('routing decision: the variant memory', () => {
  it('a forwarded MISS means both the answering region and the processing one hold it', () => {
    const m = newVariantMemory();
    recordSighting(m, 'k1', 'us-east-1', T0, 'eu-central-1');
    expect(variantEvidence(m, 'k1')).toEqual({ seen: { 'us-east-1': T0, 'eu-central-1': T0 } });
    expect(variantEvidence(m, 'k2')).toEqual({ seen: {} });
  });

  it('ignores unknown regions and keeps the newest time per region', () => {
    const m = newVariantMemory();
    recordSighting(m, 'k', 'mars-1' as RegionId, T0);
    expect(m.entries.size).toBe(0);
    recordSighting(m, 'k', 'us-east-1', T0, 'not-a-region');
    recordSighting(m, 'k', 'us-east-1', T0 + 5);
    expect(variantEvidence(m, 'k')).toEqual({ seen: { 'us-east-1': T0 + 5 } });
  });

  it('is bounded: the least recently touched variant goes first', () => {
    const m = newVariantMemory(3);
    for (const k of ['a', 'b', 'c']) recordSighting(m, k, 'us-east-1', T0);
    recordSighting(m, 'a', 'us-east-1', T0 + 1); // touch a
    recordSighting(m, 'd', 'us-east-1', T0 + 2);
    expect([...m.entries.keys()]).toEqual(['c', 'a', 'd']);
  });

  it('the evidence is a copy (the decision cannot change the memory)', () => {
    const m = newVariantMemory();
    recordSighting(m, 'k', 'us-east-1', T0);
    variantEvidence(m, 'k').seen['ap-south-1'] = T0;
    expect(variantEvidence(m, 'k').seen['ap-south-1']).toBeUndefined();
  });

  it('forgetVariants drops what a purge invalidated', () => {
    const m = newVariantMemory();
    for (const k of ['acct1/x', 'acct1/y', 'acct2/x']) recordSighting(m, k, 'us-east-1', T0);
    expect(forgetVariants(m, (k) => k.startsWith('acct1/'))).toBe(2);
    expect([...m.entries.keys()]).toEqual(['acct2/x']);
  });
});
