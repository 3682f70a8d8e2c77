import { describe, expect, it } from 'vitest';
import {
  decayedCount,
  decideRoute,
  DEFAULT_ROUTING_CONFIG,
  emptyState,
  hitRatio,
  mergeStates,
  recordHit,
  recordSample,
  resolveLocation,
  restoreState,
  routeServerTiming,
  routingConfig,
  type RequestLocation,
  type RouteInput,
  type RoutingAccount,
  type RoutingState,
} from '../../edge/src/routing/model.js';
import type { BreakerStatus } from '../../shared/breaker.js';
import { REGION_IDS, type RegionId } from '../../shared/regions.js';

const demo: RoutingAccount = { id: 'demo', homeRegion: 'eu-central-1', residency: 'flexible' };
const strict: RoutingAccount = { id: 'vault', homeRegion: 'eu-central-1', residency: 'strict' };
const HOUR = 3_600_000;
const T0 = 1_800_000_000_000;

/** n reports of HIT (true) or MISS (false) from `region` for the demo account. */
function withHits(region: RegionId, hit: boolean, n: number, state = emptyState(), now = T0): RoutingState {
  let s = state;
  for (let i = 0; i < n; i++) s = recordHit(s, region, hit, now, 'demo').state;
  return s;
}

function withRtt(colo: string, region: RegionId, ms: number, n: number, state = emptyState(), now = T0): RoutingState {
  let s = state;
  for (let i = 0; i < n; i++) {
    const r = recordSample(s, colo, region, ms, now);
    expect(r.accepted).toBe(true);
    s = r.state;
  }
  return s;
}

const pick = (input: Partial<RouteInput> & { location: RequestLocation }) =>
  decideRoute({ account: demo, now: T0, ...input });

