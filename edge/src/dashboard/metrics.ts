/**
 * The regions' Prometheus metrics as the dashboard reads them: the edge fetches each region's
 * /metrics (signed like every internal call), keeps a few minutes of snapshots per isolate, and
 * turns the difference between the newest and the oldest snapshot of the window into a request
 * rate and p50/p98 latency (Prometheus' histogram_quantile interpolation). Parsing and the maths
 * are pure; only `MetricsWindow.refresh` does I/O.
 */
import type { RegionId } from '../../../shared/regions.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Prometheus text exposition → samples (comments, blank and malformed lines skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE_RE.exec(line);
    if (!m) continue;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL_RE)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Cumulative histogram buckets: upper bound → count (le="+Inf" is the total). */
export type Buckets = [le: number, count: number][];

/** Sum of the buckets of one histogram over every label set that matches `where`. */
export function histogramBuckets(samples: Sample[], name: string, where: Record<string, string> = {}): Buckets {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !matches(s, where)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    if (Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]);
}

/** Sum of a counter or gauge over the label sets that match `where` (a function for ranges such as status ≥ 500). */
export function sumOf(samples: Sample[], name: string, where: Record<string, string> | ((labels: Record<string, string>) => boolean) = {}): number {
  let total = 0;
  for (const s of samples) if (s.name === name && (typeof where === 'function' ? where(s.labels) : matches(s, where))) total += s.value;
  return total;
}

const matches = (s: Sample, where: Record<string, string>) => Object.entries(where).every(([k, v]) => s.labels[k] === v);

/** newer − older, bucket by bucket (a restarted process — counts going down — yields `newer` itself). */
export function diffBuckets(newer: Buckets, older: Buckets | undefined): Buckets {
  if (!older) return newer;
  const prev = new Map(older);
  const out: Buckets = newer.map(([le, n]) => [le, n - (prev.get(le) ?? 0)]);
  return out.some(([, n]) => n < 0) ? newer : out;
}

/**
 * The q-quantile (0–1) of a cumulative histogram, interpolated linearly inside the bucket it falls
 * in, like Prometheus' histogram_quantile. In the +Inf bucket: the highest finite bound. No
 * observations: null.
 */
export function histogramQuantile(q: number, buckets: Buckets): number | null {
  if (buckets.length === 0) return null;
  const total = buckets[buckets.length - 1]![1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      const inBucket = count - prevCount;
      return inBucket > 0 ? prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket : le;
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** What one scrape of a region keeps. */
export interface Snapshot {
  at: number;
  /** render latency histogram (seconds), all statuses. */
  latency: Buckets;
  renders: number;
  errors5xx: number;
  hitRatio: number | null;
  inflight: number;
  queueDepth: number;
}

export const LATENCY_METRIC = 'pixmesh_origin_request_duration_seconds';

export function snapshotOf(samples: Sample[], at: number): Snapshot {
  const ratio = samples.find((s) => s.name === 'pixmesh_origin_result_cache_hit_ratio');
  return {
    at,
    latency: histogramBuckets(samples, LATENCY_METRIC, { route: 'render' }),
    renders: sumOf(samples, 'pixmesh_origin_requests_total', { route: 'render' }),
    errors5xx: sumOf(samples, 'pixmesh_origin_requests_total', (l) => l.route === 'render' && Number(l.status) >= 500),
    hitRatio: ratio ? ratio.value : null,
    inflight: sumOf(samples, 'pixmesh_origin_inflight_requests'),
    queueDepth: sumOf(samples, 'pixmesh_origin_transform_queue_depth'),
  };
}

export interface RegionMetrics {
  /** Did the last scrape succeed? */
  up: boolean;
  error?: string;
  /** Seconds covered by the figures below (0: one snapshot only, so the figures are since the process started). */
  windowS: number;
  /** Render requests per second over the window. */
  requestRate: number | null;
  /** Render requests in the window (or since start). */
  requests: number;
  errors5xx: number;
  p50Ms: number | null;
  p98Ms: number | null;
  hitRatio: number | null;
  inflight: number | null;
  queueDepth: number | null;
  scrapedAt: number | null;
}

const ms = (s: number | null) => (s === null ? null : Math.round(s * 10000) / 10);

/** Figures over the window between the oldest and newest snapshot (pure). */
export function summarise(snaps: Snapshot[]): Omit<RegionMetrics, 'up' | 'error'> {
  const newest = snaps[snaps.length - 1];
  if (!newest) return { windowS: 0, requestRate: null, requests: 0, errors5xx: 0, p50Ms: null, p98Ms: null, hitRatio: null, inflight: null, queueDepth: null, scrapedAt: null };
  const oldest = snaps.length > 1 ? snaps[0]! : undefined;
  const restarted = oldest !== undefined && newest.renders < oldest.renders;
  const base = restarted ? undefined : oldest;
  const windowS = base ? (newest.at - base.at) / 1000 : 0;
  const requests = newest.renders - (base?.renders ?? 0);
  const latency = diffBuckets(newest.latency, base?.latency);
  return {
    windowS: Math.round(windowS),
    requestRate: windowS > 0 ? Math.round((requests / windowS) * 100) / 100 : null,
    requests,
    errors5xx: newest.errors5xx - (base?.errors5xx ?? 0),
    p50Ms: ms(histogramQuantile(0.5, latency)),
    p98Ms: ms(histogramQuantile(0.98, latency)),
    hitRatio: newest.hitRatio,
    inflight: newest.inflight,
    queueDepth: newest.queueDepth,
    scrapedAt: newest.at,
  };
}

/** Per isolate: a few minutes of snapshots per region, scraped at most every `minIntervalMs`. */
export class MetricsWindow {
  private readonly snaps = new Map<RegionId, Snapshot[]>();
  private readonly errors = new Map<RegionId, string>();
  private lastScrape = 0;
  private inflight: Promise<void> | undefined;

  constructor(
    readonly windowMs = 5 * 60_000,
    readonly minIntervalMs = 2_000,
  ) {}

  /** Scrape every region (concurrently, each bounded by a timeout) unless the last scrape is recent. */
  async refresh(regions: RegionId[], scrape: (region: RegionId) => Promise<string>, now = Date.now()): Promise<void> {
    if (this.inflight) return this.inflight;
    if (now - this.lastScrape < this.minIntervalMs) return;
    this.lastScrape = now;
    this.inflight = Promise.all(
      regions.map(async (region) => {
        try {
          const snap = snapshotOf(parsePrometheus(await scrape(region)), now);
          const kept = (this.snaps.get(region) ?? []).filter((s) => now - s.at <= this.windowMs);
          kept.push(snap);
          this.snaps.set(region, kept);
          this.errors.delete(region);
        } catch (e) {
          this.errors.set(region, (e as Error).message || 'unreachable');
        }
      }),
    ).then(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  get(region: RegionId): RegionMetrics {
    const err = this.errors.get(region);
    return { up: err === undefined && this.snaps.has(region), ...(err ? { error: err } : {}), ...summarise(this.snaps.get(region) ?? []) };
  }
}
