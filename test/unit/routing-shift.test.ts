/**
 * Region-wide level shifts, the network part of a sample, and the geo benchmark's policy override
 * (docs/routing.md, "Spikes vs. level shifts", "RTT samples", "The geo benchmark").
 */
import { describe, expect, it } from 'vitest';
import {
  decideRoute,
  emptyState,
  forceOrder,
  mergeStates,
  networkRttMs,
  parseForcedOrder,
  twinRttMs,
  recordSample,
  recordService,
  restoreState,
  serviceMs,
  shiftFor,
  type RoutingAccount,
  type RoutingState,
} from '../../edge/src/routing/model.js';
import { REGION_IDS, type RegionId } from '../../shared/regions.js';

const demo: RoutingAccount = { id: 'demo', homeRegion: 'eu-central-1', residency: 'flexible' };
const T0 = 1_800_000_000_000;
const R: RegionId = 'us-east-1';

/** Each colo has measured R at `base[colo]` ms 6 times (an established estimate), at T0 − 10 s. */
function warmed(base: Record<string, number>): RoutingState {
  let s = emptyState();
  for (const [colo, ms] of Object.entries(base)) for (let i = 0; i < 6; i++) s = recordSample(s, colo, R, ms, T0 - 10_000 + i).state;
  return s;
}
const BASE = { GRU: 120, MIA: 40, ORD: 30, YYZ: 25 };
/** Samples `gapMs` apart from `t` (default 800 ms: three span 1.6 s, past shiftMinSpanMs 1.5 s). */
const feed = (s: RoutingState, samples: [string, number][], t = T0, gapMs = 800) => {
  samples.forEach(([colo, ms], i) => (s = recordSample(s, colo, R, ms, t + i * gapMs).state));
  return s;
};
/** After any feed of these tests. */
const LATER = T0 + 10_000;