describe('routing model: the picks in docs/routing.md', () => {
  it.each<[string, Partial<RouteInput> & { location: RequestLocation }, RegionId, string]>([
    ['Sydney SYD → ap-southeast-2', { location: { colo: 'SYD' } }, 'ap-southeast-2', 'expected-latency'],
    ['Frankfurt FRA → eu-central-1 (home)', { location: { colo: 'FRA' } }, 'eu-central-1', 'expected-latency'],
    ['São Paulo GRU, no hit reports (prior 0.5) → us-east-1 by 11.6 ms', { location: { colo: 'GRU' } }, 'us-east-1', 'expected-latency'],
    ['São Paulo GRU, us-east-1 cold for demo → home', { location: { colo: 'GRU' }, state: withHits('us-east-1', false, 20) }, 'eu-central-1', 'expected-latency'],
    ['São Paulo GRU, us-east-1 warm for demo → us-east-1', { location: { colo: 'GRU' }, state: withHits('us-east-1', true, 20) }, 'us-east-1', 'expected-latency'],
    ['custom domain from Sydney → home', { location: { colo: 'SYD' }, viaCustomDomain: true }, 'eu-central-1', 'home-first'],
    ['strict account from Sydney → home', { location: { colo: 'SYD' }, account: strict }, 'eu-central-1', 'home-only'],
    ['strict account from GRU with us-east-1 warm → still home', { location: { colo: 'GRU' }, account: strict, state: withHits('us-east-1', true, 20) }, 'eu-central-1', 'home-only'],
  ])('%s', (_name, input, region, policy) => {
    const d = pick(input);
    expect(d.candidates[0]?.region).toBe(region);
    expect(d.policy).toBe(policy);
  });

  it('the numbers quoted in the docs', () => {
    const syd = pick({ location: { colo: 'SYD' } }).candidates;
    // Defaults before anything is measured: 2 ms service per region, 60 ms fetch + transform at home, hit prior 0.5.
    expect(syd.slice(0, 2).map((c) => [c.region, c.expectedMs])).toEqual([
      ['ap-southeast-2', 148.9], // 5.0 + 2 + 0.5 × (251.8 + 2 + 0.5 × 60)
      ['ap-southeast-1', 233.2], // 134.5 + 2 + 0.5 × (161.3 + 2 + 0.5 × 60)
    ]);
    const gru = pick({ location: { colo: 'GRU' } }).candidates;
    expect(gru.slice(0, 2).map((c) => [c.region, c.expectedMs])).toEqual([
      ['us-east-1', 227], // 162.4 + 2 + 0.5 × (93.1 + 2 + 0.5 × 60)
      ['eu-central-1', 238.6], // 206.6 + 2 + 0.5 × 60
    ]);
    const warm = pick({ location: { colo: 'GRU' }, state: withHits('us-east-1', true, 20) }).candidates[0]!;
    expect([warm.rttMs, warm.missProbability, warm.forwardRttMs, warm.expectedMs]).toEqual([162.4, 0.014, 93.1, 166.1]);
    const cold = pick({ location: { colo: 'GRU' }, state: withHits('us-east-1', false, 20) }).candidates;
    expect(cold.find((c) => c.region === 'us-east-1')?.expectedMs).toBe(287.8); // 164.4 + 0.986 × 125.1
  });

  it('custom domain keeps the others as failover, best first', () => {
    const d = pick({ location: { colo: 'SYD' }, viaCustomDomain: true });
    expect(d.candidates.map((c) => c.region)).toEqual(['eu-central-1', 'ap-southeast-2', 'ap-southeast-1', 'ap-south-1', 'us-west-1', 'us-east-1']);
  });

  it('strict accounts never list another region', () => {
    const d = pick({ location: { colo: 'SYD' }, account: strict });
    expect(d.candidates.map((c) => c.region)).toEqual(['eu-central-1']);
    expect(d.excluded).toEqual([]);
  });

  it('every candidate adds up: expected = rtt + service + P(miss) × (forward + home service + P(home miss) × work) + penalty', () => {
    const d = pick({ location: { colo: 'NRT' }, health: { 'ap-southeast-1': 'half-open' }, state: withHits('us-west-1', true, 3) });
    const home = d.candidates.find((c) => c.isHome)!;
    for (const c of d.candidates) {
      expect(Math.abs(c.expectedMs - (c.rttMs + c.serviceMs + c.missCostMs + c.healthPenaltyMs))).toBeLessThanOrEqual(0.15);
      const want = c.isHome ? c.missProbability * c.homeWorkMs : c.missProbability * (c.forwardRttMs + home.serviceMs + (1 - c.homeHitRatio) * c.homeWorkMs);
      expect(Math.abs(c.missCostMs - want)).toBeLessThanOrEqual(0.15);
    }
    expect([home.region, home.forwardRttMs, home.missCostMs]).toEqual(['eu-central-1', 0, 30]); // 0.5 × 60
    // Ranked by expected latency minus the placement credit (docs/routing.md, "Placement credit").
    const rank = (c: (typeof d.candidates)[number]) => c.expectedMs - c.placementCreditMs;
    for (let i = 1; i < d.candidates.length; i++) expect(rank(d.candidates[i]!)).toBeGreaterThanOrEqual(rank(d.candidates[i - 1]!) - 0.15);
  });
});

