import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OUT_FILE, readColos, renderPrior } from '../../scripts/gen-rtt-prior.js';
import { COLO_PRIOR, CONTINENT_PRIOR, COUNTRY_PRIOR, PRIOR_REGION_ORDER } from '../../edge/src/routing/prior.generated.js';
import { priorRttMs, validLatLon } from '../../edge/src/routing/prior.js';
import { REGION_IDS, REGIONS, type RegionId } from '../../shared/regions.js';

const col = (r: RegionId) => PRIOR_REGION_ORDER.indexOf(r);

describe('routing prior (generated table)', () => {
  it('is up to date with data/ and the formula (re-run scripts/gen-rtt-prior.ts when this fails)', () => {
    expect(readFileSync(OUT_FILE, 'utf8')).toBe(renderPrior(readColos()));
  });

  it('covers all 340 colos in region order', () => {
    expect(Object.keys(COLO_PRIOR)).toHaveLength(340);
    expect(PRIOR_REGION_ORDER).toEqual(REGION_IDS);
    for (const row of Object.values(COLO_PRIOR)) expect(row[4]).toHaveLength(6);
  });

  // Hand-checked: km from the haversine, × 0.98/100 × 2.1 + 5.
  it.each([
    ['SYD', 'ap-southeast-2', 5, 6],
    ['FRA', 'eu-central-1', 5, 6],
    ['IAD', 'us-east-1', 5, 6],
    ['GRU', 'us-east-1', 160, 165], // ~7,660 km
    ['GRU', 'eu-central-1', 204, 209], // ~9,800 km
    ['SYD', 'eu-central-1', 340, 350], // ~16,500 km: near-antipodal, real paths are shorter
    ['LHR', 'eu-central-1', 17, 20], // ~650 km
  ] as const)('%s → %s is %d–%d ms', (colo, region, lo, hi) => {
    const v = COLO_PRIOR[colo]![4][col(region)]!;
    expect(v).toBeGreaterThanOrEqual(lo);
    expect(v).toBeLessThanOrEqual(hi);
  });

  it.each([
    ['SYD', 'ap-southeast-2'],
    ['MEL', 'ap-southeast-2'],
    ['FRA', 'eu-central-1'],
    ['CDG', 'eu-central-1'],
    ['IAD', 'us-east-1'],
    ['LAX', 'us-west-1'],
    ['BOM', 'ap-south-1'],
    ['SIN', 'ap-southeast-1'],
    ['NRT', 'ap-southeast-1'],
    ['GRU', 'us-east-1'],
    // Geography says Mumbai (~6,900 km) over Frankfurt (~8,700 km); real cables often disagree,
    // which is what learning is for (docs/routing.md "Limits of the prior").
    ['JNB', 'ap-south-1'],
  ] as const)('the nearest region by prior from %s is %s', (colo, region) => {
    const row = COLO_PRIOR[colo]![4];
    const best = PRIOR_REGION_ORDER[row.indexOf(Math.min(...row))];
    expect(best).toBe(region);
  });

  it.each([
    ['AU', 'ap-southeast-2'],
    ['DE', 'eu-central-1'],
    ['IN', 'ap-south-1'],
  ] as const)('country %s mean row prefers %s', (cc, region) => {
    const row = COUNTRY_PRIOR[cc]!;
    expect(PRIOR_REGION_ORDER[row.indexOf(Math.min(...row))]).toBe(region);
  });

  it.each([
    ['EU', 'eu-central-1'],
    ['OC', 'ap-southeast-2'],
    ['NA', 'us-east-1'],
    ['AS', 'ap-south-1'],
  ] as const)('continent %s mean row prefers %s', (ct, region) => {
    const row = CONTINENT_PRIOR[ct]!;
    expect(PRIOR_REGION_ORDER[row.indexOf(Math.min(...row))]).toBe(region);
  });

  it('priorRttMs at a region airport is the 5 ms constant', () => {
    for (const id of REGION_IDS) expect(priorRttMs(REGIONS[id].lat, REGIONS[id].lon, id)).toBe(5);
  });

  it.each([
    [10, 20, { lat: 10, lon: 20 }],
    ['-33.9', '151.2', { lat: -33.9, lon: 151.2 }],
    [91, 0, undefined],
    [0, -181, undefined],
    ['', '1', undefined],
    [undefined, 1, undefined],
    [Number.NaN, 1, undefined],
    ['abc', '1', undefined],
  ])('validLatLon(%j, %j)', (lat, lon, want) => {
    expect(validLatLon(lat, lon)).toEqual(want);
  });
});
