/**
 * The six processing regions. Coordinates are the stand-in airports named in data/README.md
 * (us-east-1 IAD, us-west-1 SJC, eu-central-1 FRA, ap-south-1 BOM, ap-southeast-2 SYD,
 * ap-southeast-1 SIN); the RTT matrix is CloudPing's one-year P50 (see data/ATTRIBUTION.md).
 */
export const REGION_IDS = ['us-east-1', 'us-west-1', 'eu-central-1', 'ap-south-1', 'ap-southeast-2', 'ap-southeast-1'] as const;
export type RegionId = (typeof REGION_IDS)[number];

export interface RegionInfo {
  id: RegionId;
  name: string;
  /** Local port in `npm start`. */
  port: number;
  airport: string;
  lat: number;
  lon: number;
}

export const REGIONS: Record<RegionId, RegionInfo> = {
  'us-east-1': { id: 'us-east-1', name: 'N. Virginia', port: 8101, airport: 'IAD', lat: 38.9445, lon: -77.4558 },
  'us-west-1': { id: 'us-west-1', name: 'N. California', port: 8102, airport: 'SJC', lat: 37.3626, lon: -121.929 },
  'eu-central-1': { id: 'eu-central-1', name: 'Frankfurt', port: 8103, airport: 'FRA', lat: 50.0379, lon: 8.5622 },
  'ap-south-1': { id: 'ap-south-1', name: 'Mumbai', port: 8104, airport: 'BOM', lat: 19.0896, lon: 72.8656 },
  'ap-southeast-2': { id: 'ap-southeast-2', name: 'Sydney', port: 8105, airport: 'SYD', lat: -33.9399, lon: 151.1753 },
  'ap-southeast-1': { id: 'ap-southeast-1', name: 'Singapore', port: 8106, airport: 'SIN', lat: 1.3644, lon: 103.9915 },
};

export function isRegionId(value: unknown): value is RegionId {
  return typeof value === 'string' && (REGION_IDS as readonly string[]).includes(value);
}

/** Round-trip latency in ms between regions, CloudPing P50 over one year (row = from). */
export const INTER_REGION_RTT_MS: Record<RegionId, Record<RegionId, number>> = {
  'us-east-1': { 'us-east-1': 5.3, 'us-west-1': 63.9, 'eu-central-1': 93.1, 'ap-south-1': 192.3, 'ap-southeast-2': 199.7, 'ap-southeast-1': 219.1 },
  'us-west-1': { 'us-east-1': 63.8, 'us-west-1': 2.5, 'eu-central-1': 153.2, 'ap-south-1': 231.3, 'ap-southeast-2': 139.1, 'ap-southeast-1': 169.7 },
  'eu-central-1': { 'us-east-1': 92.6, 'us-west-1': 153.0, 'eu-central-1': 4.0, 'ap-south-1': 129.1, 'ap-southeast-2': 251.5, 'ap-southeast-1': 160.6 },
  'ap-south-1': { 'us-east-1': 189.7, 'us-west-1': 231.1, 'eu-central-1': 128.8, 'ap-south-1': 3.0, 'ap-southeast-2': 154.3, 'ap-southeast-1': 63.4 },
  'ap-southeast-2': { 'us-east-1': 199.7, 'us-west-1': 139.2, 'eu-central-1': 251.8, 'ap-south-1': 154.5, 'ap-southeast-2': 4.0, 'ap-southeast-1': 94.7 },
  'ap-southeast-1': { 'us-east-1': 218.6, 'us-west-1': 170.6, 'eu-central-1': 161.3, 'ap-south-1': 63.8, 'ap-southeast-2': 94.7, 'ap-southeast-1': 3.6 },
};

/** Great-circle distance in km (haversine, mean Earth radius). */
export function greatCircleKm(aLat: number, aLon: number, bLat: number, bLon: number): number {
  const rad = Math.PI / 180;
  const dLat = (bLat - aLat) * rad;
  const dLon = (bLon - aLon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(aLat * rad) * Math.cos(bLat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Map of region id → base URL of its origin (`PIXMESH_REGION_URLS`, JSON). */
export type RegionUrls = Partial<Record<RegionId, string>>;

export function localRegionUrls(host = '127.0.0.1'): Record<RegionId, string> {
  return Object.fromEntries(REGION_IDS.map((id) => [id, `http://${host}:${REGIONS[id].port}`])) as Record<RegionId, string>;
}

export function parseRegionUrls(json: string | undefined, what = 'PIXMESH_REGION_URLS'): RegionUrls {
  if (!json) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(`${what} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${what} must be an object of region id → URL`);
  const out: RegionUrls = {};
  for (const [id, url] of Object.entries(parsed)) {
    if (!isRegionId(id)) throw new Error(`${what}: unknown region "${id}" (known: ${REGION_IDS.join(', ')})`);
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new Error(`${what}.${id} must be an http(s) URL`);
    out[id] = url.replace(/\/+$/, '');
  }
  return out;
}
