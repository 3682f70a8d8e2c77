/**
 * Prometheus metrics (prom-client), one registry per app instance so in-process tests never share
 * counters. Names and labels are a contract (docs/origin.md); the rolling hit ratio is also sent
 * to the edge on every render answer (x-pixmesh-region-hit-ratio).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Result-cache outcome of one render request. */
export type CacheResult = 'hit' | 'miss' | 'forward' | 'failover' | 'error' | 'not-modified';

/** Hit ratio over the last `size` result-cache lookups (a ring of booleans). */
export class RollingRatio {
  private readonly ring: Uint8Array;
  private next = 0;
  private count = 0;
  private hits = 0;
  constructor(readonly size = 1000) {
    this.ring = new Uint8Array(size);
  }
  record(hit: boolean): void {
    if (this.count === this.size) this.hits -= this.ring[this.next]!;
    else this.count++;
    this.ring[this.next] = hit ? 1 : 0;
    this.hits += hit ? 1 : 0;
    this.next = (this.next + 1) % this.size;
  }
  /** Hits and lookups in the window (shared with the region's other replicas). */
  counts(): { hits: number; lookups: number } {
    return { hits: this.hits, lookups: this.count };
  }
  /** 0–1; 0 before any lookup. */
  get value(): number {
    return this.count === 0 ? 0 : this.hits / this.count;
  }
}

/** Metric labels of the hit path's answers (origin/src/hit-path.ts), made once. */
const RENDER = Object.freeze({ route: 'render' });
const RENDER_HIT_200 = Object.freeze({ route: 'render', status: '200', cache: 'hit' });
/** Hit-path answers recorded before they are added to prom-client (recordHit): at most this many wait. */
const HIT_BATCH = 256;

export class OriginMetrics {
  readonly registry = new Registry();
  readonly hitRatio = new RollingRatio();
  readonly requests: Counter<'route' | 'status' | 'cache'>;
  readonly stage: Histogram<'stage'>;
  readonly requestDuration: Histogram<'route'>;
  readonly bytesIn: Counter<'source'>;
  readonly bytesOut: Counter<'route'>;
  readonly queueDepth: Gauge;
  readonly transformsActive: Gauge;
  readonly queueRejected: Counter;
  readonly coalesced: Counter<'kind'>;
  readonly originFetches: Counter<'source' | 'outcome'>;
  readonly inflight: Gauge;
  readonly cacheWriteErrors: Counter;
  /** Hit-path answers not yet in requests / bytesOut / requestDuration: their count, bytes and durations (s). */
  private pendingHits = 0;
  private pendingBytes = 0;
  private readonly pendingSeconds = new Float64Array(HIT_BATCH);

