import { describe, expect, it } from 'vitest';
import { parseColoMix, rankHomeRegions } from '../../edge/src/routing/advice.js';
import { emptyState, recordSample, resolveLocation } from '../../edge/src/routing/model.js';
import { INTER_REGION_RTT_MS, REGION_IDS, type RegionId } from '../../shared/regions.js';

const T0 = 1_800_000_000_000;
const flat = (ms: number) => Object.fromEntries(REGION_IDS.map((r) => [r, ms])) as Record<RegionId, number>;

describe('home-region advice: ranking', () => {
  it.each<[string, Record<string, number>, Partial<Record<RegionId, number | null>>, RegionId]>([
    ['equal origin distance → the users’ region (Sydney)', { SYD: 1 }, flat(10), 'ap-southeast-2'],
    ['equal origin distance → the users’ region (Frankfurt)', { FRA: 1 }, flat(10), 'eu-central-1'],
    ['an origin 300 ms from Sydney and 5 ms from us-east-1 → us-east-1 for Sydney users', { SYD: 1 }, { ...flat(250), 'ap-southeast-2': 300, 'us-east-1': 5 }, 'us-east-1'],
    ['a mixed audience weighs colos by count', { FRA: 9, SYD: 1 }, flat(10), 'eu-central-1'],
    ['a region that cannot reach the origin is never advised', { SYD: 1 }, { ...flat(10), 'ap-southeast-2': null }, 'ap-southeast-1'],
  ])('%s', (_name, coloMix, originMs, want) => {
    expect(rankHomeRegions({ coloMix, originMs, now: T0 })[0]?.region).toBe(want);
  });

  it('the numbers: miss(c, h) = min over r [RTT(c → r) + RTT(r → h)] + originMs(h), averaged by weight', () => {
    const ranking = rankHomeRegions({ coloMix: { SYD: 3, FRA: 1 }, originMs: flat(20), now: T0 });
    const eu = ranking.find((x) => x.region === 'eu-central-1')!;
    const syd = resolveLocation({ colo: 'SYD' }).prior;
    const fra = resolveLocation({ colo: 'FRA' }).prior;
    const leg = (p: Record<RegionId, number>) => Math.min(...REGION_IDS.map((r) => p[r] + (r === 'eu-central-1' ? 0 : INTER_REGION_RTT_MS[r]['eu-central-1'])));
    expect(eu.expectedMissMs).toBeCloseTo((3 * leg(syd) + leg(fra)) / 4 + 20, 0);
    expect(eu.colos.map((c) => [c.colo, c.via])).toEqual([['SYD', 'ap-southeast-2'], ['FRA', 'eu-central-1']]);
    for (let i = 1; i < ranking.length; i++) expect(ranking[i]!.expectedMissMs!).toBeGreaterThanOrEqual(ranking[i - 1]!.expectedMissMs!);
  });

  it('uses what the edge learned for the colo legs', () => {
    // SYD → ap-southeast-2 learned at 400 ms (prior 5): Sydney's misses now go through ap-southeast-1.
    let state = emptyState();
    for (let i = 0; i < 50; i++) state = recordSample(state, 'SYD', 'ap-southeast-2', 400, T0).state;
    const r = rankHomeRegions({ coloMix: { SYD: 1 }, originMs: flat(10), state, now: T0 });
    expect(r[0]?.region).toBe('ap-southeast-1');
  });

  it('no traffic seen → every expectedMissMs is null (nothing to advise)', () => {
    const r = rankHomeRegions({ coloMix: {}, originMs: flat(10), now: T0 });
    expect(r.every((x) => x.expectedMissMs === null)).toBe(true);
  });
});

describe('home-region advice: the colo mix parameter', () => {
  it.each<[string, Record<string, number> | undefined]>([
    ['SYD:3,FRA:1', { SYD: 3, FRA: 1 }],
    ['syd,fra', { SYD: 1, FRA: 1 }],
    ['SYD:1,SYD:2', { SYD: 3 }],
    ['SYD:0.5', { SYD: 0.5 }],
    ['SYDNEY:1', undefined],
    ['SYD:-1', undefined],
    ['SYD:0', undefined],
    ['', undefined],
    ['SYD;FRA', undefined],
  ])('%s', (input, want) => {
    expect(parseColoMix(input)).toEqual(want);
  });
});