describe('region-wide level shift', () => {
  it.each<[string, [string, number][], number | undefined, number?]>([
    ['three spikes from three colos confirm a shift of their median excess', [['GRU', 270], ['MIA', 190], ['ORD', 185]], 150],
    ['three agreeing spikes within a moment (a stall of the machine, not a region) confirm nothing', [['GRU', 270], ['MIA', 190], ['ORD', 185]], undefined, 10],
    ['spikes 0.7 s apart: the third spans 1.4 s (< 1.5), the fourth confirms (median of the last three excesses 150, 155, 151)', [['GRU', 270], ['MIA', 190], ['ORD', 185], ['YYZ', 176]], 151, 700],
    ['spikes 0.7 s apart: three are not enough yet', [['GRU', 270], ['MIA', 190], ['ORD', 185]], undefined, 700],
    ['a normal sample ends the run and its span: three more spikes must last again', [['GRU', 270], ['MIA', 190], ['ORD', 31], ['YYZ', 175], ['GRU', 270], ['MIA', 190]], undefined, 700],
    ['three spikes from two colos are enough', [['GRU', 270], ['GRU', 275], ['MIA', 190]], 150],
    ['three spikes from one colo are that pair’s own level shift, not the region’s', [['GRU', 270], ['GRU', 270], ['GRU', 270]], undefined],
    ['two spikes are not a run yet', [['GRU', 270], ['MIA', 190]], undefined],
    ['a normal sample between the spikes ends the run', [['GRU', 270], ['MIA', 190], ['ORD', 31], ['YYZ', 175]], undefined],
    ['samples below the means are no spikes', [['GRU', 60], ['MIA', 10], ['ORD', 5]], undefined],
    ['spikes of different sizes (a local stall, not a region) confirm nothing', [['GRU', 400], ['MIA', 90], ['ORD', 185]], undefined],
    ['excesses within 30 % of their median agree', [['GRU', 290], ['MIA', 190], ['ORD', 160]], 150],
    ['after a disagreeing run, agreeing spikes still confirm', [['GRU', 400], ['MIA', 90], ['ORD', 180], ['YYZ', 175], ['GRU', 270]], 150],
  ])('%s', (_name, samples, shift, gapMs) => {
    const s = feed(warmed(BASE), samples, T0, gapMs);
    expect(s.shift?.[R]?.mean).toBe(shift);
  });

  // Other regions' pairs, established at T0 − 10 s: MIA → us-west-1 80 ms, ORD → eu-central-1 100, YYZ → ap-south-1 200.
  const OTHERS: [string, RegionId, number][] = [['MIA', 'us-west-1', 80], ['ORD', 'eu-central-1', 100], ['YYZ', 'ap-south-1', 200]];
  function warmedAll(): RoutingState {
    let s = warmed(BASE);
    for (const [colo, r, ms] of OTHERS) for (let i = 0; i < 6; i++) s = recordSample(s, colo, r, ms, T0 - 10_000 + i).state;
    return s;
  }
  const other = (k: number, ms?: number): [string, RegionId, number] => [OTHERS[k]![0], OTHERS[k]![1], ms ?? OTHERS[k]![2]];
  it.each<[string, [string, RegionId, number, number][], number | undefined]>([
    // [colo, region, ms, at (ms after T0)]: the three spikes at us-east-1 span 0.2 s, far below shiftMinSpanMs
    ['two other regions answer ordinarily during the run: the slowness is the region’s, confirmed at once',
      [['GRU', R, 270, 0], [...other(0), 50], [...other(1), 80], ['MIA', R, 190, 100], ['ORD', R, 185, 200]], 150],
    ['another region had a spike too (a stall of the machine delays everything in flight): waits for the span',
      [['GRU', R, 270, 0], [...other(2, 400), 20], [...other(0), 50], [...other(1), 80], ['MIA', R, 190, 100], ['ORD', R, 185, 200]], undefined],
    ['another region’s spike just before the run counts too (within shiftIsolationMarginMs)',
      [[...other(2, 400), -500], ['GRU', R, 270, 0], [...other(0), 50], [...other(1), 80], ['MIA', R, 190, 100], ['ORD', R, 185, 200]], undefined],
    ['one other region answered: not enough to tell, waits',
      [['GRU', R, 270, 0], [...other(0), 50], ['MIA', R, 190, 100], ['ORD', R, 185, 200]], undefined],
    ['the other regions answered before the run began: waits',
      [[...other(0), -100], [...other(1), -50], ['GRU', R, 270, 0], ['MIA', R, 190, 100], ['ORD', R, 185, 200]], undefined],
    ['spikes that disagree are no shift, however alone the region is',
      [['GRU', R, 400, 0], [...other(0), 50], [...other(1), 80], ['MIA', R, 90, 100], ['ORD', R, 185, 200]], undefined],
  ])('%s', (_name, samples, shift) => {
    let s = warmedAll();
    for (const [colo, r, ms, at] of samples) s = recordSample(s, colo, r, ms, T0 + at).state;
    expect(s.shift?.[R]?.mean).toBe(shift);
  });

  it('restoreState keeps when a region last spiked and answered ordinarily (finite times only)', () => {
    const saved = { ...emptyState(), shift: { [R]: { run: [], spikeAt: T0, okAt: T0 + 5 }, 'us-west-1': { run: [], spikeAt: 'soon', okAt: Number.NaN } } };
    const s = restoreState(JSON.stringify(saved));
    expect(s.shift?.[R]).toEqual({ run: [], spikeAt: T0, okAt: T0 + 5 });
    expect(s.shift?.['us-west-1']).toEqual({ run: [] });
  });

  it('a confirmed shift moves every colo off the slow region at once, including colos that never measured it', () => {
    // us-east-1 is MIA's and GRU's pick; FRA-side colos never measured it.
    let s = warmed({ ...BASE });
    for (let i = 0; i < 6; i++) s = recordSample(s, 'GRU', 'eu-central-1', 200, T0 - 10_000 + i).state;
    const before = decideRoute({ location: { colo: 'GRU' }, account: demo, now: T0, state: s }).candidates[0]!.region;
    expect(before).toBe(R);
    s = feed(s, [['MIA', 190], ['ORD', 180], ['YYZ', 175]]); // GRU itself sent nothing since
    const gru = decideRoute({ location: { colo: 'GRU' }, account: demo, now: LATER, state: s });
    expect(gru.candidates[0]!.region).not.toBe(R);
    const c = gru.candidates.find((x) => x.region === R)!;
    expect(c.shiftMs).toBe(150);
    // A colo with no samples at all (the prior) gets it too.
    expect(decideRoute({ location: { colo: 'LAX' }, account: demo, now: LATER, state: s }).candidates.find((x) => x.region === R)!.shiftMs).toBe(150);
  });

  it.each<[string, number, number | undefined, number]>([
    ['a pair not measured since the shift: shifted', T0 + 1000, T0 - 5000, 150],
    ['the prior (no samples): shifted', T0 + 1000, undefined, 150],
    ['a pair measured after the shift: its own estimate, not shifted again', T0 + 1000, T0 + 500, 0],
    ['60 s after the last confirmation the shift has expired', T0 + 60_001, T0 - 5000, 0],
  ])('shiftFor: %s', (_name, now, pairAt, want) => {
    const s: RoutingState = { ...emptyState(), shift: { [R]: { run: [], mean: 150, since: T0, at: T0 } } };
    expect(shiftFor(s, R, pairAt, now)).toBe(want);
  });

  it('a pair’s next sample after the shift folds from mean + shift (absorbed, not counted twice)', () => {
    let s = feed(warmed(BASE), [['MIA', 190], ['ORD', 180], ['YYZ', 175]]);
    s = recordSample(s, 'GRU', R, 268, LATER).state; // GRU: 120 + 150 ≈ 270
    const e = s.rtt.GRU![R]!;
    expect(e.mean).toBeGreaterThan(260);
    expect(e.mean).toBeLessThan(272);
    const c = decideRoute({ location: { colo: 'GRU' }, account: demo, now: LATER + 100, state: s }).candidates.find((x) => x.region === R)!;
    expect(c.shiftMs).toBe(0);
    expect(c.learnedRttMs).toBeCloseTo(e.mean, 0);
  });

  it.each<[string, number, number]>([
    ['a sample nearer mean + shift takes the shift', 250, 120 + 150 + (250 - 270) / 7],
    ['a sample nearer the old mean keeps the estimate: the shift does not hold for this pair', 125, 120 + (125 - 120) / 7],
  ])('a pair’s own first sample after the shift decides whether it takes it: %s', (_name, sample, want) => {
    let s = feed(warmed(BASE), [['MIA', 190], ['ORD', 180], ['YYZ', 175]]);
    expect(s.shift?.[R]?.mean).toBe(150);
    s = recordSample(s, 'GRU', R, sample, LATER).state; // GRU had 6 samples of 120: alpha ≈ 1/7 (the count decays a little)
    expect(s.rtt.GRU![R]!.mean).toBeCloseTo(want, 1);
    // either way the pair is measured after the shift: its own estimate applies from now on
    expect(decideRoute({ location: { colo: 'GRU' }, account: demo, now: LATER + 100, state: s }).candidates.find((x) => x.region === R)!.shiftMs).toBe(0);
  });

  it('the colo whose sample confirmed the shift takes it at once', () => {
    const s = feed(warmed(BASE), [['MIA', 190], ['ORD', 180], ['YYZ', 175]]);
    // YYZ's own estimate was 25: 25 + median(150, 150, 150) folded with its sample 175.
    expect(s.rtt.YYZ![R]!.mean).toBeCloseTo(175, 0);
  });

  it('survives restoreState and mergeStates keeps the more recently confirmed shift; garbage is dropped', () => {
    const a: RoutingState = { ...emptyState(), shift: { [R]: { run: [], mean: 150, since: T0, at: T0 } } };
    const b: RoutingState = { ...emptyState(), shift: { [R]: { run: [], mean: 80, since: T0 + 5, at: T0 + 5 } } };
    expect(restoreState(JSON.stringify(a)).shift?.[R]).toEqual({ run: [], mean: 150, since: T0, at: T0 });
    expect(mergeStates(a, b).shift?.[R]?.mean).toBe(80);
    expect(mergeStates(b, a).shift?.[R]?.mean).toBe(80);
    const junk = restoreState({ version: 1, rtt: {}, hit: {}, shift: { [R]: { run: [{ colo: 'gru!', excess: 5 }, { colo: 'GRU', excess: 'x' }], mean: Number.NaN }, 'mars-1': { run: [] } } });
    expect(junk.shift).toEqual({ [R]: { run: [] } });
  });
});