  constructor(region: string, sources: { resultCache: () => { entries: number; bytes: number }; originals: () => { entries: number; bytes: number } }) {
    const r = this.registry;
    r.setDefaultLabels({ region });
    collectDefaultMetrics({ register: r, prefix: 'pixmesh_origin_' });
    this.requests = new Counter({
      name: 'pixmesh_origin_requests_total',
      help: 'HTTP requests answered, by route, status and result-cache outcome (hit, miss, forward, failover, not-modified, error, none)',
      labelNames: ['route', 'status', 'cache'],
      registers: [r],
      collect: () => this.flushHits(),
    });
    this.stage = new Histogram({
      name: 'pixmesh_origin_stage_duration_seconds',
      help: 'Time per stage: fetch (original), transform (decode + operations + encode, inside renderImage), queue (wait for a transform slot), forward (to the home region), cache (result-cache lookup), store, layers (layer fetch + render + composite, inside transform), face (fo-face detections run, inside transform)',
      labelNames: ['stage'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [r],
    });
    this.requestDuration = new Histogram({
      name: 'pixmesh_origin_request_duration_seconds',
      help: 'Time from a request\'s arrival to its response headers, by route (render, purge, internal, ops); the dashboard\'s p50/p98 per region',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [r],
      collect: () => this.flushHits(),
    });
    this.bytesIn = new Counter({ name: 'pixmesh_origin_bytes_in_total', help: 'Bytes of originals fetched, by origin type (media, s3, web, webproxy) or "forward" for bytes received from the home region', labelNames: ['source'], registers: [r] });
    this.bytesOut = new Counter({ name: 'pixmesh_origin_bytes_out_total', help: 'Image bytes sent in responses', labelNames: ['route'], registers: [r], collect: () => this.flushHits() });
    this.queueDepth = new Gauge({ name: 'pixmesh_origin_transform_queue_depth', help: 'Transforms waiting for a slot', registers: [r] });
    this.transformsActive = new Gauge({ name: 'pixmesh_origin_transforms_active', help: 'Transforms running', registers: [r] });
    this.queueRejected = new Counter({ name: 'pixmesh_origin_transform_rejected_total', help: 'Requests refused with 503 EBUSY because the transform queue or the in-flight bound was full', registers: [r] });
    this.coalesced = new Counter({ name: 'pixmesh_origin_coalesced_requests_total', help: 'Requests that joined an identical in-flight request instead of doing the work (kind: variant, original)', labelNames: ['kind'], registers: [r] });
    this.originFetches = new Counter({ name: 'pixmesh_origin_original_fetches_total', help: 'Original lookups by origin type and outcome (found, missing, error) and originals-cache hits (source=cache)', labelNames: ['source', 'outcome'], registers: [r] });
    this.cacheWriteErrors = new Counter({ name: 'pixmesh_origin_result_cache_write_errors_total', help: 'Results served without being stored because the cache write failed (disk full, I/O error)', registers: [r] });
    // Any other record to these three first adds the waiting hits, so every record lands in the
    // order it was made (series created in the same order, sums added in the same order).
    for (const [metric, method] of [[this.requests, 'inc'], [this.bytesOut, 'inc'], [this.requestDuration, 'observe']] as const) {
      const target = metric as unknown as Record<string, (...args: unknown[]) => unknown>;
      const record = target[method]!.bind(metric);
      target[method] = (...args: unknown[]) => {
        this.flushHits();
        return record(...args);
      };
    }
    this.inflight = new Gauge({ name: 'pixmesh_origin_inflight_requests', help: 'Render requests being handled', registers: [r] });
    const ratio = this.hitRatio;
    new Gauge({ name: 'pixmesh_origin_result_cache_hit_ratio', help: 'Rolling result-cache hit ratio over the last 1000 lookups', registers: [r], collect() { this.set(ratio.value); } });
    new Gauge({ name: 'pixmesh_origin_result_cache_bytes', help: 'Bytes in the result cache', registers: [r], collect() { this.set(sources.resultCache().bytes); } });
    new Gauge({ name: 'pixmesh_origin_result_cache_entries', help: 'Entries in the result cache', registers: [r], collect() { this.set(sources.resultCache().entries); } });
    new Gauge({ name: 'pixmesh_origin_originals_cache_bytes', help: 'Bytes in the in-memory originals cache', registers: [r], collect() { this.set(sources.originals().bytes); } });
  }

  /**
   * One hit-path answer (a 200 of route render, cache hit, `bytes` sent, `seconds` to its headers):
   * the same counts and observation as `requests.inc`, `bytesOut.inc` and `requestDuration.observe`,
   * added in batches — when HIT_BATCH answers wait, before any other record to those metrics and
   * before any read of them (their collect: a scrape, `get()`) — so a hit runs three array writes instead of prom-client's label
   * hashing and lookups three times, and the batch runs them in one warm loop (docs/benchmarks.md
   * "Round 7 (hit path").
   */
  recordHit(bytes: number, seconds: number): void {
    this.pendingSeconds[this.pendingHits++] = seconds;
    this.pendingBytes += bytes;
    if (this.pendingHits === HIT_BATCH) this.flushHits();
  }

  /** Adds the waiting hit-path answers to the metrics (idempotent: nothing waits after it). */
  flushHits(): void {
    const n = this.pendingHits;
    if (n === 0) return;
    const bytes = this.pendingBytes;
    this.pendingHits = 0;
    this.pendingBytes = 0;
    this.requests.inc(RENDER_HIT_200, n);
    this.bytesOut.inc(RENDER, bytes);
    for (let i = 0; i < n; i++) this.requestDuration.observe(RENDER, this.pendingSeconds[i]!);
  }

  /** Hit-ratio header value: 3 decimals. */
  hitRatioHeader(): string {
    return this.hitRatio.value.toFixed(3);
  }
}