describe('routing model: where the prior comes from', () => {
  it.each<[string, RequestLocation, string, RegionId]>([
    ['known colo', { colo: 'SYD', latitude: 50, longitude: 8 }, 'colo', 'ap-southeast-2'],
    ['lower-case colo', { colo: 'syd' }, 'colo', 'ap-southeast-2'],
    ['unknown colo, lat/lon of Brisbane', { colo: 'ZZZ', latitude: -27.47, longitude: 153.03 }, 'latlon', 'ap-southeast-2'],
    // Perth is nearer Sydney (~72.7 ms) than Singapore (~85.3 ms), but a miss costs 251.8 ms from
    // Sydney to Frankfurt and 161.3 ms from Singapore: 72.7 + 125.9 > 85.3 + 80.7.
    ['unknown colo, lat/lon of Perth (home eu-central-1)', { colo: 'ZZZ', latitude: -31.95, longitude: 115.86 }, 'latlon', 'ap-southeast-1'],
    ['no colo, lat/lon as strings (Frankfurt)', { latitude: '50.11', longitude: '8.68' }, 'latlon', 'eu-central-1'],
    ['country only (IN)', { country: 'IN' }, 'country', 'ap-south-1'],
    ['country only, lower case (au)', { country: 'au' }, 'country', 'ap-southeast-2'],
    ['continent only (OC)', { continent: 'OC' }, 'continent', 'ap-southeast-2'],
    ['unknown country falls to continent', { country: 'XX', continent: 'EU' }, 'continent', 'eu-central-1'],
    ['bad lat/lon falls to country', { latitude: 'x', longitude: 200, country: 'SG' }, 'country', 'ap-southeast-1'],
    ['nothing known → home (flat prior)', {}, 'none', 'eu-central-1'],
    ['garbage colo, nothing else → home', { colo: 'not-a-colo' }, 'none', 'eu-central-1'],
  ])('%s', (_name, location, source, region) => {
    const d = pick({ location });
    expect(d.location.source).toBe(source);
    expect(d.candidates[0]?.region).toBe(region);
  });

  it('an unknown colo still keys learning by its code', () => {
    expect(resolveLocation({ colo: 'zzz', latitude: 1, longitude: 1 }).colo).toBe('ZZZ');
    const s = withRtt('ZZZ', 'ap-southeast-1', 9, 5);
    const c = pick({ location: { colo: 'ZZZ', latitude: 1, longitude: 1 }, state: s }).candidates.find((x) => x.region === 'ap-southeast-1')!;
    expect(c.learnedRttMs).toBe(9);
  });
});

describe('routing model: health', () => {
  const all = (st: BreakerStatus) => Object.fromEntries(REGION_IDS.map((r) => [r, st])) as Record<RegionId, BreakerStatus>;

  it.each<[string, Partial<RouteInput> & { location: RequestLocation }, RegionId[], RegionId[], boolean]>([
    ['open region is excluded, next best leads', { location: { colo: 'SYD' }, health: { 'ap-southeast-2': 'open' } }, ['ap-southeast-1', 'ap-south-1'], ['ap-southeast-2'], false],
    ['half-open pays the penalty and drops behind', { location: { colo: 'SYD' }, health: { 'ap-southeast-2': 'half-open' } }, ['ap-southeast-1', 'ap-south-1', 'us-west-1', 'eu-central-1', 'us-east-1', 'ap-southeast-2'], [], false],
    ['all open → all kept, best first, allOpen', { location: { colo: 'SYD' }, health: all('open') }, ['ap-southeast-2', 'ap-southeast-1'], [], true],
    ['custom domain with home open → best other first', { location: { colo: 'SYD' }, viaCustomDomain: true, health: { 'eu-central-1': 'open' } }, ['ap-southeast-2', 'ap-southeast-1'], ['eu-central-1'], false],
    ['strict with home open → home anyway, allOpen', { location: { colo: 'SYD' }, account: strict, health: { 'eu-central-1': 'open' } }, ['eu-central-1'], [], true],
    ['strict with home half-open → home', { location: { colo: 'SYD' }, account: strict, health: { 'eu-central-1': 'half-open' } }, ['eu-central-1'], [], false],
    ['FRA with home open → us-east-1 then ap-south-1', { location: { colo: 'FRA' }, health: { 'eu-central-1': 'open' } }, ['us-east-1', 'ap-south-1'], ['eu-central-1'], false],
  ])('%s', (_name, input, prefix, excluded, allOpen) => {
    const d = pick(input);
    expect(d.candidates.slice(0, prefix.length).map((c) => c.region)).toEqual(prefix);
    expect(d.excluded.map((c) => c.region)).toEqual(excluded);
    expect(d.allOpen).toBe(allOpen);
  });

  it.each<[string, readonly RegionId[], RegionId[]]>([
    ['only the configured regions are candidates', ['us-east-1', 'eu-central-1'], ['eu-central-1', 'us-east-1']],
    ['duplicates are ignored', ['ap-southeast-2', 'ap-southeast-2', 'ap-southeast-1'], ['ap-southeast-2', 'ap-southeast-1']],
    ['no reachable region → no candidates', [], []],
  ])('%s', (_name, regions, want) => {
    expect(pick({ location: { colo: 'SYD' }, regions }).candidates.map((c) => c.region)).toEqual(want);
  });

  it('strict with the home region unreachable has no candidates and says why', () => {
    const d = pick({ location: { colo: 'SYD' }, account: strict, regions: ['ap-southeast-2'] });
    expect(d.candidates).toEqual([]);
    expect(d.reason).toMatch(/no reachable region/);
  });
});

