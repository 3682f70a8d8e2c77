/**
 * The physics behind the routing prior (docs/routing.md "Prior"). Pure; used both by
 * scripts/gen-rtt-prior.ts (to build prior.generated.ts) and by the model when a colo is not
 * in the table but request.cf gives latitude/longitude.
 *
 *   RTT(point → region) ≈ greatCircleKm / 100 × 0.98 ms (light in fibre)
 *                         × 2.1 (median public-Internet path inflation, Bozkurt et al.)
 *                         + 5 ms (fixed cost of the hop into the region; CloudPing's same-region
 *                           diagonal is 2.5–5.3 ms)
 */
import { greatCircleKm, REGION_IDS, REGIONS, type RegionId } from '../../../shared/regions.js';

export const FIBER_RTT_MS_PER_100KM = 0.98;
export const INTERNET_INFLATION = 2.1;
export const PRIOR_CONSTANT_MS = 5;

/** Estimated RTT in ms from a point to a region over the public Internet (0.1 ms resolution). */
export function priorRttMs(lat: number, lon: number, region: RegionId): number {
  const r = REGIONS[region];
  const km = greatCircleKm(lat, lon, r.lat, r.lon);
  return Math.round(((km / 100) * FIBER_RTT_MS_PER_100KM * INTERNET_INFLATION + PRIOR_CONSTANT_MS) * 10) / 10;
}

/** The prior for every region, in REGION_IDS order. */
export function priorRttRow(lat: number, lon: number): number[] {
  return REGION_IDS.map((id) => priorRttMs(lat, lon, id));
}

/** True when the pair looks like real coordinates (request.cf gives strings in some runtimes). */
export function validLatLon(lat: unknown, lon: unknown): { lat: number; lon: number } | undefined {
  const la = typeof lat === 'string' ? Number(lat) : lat;
  const lo = typeof lon === 'string' ? Number(lon) : lon;
  if (typeof la !== 'number' || typeof lo !== 'number' || !Number.isFinite(la) || !Number.isFinite(lo)) return undefined;
  if (la < -90 || la > 90 || lo < -180 || lo > 180) return undefined;
  if (typeof lat === 'string' && lat.trim() === '') return undefined;
  if (typeof lon === 'string' && lon.trim() === '') return undefined;
  return { lat: la, lon: lo };
}
