/**
 * The simulated world's ground truth, deliberately separate from the router's prior
 * (edge/src/routing/prior.ts uses great circle × 0.98 ms/100 km × 2.1 + 5 ms for every link):
 *
 * - colo → region RTT = great-circle km / 100 × 0.98 ms × inflation(colo, region) + 2 ms, where
 *   each link's inflation is drawn ONCE from a seeded log-normal (median 1.9, σ 0.3, clamped to
 *   1.2–3.6), so some links are much better or worse than the prior believes (cable geography,
 *   peering) and the router has to learn them;
 * - region → region RTT = CloudPing's one-year P50 matrix (shared/regions.ts);
 * - client → colo = a last-mile round trip drawn per request (log-normal, median 8 ms, σ 0.5);
 * - users come from a weighted population of colos (rough Internet-user weights).
 */
import { COLO_PRIOR } from '../../edge/src/routing/prior.generated.js';
import { greatCircleKm, INTER_REGION_RTT_MS, REGION_IDS, REGIONS, type RegionId } from '../../shared/regions.js';
import { hashSeed, Rng } from '../lib/prng.js';

/** [IATA, weight]: where users enter the CDN. */
export const COLO_POPULATION: readonly [string, number][] = [
  ['IAD', 6], ['EWR', 5], ['ORD', 5], ['DFW', 4], ['ATL', 3], ['LAX', 5], ['SJC', 3], ['SEA', 3], ['YYZ', 2], ['MEX', 2],
  ['GRU', 4], ['EZE', 2], ['SCL', 1], ['BOG', 1],
  ['LHR', 5], ['FRA', 4], ['CDG', 4], ['AMS', 3], ['MAD', 2], ['WAW', 2], ['ARN', 1], ['MXP', 2],
  ['JNB', 2], ['LOS', 1], ['NBO', 1], ['DXB', 2],
  ['BOM', 4], ['DEL', 4], ['BLR', 2], ['SIN', 3], ['HKG', 3], ['NRT', 4], ['ICN', 2], ['BKK', 2], ['CGK', 3], ['MNL', 2],
  ['SYD', 3], ['MEL', 1], ['AKL', 1],
];

export const FIBER_MS_PER_100KM = 0.98;
export const INFLATION_MEDIAN = 1.9;
export const INFLATION_SIGMA = 0.3;
export const LINK_BASE_MS = 2;
export const CLIENT_LEG_MEDIAN_MS = 8;
export const CLIENT_LEG_SIGMA = 0.5;
/** A GET from a region's own S3 bucket (originals live in the home region). */
export const S3_SAME_REGION_MS = 3;

export function coloLatLon(colo: string): { lat: number; lon: number } {
  const row = COLO_PRIOR[colo];
  if (!row) throw new Error(`unknown colo ${colo}`);
  return { lat: row[0], lon: row[1] };
}

export class GroundTruth {
  /** colo → region → RTT ms. */
  readonly coloRtt: Record<string, Record<RegionId, number>> = {};
  readonly inflation: Record<string, Record<RegionId, number>> = {};

  constructor(readonly seed: number) {
    for (const [colo] of COLO_POPULATION) {
      const { lat, lon } = coloLatLon(colo);
      const rtt = {} as Record<RegionId, number>;
      const inf = {} as Record<RegionId, number>;
      for (const r of REGION_IDS) {
        const rng = new Rng(hashSeed(seed, 'link', colo, r));
        const f = Math.min(3.6, Math.max(1.2, rng.logNormal(INFLATION_MEDIAN, INFLATION_SIGMA)));
        const km = greatCircleKm(lat, lon, REGIONS[r].lat, REGIONS[r].lon);
        inf[r] = Math.round(f * 100) / 100;
        rtt[r] = Math.round(((km / 100) * FIBER_MS_PER_100KM * f + LINK_BASE_MS) * 10) / 10;
      }
      this.coloRtt[colo] = rtt;
      this.inflation[colo] = inf;
    }
  }

  rtt(colo: string, region: RegionId): number {
    const v = this.coloRtt[colo]?.[region];
    if (v === undefined) throw new Error(`no ground truth for ${colo} → ${region}`);
    return v;
  }

  interRegion(from: RegionId, to: RegionId): number {
    return INTER_REGION_RTT_MS[from][to];
  }

  /** The region nearest by great-circle distance (the "static nearest" policy). */
  nearestByDistance(colo: string, regions: readonly RegionId[] = REGION_IDS): RegionId[] {
    const { lat, lon } = coloLatLon(colo);
    return [...regions].sort((a, b) => greatCircleKm(lat, lon, REGIONS[a].lat, REGIONS[a].lon) - greatCircleKm(lat, lon, REGIONS[b].lat, REGIONS[b].lon));
  }
}

/** Per-link jitter applied by the proxies to every request: ×exp(N(0, 0.05)). */
export function jitter(rng: Rng): number {
  return Math.exp(0.05 * rng.normal());
}