describe('routing model: learning', () => {
  it.each<[string, string, string, number, number, boolean]>([
    ['a normal sample', 'SYD', 'ap-southeast-2', 12.5, T0, true],
    ['zero (coarse timers)', 'SYD', 'ap-southeast-2', 0, T0, true],
    ['the maximum', 'SYD', 'ap-southeast-2', 10_000, T0, true],
    ['negative', 'SYD', 'ap-southeast-2', -1, T0, false],
    ['above the maximum', 'SYD', 'ap-southeast-2', 10_001, T0, false],
    ['NaN', 'SYD', 'ap-southeast-2', Number.NaN, T0, false],
    ['Infinity', 'SYD', 'ap-southeast-2', Number.POSITIVE_INFINITY, T0, false],
    ['bad colo', 'SYDNEY', 'ap-southeast-2', 12, T0, false],
    ['empty colo', '', 'ap-southeast-2', 12, T0, false],
    ['unknown region', 'SYD', 'mars-1', 12, T0, false],
    ['bad clock', 'SYD', 'ap-southeast-2', 12, Number.NaN, false],
  ])('recordSample: %s → accepted %s', (_name, colo, region, ms, now, ok) => {
    const s = emptyState();
    const r = recordSample(s, colo, region as RegionId, ms, now);
    expect(r.accepted).toBe(ok);
    if (!ok) expect(r.state).toBe(s);
    else expect(r.state.rtt[colo]?.[region as RegionId]).toEqual({ mean: ms, n: 1, at: now });
  });

  const ten = (x: number, k = 10) => Array.from({ length: k }, () => x);
  it.each<[string, number[], number, number]>([
    ['first sample is the mean', [10], 10, 1],
    ['second averages (alpha 1/2)', [10, 20], 15, 2],
    ['third (alpha 1/3)', [10, 20, 30], 20, 3],
    ['the third sample sets the median of the first three (one bad sample does not set the estimate)', [10, 200, 12], 12, 3],
    ['the first 20 samples are a plain average', [...ten(10, 19), 14], 10.2, 20],
    ['later samples move it by the alpha floor 0.05', [...ten(10, 20), 18], 10.4, 21],
    ['a spike (above mean + 8 ms) does not move it (suspected, not confirmed)', [...ten(10, 9), 60], 10, 10],
    ['three spikes in a row are a level shift: the estimate restarts from them', [...ten(10, 5), 60, 62, 61], 61, 3],
    ['a stall then a lasting rise: the restart takes the run’s median, not its mean', [...ten(10, 5), 200, 40, 40], 40, 3],
    ['an ordinary sample ends a run of spikes', [...ten(10, 5), 60, 60, 11, 60], 10.125, 9],
    ['a sample far below the mean (a drop) does not move it either', [...ten(100, 5), 10], 100, 6],
    ['three drops in a row are a level shift down (a region that recovered)', [...ten(100, 5), 10, 12, 11], 11, 3],
    ['a spike then drops: runs are per side', [...ten(100, 5), 200, 10, 10], 100, 8],
    ['samples within the margin fold normally on both sides', [...ten(100, 5), 80, 120], 100 - 20 / 6 + (120 - (100 - 20 / 6)) / 7, 7],
  ])('EWMA: %s', (_name, samples, mean, n) => {
    let s = emptyState();
    for (const x of samples) s = recordSample(s, 'SYD', 'ap-southeast-2', x, T0).state;
    expect(s.rtt.SYD?.['ap-southeast-2']?.mean).toBeCloseTo(mean, 6);
    expect(s.rtt.SYD?.['ap-southeast-2']?.n).toBe(n);
  });

  it.each<[string, number, number]>([
    ['fresh', 0, 10],
    ['one half-life', HOUR, 5],
    ['two half-lives', 2 * HOUR, 2.5],
    ['clock behind the estimate counts as fresh', -HOUR, 10],
  ])('sample count decays with age: %s', (_name, age, n) => {
    expect(decayedCount({ mean: 1, n: 10, at: T0 }, T0 + age, DEFAULT_ROUTING_CONFIG.rttHalfLifeMs)).toBeCloseTo(n, 6);
  });

  it.each<[string, number, number]>([
    // prior SYD→ap-southeast-2 = 5.0; 20 samples of 80 ms; prior weight 3
    ['fresh learning dominates', 0, 70.2], // (3×5 + 20×80)/23
    ['after 1 h it is half as strong', HOUR, 62.5], // (15 + 10×80)/13
    ['after a day it is back at the prior', 24 * HOUR, 5],
  ])('blend with the prior: %s', (_name, age, rtt) => {
    const s = withRtt('SYD', 'ap-southeast-2', 80, 20);
    const c = decideRoute({ location: { colo: 'SYD' }, account: demo, now: T0 + age, state: s }).candidates.find((x) => x.region === 'ap-southeast-2')!;
    expect(c.rttMs).toBeCloseTo(rtt, 0);
    expect(c.priorRttMs).toBe(5);
  });

  it('learning moves the choice when a region gets slow, and back when it recovers', () => {
    let s = emptyState();
    expect(decideRoute({ location: { colo: 'SYD' }, account: demo, now: T0, state: s }).candidates[0]?.region).toBe('ap-southeast-2');
    s = recordSample(s, 'SYD', 'ap-southeast-2', 505, T0).state; // one slow answer: (3×5 + 505)/4 = 130 ms
    expect(decideRoute({ location: { colo: 'SYD' }, account: demo, now: T0, state: s }).candidates[0]?.region).toBe('ap-southeast-1');
    for (let i = 0; i < 30; i++) s = recordSample(s, 'SYD', 'ap-southeast-2', 6, T0 + 1000 + i).state;
    expect(decideRoute({ location: { colo: 'SYD' }, account: demo, now: T0 + 2000, state: s }).candidates[0]?.region).toBe('ap-southeast-2');
  });

  it('learning from one colo does not leak into another', () => {
    const s = withRtt('SYD', 'ap-southeast-2', 900, 30);
    expect(decideRoute({ location: { colo: 'MEL' }, account: demo, now: T0, state: s }).candidates[0]?.region).toBe('ap-southeast-2');
  });

  it.each<[string, (boolean | number)[], string | undefined, number]>([
    ['no reports → prior 0.5', [], undefined, 0.5],
    ['4 hits → (4×0.5 + 4×1)/8', [true, true, true, true], undefined, 0.75],
    ['a reported ratio counts as one report', [0.9], undefined, (4 * 0.5 + 0.9) / 5],
    ['account view after 4 hits: shrunk to the regional estimate', [true, true, true, true], 'demo', (4 * 0.75 + 4 * 1) / 8],
    ['another account sees only the regional estimate', [true, true, true, true], 'other', 0.75],
  ])('hit ratio: %s', (_name, reports, account, want) => {
    let s = emptyState();
    for (const h of reports) s = recordHit(s, 'us-east-1', h, T0, 'demo').state;
    expect(hitRatio(s, 'us-east-1', account, T0).ratio).toBeCloseTo(want, 6);
  });

  it.each<[string, unknown]>([
    ['ratio above 1', 1.5],
    ['negative ratio', -0.1],
    ['NaN', Number.NaN],
  ])('recordHit rejects %s', (_name, value) => {
    const s = emptyState();
    const r = recordHit(s, 'us-east-1', value as number, T0);
    expect(r.accepted).toBe(false);
    expect(r.state).toBe(s);
  });
});

