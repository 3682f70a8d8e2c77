/**
 * What the edge saw, for the dashboard: image requests per minute by colo, answering region,
 * edge-cache outcome and status class, over the last minutes. Kept per isolate in memory (a
 * deployment with many isolates shows the one that answers the dashboard; docs/dashboard.md).
 * The counters are pure data; `trafficMiddleware` (edge/src/dashboard/index.ts) feeds them from
 * every image response.
 */
const MINUTE_MS = 60_000;

interface Minute {
  minute: number;
  requests: number;
  edgeHits: number;
  edgeMisses: number;
  stale: number;
  status4xx: number;
  status5xx: number;
  byColo: Record<string, number>;
  byRegion: Record<string, number>;
  /** colo → region → requests the region answered (edge misses). */
  routes: Record<string, Record<string, number>>;
}

export interface TrafficEvent {
  colo: string | null;
  /** x-pixmesh-region of the answer (absent on an edge HIT). */
  region: string | null;
  /** x-pixmesh-cache: HIT, MISS, STALE. */
  cache: string | null;
  status: number;
}

export interface TrafficSummary {
  windowS: number;
  requests: number;
  /** Requests per second over the window. */
  requestRate: number;
  /** Edge-cache hits / (hits + misses); null before any cacheable answer. */
  edgeHitRatio: number | null;
  stale: number;
  status4xx: number;
  status5xx: number;
  byColo: Record<string, number>;
  byRegion: Record<string, number>;
  routes: Record<string, Record<string, number>>;
  /** Requests per minute, oldest first (for a sparkline). */
  perMinute: number[];
}

const bump = (o: Record<string, number>, k: string, n = 1) => (o[k] = (o[k] ?? 0) + n);

export class TrafficStats {
  private minutes: Minute[] = [];
  /** colo → last time it served a request. */
  readonly coloSeenAt = new Map<string, number>();

  constructor(readonly keepMinutes = 15) {}

  record(e: TrafficEvent, now = Date.now()): void {
    const minute = Math.floor(now / MINUTE_MS);
    let m = this.minutes[this.minutes.length - 1];
    if (!m || m.minute !== minute) {
      m = { minute, requests: 0, edgeHits: 0, edgeMisses: 0, stale: 0, status4xx: 0, status5xx: 0, byColo: {}, byRegion: {}, routes: {} };
      this.minutes.push(m);
      this.minutes = this.minutes.filter((x) => minute - x.minute < this.keepMinutes);
    }
    m.requests++;
    if (e.cache === 'HIT') m.edgeHits++;
    else if (e.cache === 'MISS') m.edgeMisses++;
    else if (e.cache === 'STALE') m.stale++;
    if (e.status >= 500) m.status5xx++;
    else if (e.status >= 400) m.status4xx++;
    const colo = e.colo ?? 'unknown';
    bump(m.byColo, colo);
    this.coloSeenAt.set(colo, now);
    if (e.region && e.cache !== 'HIT') {
      bump(m.byRegion, e.region);
      bump((m.routes[colo] ??= {}), e.region);
    }
  }

  /** The last `minutes` minutes (the current one included). */
  summary(minutes = 5, now = Date.now()): TrafficSummary {
    const current = Math.floor(now / MINUTE_MS);
    const inWindow = this.minutes.filter((m) => current - m.minute < minutes);
    const out: TrafficSummary = { windowS: 0, requests: 0, requestRate: 0, edgeHitRatio: null, stale: 0, status4xx: 0, status5xx: 0, byColo: {}, byRegion: {}, routes: {}, perMinute: [] };
    let hits = 0;
    let misses = 0;
    for (const m of inWindow) {
      out.requests += m.requests;
      hits += m.edgeHits;
      misses += m.edgeMisses;
      out.stale += m.stale;
      out.status4xx += m.status4xx;
      out.status5xx += m.status5xx;
      for (const [k, n] of Object.entries(m.byColo)) bump(out.byColo, k, n);
      for (const [k, n] of Object.entries(m.byRegion)) bump(out.byRegion, k, n);
      for (const [c, r] of Object.entries(m.routes)) for (const [k, n] of Object.entries(r)) bump((out.routes[c] ??= {}), k, n);
    }
    for (let i = minutes - 1; i >= 0; i--) out.perMinute.push(inWindow.find((m) => m.minute === current - i)?.requests ?? 0);
    // The window runs from the start of its oldest minute that has data (or of the current one) to now.
    const first = inWindow[0]?.minute ?? current;
    out.windowS = Math.max(1, Math.round((now - first * MINUTE_MS) / 1000));
    out.requestRate = Math.round((out.requests / out.windowS) * 100) / 100;
    out.edgeHitRatio = hits + misses > 0 ? Math.round((hits / (hits + misses)) * 1000) / 1000 : null;
    return out;
  }
}

/** One per isolate. */
export const traffic = new TrafficStats();
