/** Where the user is: request.cf in production; trusted dev headers only when explicitly enabled. */
export interface Geo {
  colo?: string;
  latitude?: number;
  longitude?: number;
  country?: string;
  continent?: string;
}

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isFinite(n) ? n : undefined;
};

export function readGeo(request: Request, trustHeaders: boolean): Geo {
  const cf = (request as Request & { cf?: Record<string, unknown> }).cf ?? {};
  const geo: Geo = {
    colo: typeof cf.colo === 'string' ? cf.colo : undefined,
    latitude: num(cf.latitude),
    longitude: num(cf.longitude),
    country: typeof cf.country === 'string' ? cf.country : undefined,
    continent: typeof cf.continent === 'string' ? cf.continent : undefined,
  };
  const h = request.headers;
  if (trustHeaders && ['x-pixmesh-colo', 'x-pixmesh-lat', 'x-pixmesh-lon', 'x-pixmesh-country'].some((n) => h.has(n))) {
    // The dev headers describe the whole location: nothing of the local machine's cf object mixes in.
    for (const k of Object.keys(geo) as (keyof Geo)[]) delete geo[k];
    const colo = h.get('x-pixmesh-colo');
    if (colo && /^[A-Za-z]{3}$/.test(colo)) geo.colo = colo.toUpperCase();
    geo.latitude = num(h.get('x-pixmesh-lat')) ?? geo.latitude;
    geo.longitude = num(h.get('x-pixmesh-lon')) ?? geo.longitude;
    const country = h.get('x-pixmesh-country');
    if (country && /^[A-Za-z]{2}$/.test(country)) geo.country = country.toUpperCase();
  }
  return geo;
}