describe('network part of a sample', () => {
  it.each<[string, number, number, number | undefined, number]>([
    ['ttfb − proc', 130, 12, undefined, 118],
    ['minus the loopback overhead', 130, 12, 9, 109],
    ['never negative', 10, 12, 9, 0],
    ['a non-finite loopback is ignored', 130, 12, Number.NaN, 118],
  ])('%s', (_name, ttfb, proc, loop, want) => {
    expect(networkRttMs(ttfb, proc, loop)).toBe(want);
  });

  it('the loopback overhead is 0 until measured, then the measurement (no prior blended in)', () => {
    expect(serviceMs(emptyState(), 'loop', R, T0).ms).toBe(0);
    let s = emptyState();
    for (const ms of [10, 14]) s = recordService(s, 'loop', R, ms, T0).state;
    expect(serviceMs(s, 'loop', R, T0).ms).toBeCloseTo(12, 6);
    expect(restoreState(JSON.stringify(s)).svc?.[`loop|${R}`]?.mean).toBeCloseTo(12, 6);
  });

  it('the window of loopback probes survives restoreState: a stall after a restore does not move the overhead', () => {
    let s = emptyState();
    for (const ms of [5, 5, 5, 5, 5, 5]) s = recordService(s, 'loop', R, ms, T0).state;
    const restored = restoreState(JSON.stringify(s));
    expect(restored.svc?.[`loop|${R}`]?.run).toEqual([5, 5, 5, 5, 5, 5]);
    expect(serviceMs(recordService(restored, 'loop', R, 200, T0).state, 'loop', R, T0).ms).toBe(5);
    // a state without the window (an older version) starts it from its mean instead of from the next probe alone
    const older: RoutingState = { ...emptyState(), svc: { [`loop|${R}`]: { mean: 5, n: 6, at: T0 } } };
    expect(serviceMs(recordService(older, 'loop', R, 200, T0).state, 'loop', R, T0).ms).toBeCloseTo(102.5, 6);
    expect(restoreState({ ...s, svc: { [`loop|${R}`]: { mean: 5, n: 6, at: T0, run: [5, 'x'] } } }).svc?.[`loop|${R}`]?.run).toBeUndefined();
  });

  it.each<[string, number[], number]>([
    ['one stall does not move it', [5, 5, 5, 5, 5, 5, 200], 5],
    ['nor do three stalls in seven probes (an EWMA with spike runs took three in a row as a level shift)', [5, 5, 5, 5, 200, 180, 190], 5],
    ['a rise that lasts more than half the window does', [5, 5, 5, 40, 42, 41, 44], 40],
    ['only the last 7 probes count', [200, 200, 200, 200, 6, 6, 6, 7, 7, 7, 8], 7],
    ['fewer probes than the window: their median', [10, 30], 20],
  ])('the loopback overhead is the median of the last 7 loopback probes: %s', (_name, probes, want) => {
    let s = emptyState();
    for (const ms of probes) s = recordService(s, 'loop', R, ms, T0).state;
    expect(serviceMs(s, 'loop', R, T0).ms).toBe(want);
  });
});