describe('routing model: state', () => {
  function busyState(): RoutingState {
    let s = withRtt('SYD', 'ap-southeast-2', 7, 3);
    s = withRtt('GRU', 'us-east-1', 150, 2, s);
    return withHits('us-east-1', true, 5, s);
  }

  it('survives a JSON round trip unchanged', () => {
    const s = busyState();
    expect(restoreState(JSON.parse(JSON.stringify(s)))).toEqual(s);
    expect(restoreState(JSON.stringify(s))).toEqual(s);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['a number', 42],
    ['bad JSON text', '{nope'],
    ['wrong version', { version: 2, rtt: { SYD: { 'ap-southeast-2': { mean: 1, n: 1, at: 1 } } }, hit: {} }],
    ['an array', []],
  ])('restoreState(%s) gives an empty state', (_name, json) => {
    expect(restoreState(json)).toEqual(emptyState());
  });

  it('restoreState drops invalid entries and keeps valid ones', () => {
    const good = { mean: 10, n: 2, at: T0 };
    const s = restoreState({
      version: 1,
      rtt: {
        SYD: { 'ap-southeast-2': good, 'mars-1': good, 'ap-southeast-1': { mean: -5, n: 1, at: T0 } },
        syd: { 'ap-southeast-2': good },
        BAD1: { 'ap-southeast-2': good },
        FRA: { 'eu-central-1': { mean: 5, n: 1e9, at: T0 } },
        GRU: { 'us-east-1': { mean: 'x', n: 1, at: T0 } },
      },
      hit: { 'us-east-1': { mean: 0.5, n: 1, at: T0 }, 'us-east-1|demo': { mean: 2, n: 1, at: T0 }, 'mars-1': { mean: 0.5, n: 1, at: T0 } },
    });
    expect(s.rtt).toEqual({ SYD: { 'ap-southeast-2': good }, FRA: { 'eu-central-1': { mean: 5, n: DEFAULT_ROUTING_CONFIG.maxCount, at: T0 } } });
    expect(Object.keys(s.hit)).toEqual(['us-east-1']);
  });

  it('stays bounded: the least recently updated colos are dropped', () => {
    let s = emptyState();
    const colos: string[] = [];
    for (let i = 0; i < 100; i++) {
      const colo = `A${String.fromCharCode(65 + Math.floor(i / 26))}${String.fromCharCode(65 + (i % 26))}`;
      colos.push(colo);
      s = recordSample(s, colo, 'us-east-1', 10, T0 + i).state;
    }
    expect(Object.keys(s.rtt)).toHaveLength(DEFAULT_ROUTING_CONFIG.maxColos);
    expect(s.rtt[colos[99]!]).toBeDefined();
    expect(s.rtt[colos[0]!]).toBeUndefined();
    expect(JSON.stringify(s).length).toBeLessThan(20_000);
  });

  it('hit keys stay bounded too', () => {
    let s = emptyState();
    for (let i = 0; i < 600; i++) s = recordHit(s, 'us-east-1', true, T0 + i, `acct${i}`, { maxHitKeys: 100 }).state;
    expect(Object.keys(s.hit)).toHaveLength(100);
    expect(s.hit['us-east-1']).toBeDefined(); // refreshed on every report
    expect(s.hit['us-east-1|acct599']).toBeDefined();
  });

  it('counts are capped', () => {
    const s = withRtt('SYD', 'ap-southeast-2', 5, 250);
    expect(s.rtt.SYD?.['ap-southeast-2']?.n).toBe(DEFAULT_ROUTING_CONFIG.maxCount);
  });

  it.each<[string, number, number, number]>([
    ['newer wins', T0, T0 + 1, 2],
    ['older loses', T0 + 1, T0, 1],
  ])('mergeStates: %s', (_name, atA, atB, wantMean) => {
    const a: RoutingState = { version: 1, rtt: { SYD: { 'ap-southeast-2': { mean: 1, n: 1, at: atA } } }, hit: {} };
    const b: RoutingState = { version: 1, rtt: { SYD: { 'ap-southeast-2': { mean: 2, n: 1, at: atB } }, FRA: { 'eu-central-1': { mean: 3, n: 1, at: T0 } } }, hit: { 'us-east-1': { mean: 1, n: 1, at: T0 } } };
    const m = mergeStates(a, b);
    expect(m.rtt.SYD?.['ap-southeast-2']?.mean).toBe(wantMean);
    expect(m.rtt.FRA?.['eu-central-1']?.mean).toBe(3);
    expect(m.hit['us-east-1']?.mean).toBe(1);
  });

  it('inputs are not mutated', () => {
    const s = busyState();
    const before = JSON.stringify(s);
    recordSample(s, 'SYD', 'ap-southeast-2', 100, T0 + 5);
    recordHit(s, 'us-east-1', false, T0 + 5, 'demo');
    mergeStates(s, emptyState());
    decideRoute({ location: { colo: 'SYD' }, account: demo, now: T0, state: s });
    expect(JSON.stringify(s)).toBe(before);
  });
});

