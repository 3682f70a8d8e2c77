/** The dashboard's arithmetic on the edge: Prometheus text → rate and p50/p98; image traffic by colo/region per minute. */
import { describe, expect, it } from 'vitest';
import {
  diffBuckets,
  histogramBuckets,
  histogramQuantile,
  MetricsWindow,
  parsePrometheus,
  snapshotOf,
  summarise,
  type Buckets,
} from '../../edge/src/dashboard/metrics.js';
import { TrafficStats } from '../../edge/src/dashboard/traffic.js';

const TEXT = `# HELP pixmesh_origin_request_duration_seconds Time
# TYPE pixmesh_origin_request_duration_seconds histogram
pixmesh_origin_request_duration_seconds_bucket{le="0.01",route="render",region="eu-central-1"} 10
pixmesh_origin_request_duration_seconds_bucket{le="0.1",route="render",region="eu-central-1"} 90
pixmesh_origin_request_duration_seconds_bucket{le="1",route="render",region="eu-central-1"} 100
pixmesh_origin_request_duration_seconds_bucket{le="+Inf",route="render",region="eu-central-1"} 100
pixmesh_origin_request_duration_seconds_bucket{le="0.01",route="ops",region="eu-central-1"} 500
pixmesh_origin_request_duration_seconds_bucket{le="+Inf",route="ops",region="eu-central-1"} 500
pixmesh_origin_requests_total{route="render",status="200",cache="hit",region="eu-central-1"} 70
pixmesh_origin_requests_total{route="render",status="502",cache="error",region="eu-central-1"} 30
pixmesh_origin_requests_total{route="ops",status="200",cache="none",region="eu-central-1"} 500
pixmesh_origin_result_cache_hit_ratio{region="eu-central-1"} 0.7
pixmesh_origin_inflight_requests{region="eu-central-1"} 2
pixmesh_origin_transform_queue_depth{region="eu-central-1"} 1
weird line without value
label_escape{path="a\\"b"} 3
`;

describe('Prometheus text', () => {
  it('parses names, labels (escapes included) and values, skipping comments and malformed lines', () => {
    const s = parsePrometheus(TEXT);
    expect(s).toHaveLength(13);
    expect(s.find((x) => x.name === 'label_escape')).toEqual({ name: 'label_escape', labels: { path: 'a"b' }, value: 3 });
    expect(s[0]).toEqual({ name: 'pixmesh_origin_request_duration_seconds_bucket', labels: { le: '0.01', route: 'render', region: 'eu-central-1' }, value: 10 });
  });

  it('keeps only the render route in the latency histogram and counts 5xx among renders', () => {
    const snap = snapshotOf(parsePrometheus(TEXT), 1000);
    expect(snap.latency).toEqual([
      [0.01, 10],
      [0.1, 90],
      [1, 100],
      [Infinity, 100],
    ]);
    expect(snap).toMatchObject({ renders: 100, errors5xx: 30, hitRatio: 0.7, inflight: 2, queueDepth: 1 });
  });
});

describe('histogramQuantile (Prometheus interpolation)', () => {
  const b: Buckets = [
    [0.01, 10],
    [0.1, 90],
    [1, 100],
    [Infinity, 100],
  ];
  it.each([
    [0.05, 0.005], // rank 5 in the first bucket: 0 + 0.01 × 5/10
    [0.5, 0.01 + (0.09 * 40) / 80], // rank 50: 40 into the second bucket's 80
    [0.9, 0.1], // rank 90: the top of the second bucket
    [0.98, 0.1 + (0.9 * 8) / 10], // rank 98: 8 into the third bucket's 10
  ])('q=%f → %f s', (q, want) => {
    expect(histogramQuantile(q, b)).toBeCloseTo(want, 9);
  });
  it('answers the highest finite bound when the quantile falls in +Inf, null without observations', () => {
    expect(histogramQuantile(0.99, [[0.5, 1], [Infinity, 10]])).toBe(0.5);
    expect(histogramQuantile(0.5, [[0.5, 0], [Infinity, 0]])).toBeNull();
    expect(histogramQuantile(0.5, [])).toBeNull();
  });
});

