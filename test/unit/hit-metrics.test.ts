/**
 * The hit path records its answers with OriginMetrics.recordHit (origin/src/metrics.ts), which adds
 * them to prom-client in batches. Whatever reads the metrics — a scrape, a metric's get() — must
 * see exactly what one requests.inc, bytesOut.inc and requestDuration.observe per answer gave:
 * below a batch, across batch boundaries, interleaved with the app's own records.
 */
import { describe, expect, it } from 'vitest';
import { OriginMetrics } from '../../origin/src/metrics.js';

const sources = { resultCache: () => ({ entries: 0, bytes: 0 }), originals: () => ({ entries: 0, bytes: 0 }) };
const NAMES = ['pixmesh_origin_requests_total', 'pixmesh_origin_bytes_out_total', 'pixmesh_origin_request_duration_seconds'];

/** The three metrics' exposition text (default metrics such as CPU and heap left out: they differ between instances). */
async function text(m: OriginMetrics): Promise<string> {
  const parts: string[] = [];
  for (const n of NAMES) parts.push(await m.registry.getSingleMetricAsString(n));
  return parts.join('\n');
}

/** Answers: [bytes, seconds], and now and then an app answer recorded directly. */
function answers(n: number): { bytes: number; seconds: number; app: boolean }[] {
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
  return Array.from({ length: n }, (_, i) => ({ bytes: Math.floor(rnd() * 60_000), seconds: [0.00005, 0.0004, 0.002, 0.03, 0.7, 40][i % 6]! * (0.5 + rnd()), app: i % 97 === 5 }));
}

function recordBoth(direct: OriginMetrics, batched: OriginMetrics, list: ReturnType<typeof answers>): void {
  for (const a of list) {
    if (a.app) {
      for (const m of [direct, batched]) {
        m.requests.inc({ route: 'render', status: '200', cache: 'miss' }, 1);
        m.requestDuration.observe({ route: 'render' }, 0.05);
      }
      continue;
    }
    direct.bytesOut.inc({ route: 'render' }, a.bytes);
    direct.requests.inc({ route: 'render', status: '200', cache: 'hit' }, 1);
    direct.requestDuration.observe({ route: 'render' }, a.seconds);
    batched.recordHit(a.bytes, a.seconds);
  }
}

describe('OriginMetrics.recordHit (the hit path\'s batched metrics)', () => {
  it.each([1, 7, 255, 256, 257, 1000, 3001])('%i answers: the same counters and histogram as one record per answer', async (n) => {
    const direct = new OriginMetrics('eu-central-1', sources);
    const batched = new OriginMetrics('eu-central-1', sources);
    recordBoth(direct, batched, answers(n));
    const want = await text(direct);
    expect(want).toContain('cache="hit"');
    expect(await text(batched)).toBe(want);
  });

  it('a read between records sees every answer so far, and records after it are not lost', async () => {
    const direct = new OriginMetrics('eu-central-1', sources);
    const batched = new OriginMetrics('eu-central-1', sources);
    const list = answers(700);
    recordBoth(direct, batched, list.slice(0, 300));
    expect(await text(batched)).toBe(await text(direct));
    recordBoth(direct, batched, list.slice(300));
    expect(await text(batched)).toBe(await text(direct));
    expect((await batched.requests.get()).values.find((v) => v.labels.cache === 'hit')?.value).toBe(list.filter((a) => !a.app).length);
  });

  it('the whole registry (a scrape) includes answers still waiting for their batch', async () => {
    const m = new OriginMetrics('eu-central-1', sources);
    m.recordHit(1234, 0.0002);
    m.recordHit(766, 0.0003);
    const scrape = await m.registry.metrics();
    expect(scrape).toMatch(/pixmesh_origin_requests_total\{route="render",status="200",cache="hit",region="eu-central-1"\} 2/);
    expect(scrape).toMatch(/pixmesh_origin_bytes_out_total\{route="render",region="eu-central-1"\} 2000/);
    expect(scrape).toMatch(/pixmesh_origin_request_duration_seconds_count\{region="eu-central-1",route="render"\} 2\n/);
  });
});
