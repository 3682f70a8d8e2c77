/**
 * Walking-skeleton region choice: regions ordered by great-circle distance from the user
 * (request.cf coordinates, else the colo's airport). The learned routing model replaces this.
 */
import { greatCircleKm, REGION_IDS, REGIONS, type RegionId } from '../../shared/regions.js';
import type { Geo } from './geo.js';

/** A few colo airports for the skeleton; the routing model carries the full table. */
const COLO_COORDS: Record<string, [number, number]> = {
  SYD: [-33.9399, 151.1753],
  FRA: [50.0379, 8.5622],
  IAD: [38.9445, -77.4558],
  SJC: [37.3626, -121.929],
  BOM: [19.0896, 72.8656],
  SIN: [1.3644, 103.9915],
  GRU: [-23.4356, -46.4731],
  LHR: [51.47, -0.4543],
};

export function regionsByDistance(geo: Geo, available: RegionId[] = [...REGION_IDS]): RegionId[] {
  const at: [number, number] | undefined =
    geo.latitude !== undefined && geo.longitude !== undefined ? [geo.latitude, geo.longitude] : geo.colo ? COLO_COORDS[geo.colo] : undefined;
  if (!at) return available;
  return [...available].sort(
    (a, b) => greatCircleKm(at[0], at[1], REGIONS[a].lat, REGIONS[a].lon) - greatCircleKm(at[0], at[1], REGIONS[b].lat, REGIONS[b].lon),
  );
}