describe('windows of snapshots', () => {
  const snap = (at: number, renders: number, latency: Buckets) => ({ at, latency, renders, errors5xx: 0, hitRatio: 0.5, inflight: 0, queueDepth: 0 });
  it('takes rate and quantiles from the difference between the oldest and newest snapshot', () => {
    const old = snap(0, 100, [[0.01, 100], [1, 100], [Infinity, 100]]);
    const now = snap(10_000, 150, [[0.01, 100], [1, 150], [Infinity, 150]]);
    const m = summarise([old, now]);
    expect(m.windowS).toBe(10);
    expect(m.requestRate).toBe(5);
    expect(m.requests).toBe(50);
    // Every request of the window took 10 ms–1 s: the old fast ones do not drag p50 down.
    expect(m.p50Ms!).toBeGreaterThan(10);
  });
  it('treats counters going down as a restarted process (figures since its start)', () => {
    const m = summarise([snap(0, 500, [[1, 500], [Infinity, 500]]), snap(5000, 20, [[1, 20], [Infinity, 20]])]);
    expect(m).toMatchObject({ windowS: 0, requestRate: null, requests: 20 });
    expect(diffBuckets([[1, 5]], [[1, 9]])).toEqual([[1, 5]]);
  });
  it('drops snapshots older than the window and reports a failed scrape as down', async () => {
    const w = new MetricsWindow(60_000, 0);
    const ok = async () => TEXT;
    await w.refresh(['eu-central-1'], ok, 0);
    await w.refresh(['eu-central-1'], ok, 30_000);
    expect(w.get('eu-central-1')).toMatchObject({ up: true, windowS: 30 });
    await w.refresh(['eu-central-1'], ok, 100_000);
    expect(w.get('eu-central-1')).toMatchObject({ up: true, windowS: 0 });
    await w.refresh(['eu-central-1'], () => Promise.reject(new Error('connection refused')), 101_000);
    expect(w.get('eu-central-1')).toMatchObject({ up: false, error: 'connection refused' });
  });
  it('histogramBuckets sums matching label sets', () => {
    expect(histogramBuckets(parsePrometheus(TEXT), 'pixmesh_origin_request_duration_seconds')).toEqual([
      [0.01, 510],
      [0.1, 90],
      [1, 100],
      [Infinity, 600],
    ]);
  });
});

describe('TrafficStats', () => {
  const T0 = 1_000 * 60_000; // a minute boundary
  it('counts requests by colo, the region that answered misses, edge hit ratio and status classes', () => {
    const t = new TrafficStats();
    t.record({ colo: 'SYD', region: 'ap-southeast-2', cache: 'MISS', status: 200 }, T0);
    t.record({ colo: 'SYD', region: 'ap-southeast-2', cache: 'HIT', status: 200 }, T0 + 1000);
    t.record({ colo: 'FRA', region: 'eu-central-1', cache: 'MISS', status: 200 }, T0 + 2000);
    t.record({ colo: null, region: null, cache: null, status: 404 }, T0 + 3000);
    t.record({ colo: 'GRU', region: 'us-east-1', cache: 'MISS', status: 502 }, T0 + 61_000);
    const s = t.summary(5, T0 + 62_000);
    expect(s.requests).toBe(5);
    expect(s.byColo).toEqual({ SYD: 2, FRA: 1, unknown: 1, GRU: 1 });
    // A HIT never reached a region: only the misses count for the region.
    expect(s.byRegion).toEqual({ 'ap-southeast-2': 1, 'eu-central-1': 1, 'us-east-1': 1 });
    expect(s.routes).toEqual({ SYD: { 'ap-southeast-2': 1 }, FRA: { 'eu-central-1': 1 }, GRU: { 'us-east-1': 1 } });
    expect(s.edgeHitRatio).toBe(0.25);
    expect(s).toMatchObject({ status4xx: 1, status5xx: 1, windowS: 62 });
    expect(s.perMinute).toEqual([0, 0, 0, 4, 1]);
  });
  it('forgets minutes outside the window', () => {
    const t = new TrafficStats();
    t.record({ colo: 'SYD', region: 'ap-southeast-2', cache: 'MISS', status: 200 }, T0);
    t.record({ colo: 'FRA', region: 'eu-central-1', cache: 'MISS', status: 200 }, T0 + 10 * 60_000);
    const s = t.summary(5, T0 + 10 * 60_000);
    expect(s.byColo).toEqual({ FRA: 1 });
    expect(s.edgeHitRatio).toBe(0);
  });
});