describe('routing model: Server-Timing', () => {
  it.each<[string, Partial<RouteInput> & { location: RequestLocation }, string]>([
    ['SYD', { location: { colo: 'SYD' } }, 'route;desc="ap-southeast-2 rtt=5.0 miss=0.500x251.8 via=colo policy=expected-latency";dur=148.9'],
    ['strict, no region reachable', { location: { colo: 'SYD' }, account: strict, regions: [] }, 'route;desc="none"'],
  ])('%s', (_name, input, want) => {
    expect(routeServerTiming(pick(input))).toBe(want);
  });
});

describe('routing model: the learned RTT is unbiased when the samples are', () => {
  // A seeded stream (mulberry32 + Box–Muller): samples = true RTT × exp(N(0, 0.05)) (the geo bench's
  // jitter), with a queueing spike of +200 ms on 2 % of them. 40 links from 2 to 350 ms, 60 samples each.
  function rng(seed: number) {
    let a = seed >>> 0;
    const next = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    return { next, normal };
  }
  it.each([1, 2, 3])('seed %i: over 40 links, mean error within ±2 ms and mean |error| ≤ 5 ms (the issue’s learning targets)', (seed) => {
    const r = rng(seed);
    const errors: number[] = [];
    for (let link = 0; link < 40; link++) {
      const truth = 2 + (348 * link) / 39;
      let s = emptyState();
      for (let i = 0; i < 60; i++) {
        const x = truth * Math.exp(0.05 * r.normal()) + (r.next() < 0.02 ? 200 : 0);
        s = recordSample(s, 'GRU', 'us-east-1', x, T0 + i * 1000).state;
      }
      errors.push(s.rtt.GRU!['us-east-1']!.mean - truth);
    }
    const bias = errors.reduce((a, b) => a + b, 0) / errors.length;
    const mae = errors.reduce((a, b) => a + Math.abs(b), 0) / errors.length;
    expect(Math.abs(bias)).toBeLessThanOrEqual(2);
    expect(mae).toBeLessThanOrEqual(5);
  });
});