describe('twin probes (bench calibration): the network RTT is the probe minus its held twin', () => {
  it.each<[string, number, number, number, number | undefined]>([
    ['the same local overhead cancels: 150 ms network + 30 overhead vs twin held 140 + 30', 180, 170, 140, 150],
    ['the hold need not be right: held 100 for a 150 ms link', 180, 130, 100, 150],
    ['never negative', 10, 200, 50, 0],
    ['a failed twin (NaN) gives no sample', 180, Number.NaN, 140, undefined],
  ])('%s', (_name, probe, twin, hold, want) => {
    expect(twinRttMs(probe, twin, hold)).toBe(want);
  });

});

describe('geo benchmark policy override', () => {
  it.each<[string, string | null | undefined, RegionId[] | undefined]>([
    ['an order', 'ap-southeast-2,eu-central-1', ['ap-southeast-2', 'eu-central-1']],
    ['spaces and duplicates', ' us-east-1 , us-east-1,eu-central-1', ['us-east-1', 'eu-central-1']],
    ['unknown and unreachable regions are dropped', 'mars-1,us-west-1,us-east-1', ['us-east-1']],
    ['nothing left', 'mars-1', undefined],
    ['no header', null, undefined],
    ['empty', '', undefined],
  ])('parseForcedOrder: %s', (_name, header, want) => {
    expect(parseForcedOrder(header, ['us-east-1', 'eu-central-1', 'ap-southeast-2'])).toEqual(want);
  });

  it('forceOrder keeps the model’s estimates, lists every named region (open ones included) and tells the edge to try them regardless of health', () => {
    const d = decideRoute({ location: { colo: 'SYD' }, account: demo, now: T0, health: { 'ap-southeast-2': 'open' } });
    expect(d.candidates.map((c) => c.region)).not.toContain('ap-southeast-2');
    const f = forceOrder(d, ['ap-southeast-2', 'eu-central-1']);
    expect(f.candidates.map((c) => c.region)).toEqual(['ap-southeast-2', 'eu-central-1']);
    expect(f.candidates[1]).toEqual(d.candidates.find((c) => c.region === 'eu-central-1'));
    expect(f).toMatchObject({ policy: 'forced', allOpen: true, excluded: [], hysteresis: null });
  });

  it('forceOrder cannot add a region the decision did not allow (strict residency)', () => {
    const d = decideRoute({ location: { colo: 'SYD' }, account: { ...demo, residency: 'strict' }, now: T0 });
    expect(forceOrder(d, [...REGION_IDS]).candidates.map((c) => c.region)).toEqual(['eu-central-1']);
  });
});