describe('routing model: the configuration in force (routingConfig)', () => {
  it.each<[string, Parameters<typeof routingConfig>[0], Partial<Record<keyof typeof DEFAULT_ROUTING_CONFIG, number>>]>([
    ['no overrides: the defaults', undefined, { probeRefreshMs: 15_000, priorWeight: 3 }],
    ['an override wins, the rest are the defaults', { probeRefreshMs: 5_000 }, { probeRefreshMs: 5_000, priorWeight: 3, shiftMinSpanMs: 1_500 }],
    ['several overrides', { priorWeight: 1, shiftRun: 4 }, { priorWeight: 1, shiftRun: 4, probeMinSamples: 2 }],
  ])('%s', (_t, partial, expected) => {
    const cfg = routingConfig(partial);
    for (const [k, v] of Object.entries(expected)) expect(cfg[k as keyof typeof cfg]).toBe(v);
    expect(Object.keys(cfg).sort()).toEqual(Object.keys(DEFAULT_ROUTING_CONFIG).sort());
  });

  it('a complete configuration is used as it is (not merged again), and the defaults are not changed by a merge', () => {
    const merged = routingConfig({ probeRefreshMs: 5_000 });
    expect(routingConfig(merged)).toBe(merged);
    expect(routingConfig(DEFAULT_ROUTING_CONFIG)).toBe(DEFAULT_ROUTING_CONFIG);
    expect(DEFAULT_ROUTING_CONFIG.probeRefreshMs).toBe(15_000);
  });
});
