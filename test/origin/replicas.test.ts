/**
 * A region of two replicas (eu-central-1, processes on their own ports, one disk L1 each) sharing
 * one s3rver bucket (pixmesh-cache-eu-central-1), behind the cluster's balancer on the region port.
 * Calls go to a replica directly (to prove what they share) or through the balancer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegionId } from '../../shared/regions.js';
import { imageFacts, metricValue, serveBytes, signedFetch, startOriginServer, startRegions, stopRegions, testJpeg, type OriginServer, type Regions } from './helpers.js';

const HOME: RegionId = 'eu-central-1';
let regions: Regions & { basePort: number };
let web: OriginServer;
let A: string;
let B: string;

const accounts = (webUrl: string) => () => ({
  accounts: [
    {
      id: 'acme',
      homeRegion: HOME,
      privateKey: 'private_acme',
      publicKey: 'public_acme',
      endpoints: [{ prefix: '', origins: [{ type: 'media' }, { type: 'web', baseUrl: `${webUrl}/img`, allowPrivateNetwork: true }] }],
    },
  ],
});

const render = (base: string, path: string) => signedFetch(base, regions.internalSecret, `/internal/render/acme/${path}`, { headers: { 'x-pixmesh-format': 'jpeg' } });
const regionCache = async (base: string, path: string) => {
  const res = await render(base, path);
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  return res.headers.get('x-pixmesh-region-cache');
};
const purge = async (base: string, path: string) => {
  const res = await signedFetch(base, regions.internalSecret, `/internal/purge?account=acme&path=${encodeURIComponent(path)}`, { method: 'POST' });
  expect(res.status).toBe(200);
  return res.json();
};

beforeAll(async () => {
  web = await startOriginServer('127.0.0.1');
  const photo = await testJpeg(800, 600);
  for (const name of ['shared.jpg', 'purge.jpg', 'down.jpg', 'burst.jpg', 'coalesce.jpg']) web.route(`/img/${name}`, serveBytes(photo, 'image/jpeg', { delayMs: name === 'coalesce.jpg' ? 400 : 0 }));
  regions = await startRegions('auto', accounts(web.url), [HOME], {
    replicas: 2,
    replicaPortStep: 8,
    originEnv: { PIXMESH_HEARTBEAT_MS: '200', PIXMESH_PURGE_POLL_MS: '200', PIXMESH_TRANSFORM_CONCURRENCY: '1' },
  });
  [A, B] = regions.replicaUrls[HOME] as [string, string];
  // Both replicas see each other before the tests start.
  for (let i = 0; i < 50; i++) {
    const r = (await (await fetch(`${A}/readyz`)).json()) as { checks: { shared: { detail: string } } };
    if (r.checks.shared.detail.startsWith('2 live')) break;
    await new Promise((res) => setTimeout(res, 100));
  }
});

afterAll(async () => {
  await stopRegions(regions);
  await web?.close();
});

describe('a region of two replicas sharing one bucket', () => {
  it('the two replicas are distinct processes and the region port is a balancer in front of them', async () => {
    const [ha, hb] = await Promise.all([A, B].map(async (u) => (await fetch(`${u}/healthz`)).json() as Promise<{ pid: number; replica: string }>));
    expect(ha!.pid).not.toBe(hb!.pid);
    expect(ha!.replica).not.toBe(hb!.replica);
    const status = (await (await fetch(`${regions.regionUrls[HOME]}/_balancer`)).json()) as { backends: { url: string; healthy: boolean }[] };
    expect(status.backends.map((b) => b.url).sort()).toEqual([A, B].sort());
    expect(status.backends.every((b) => b.healthy)).toBe(true);
  });

  it('a variant rendered by replica A is a HIT on replica B (shared tier, promoted into B’s L1)', async () => {
    const first = await render(A, 'tr:w-200/shared.jpg');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    const a = await imageFacts(first);
    const onB = await render(B, 'tr:w-200/shared.jpg');
    expect(onB.status).toBe(200);
    expect(onB.headers.get('x-pixmesh-region-cache')).toBe('HIT');
    expect(onB.headers.get('server-timing')).toContain('tier;desc="shared"');
    const b = await imageFacts(onB);
    expect(b).toEqual(a);
    // Promoted: the next lookup on B is served from its own disk.
    const again = await render(B, 'tr:w-200/shared.jpg');
    await again.arrayBuffer();
    expect(again.headers.get('server-timing')).toContain('tier;desc="L1"');
    expect(web.count('/img/shared.jpg')).toBe(1);
  });

  it('a purge through either replica makes the variant a MISS on both', async () => {
    expect(await regionCache(A, 'tr:w-150/purge.jpg')).toBe('MISS');
    expect(await regionCache(A, 'tr:w-150/purge.jpg')).toBe('HIT');
    expect(await regionCache(B, 'tr:w-150/purge.jpg')).toBe('HIT');
    await purge(B, 'purge.jpg');
    expect(await regionCache(A, 'tr:w-150/purge.jpg')).toBe('MISS');
    expect(await regionCache(B, 'tr:w-150/purge.jpg')).toBe('HIT'); // A re-rendered and shared it
    await purge(A, 'purge.jpg');
    expect(await regionCache(B, 'tr:w-150/purge.jpg')).toBe('MISS');
    expect(await regionCache(A, 'tr:w-150/purge.jpg')).toBe('HIT');
  });

  it('a replica that was down during a purge honours it after its restart (purge records in the bucket)', async () => {
    expect(await regionCache(A, 'tr:w-120/down.jpg')).toBe('MISS');
    expect(await regionCache(B, 'tr:w-120/down.jpg')).toBe('HIT'); // now in B's L1 too
    await regions.stopReplica(HOME, 2, 'SIGKILL');
    await purge(A, 'down.jpg');
    await regions.startReplica(HOME, 2);
    // B's disk L1 still holds the old entry; the purge record makes it a miss.
    expect(await regionCache(B, 'tr:w-120/down.jpg')).toBe('MISS');
  });

  it('a SIGKILL of one replica mid-burst costs no failed request through the balancer', async () => {
    const lb = regions.regionUrls[HOME];
    expect(await regionCache(lb, 'tr:w-100/burst.jpg')).toBe('MISS');
    const statuses: number[] = [];
    let i = 0;
    const worker = async () => {
      while (i < 120) {
        const n = i++;
        // A mix of hits and fresh variants, so both replicas are busy when one dies.
        const res = await render(lb, n % 3 === 0 ? `tr:w-${101 + n}/burst.jpg` : 'tr:w-100/burst.jpg');
        await res.arrayBuffer();
        statuses.push(res.status);
        if (n === 30) await regions.stopReplica(HOME, 1, 'SIGKILL');
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    expect(statuses).toHaveLength(120);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const status = (await (await fetch(`${lb}/_balancer`)).json()) as { backends: { url: string; healthy: boolean }[]; retries: number };
    expect(status.backends.find((b) => b.url === A)!.healthy).toBe(false);
    await regions.startReplica(HOME, 1);
  });

  it('the hit ratio a replica reports is the region’s (its peers’ lookups count)', async () => {
    // B has answered mostly hits; A (restarted, empty window) now sees only misses.
    for (const w of [301, 302, 303, 304]) expect(await regionCache(A, `tr:w-${w}/shared.jpg`)).toBe('MISS');
    await new Promise((r) => setTimeout(r, 800)); // heartbeats carry the counts
    const ratio = async (u: string) => metricValue(await (await fetch(`${u}/metrics`)).text(), 'pixmesh_origin_result_cache_hit_ratio');
    const [ownA, ownB] = [await ratio(A), await ratio(B)];
    expect(ownA).toBe(0);
    expect(ownB).toBeGreaterThan(0.5);
    const res = await render(B, 'tr:w-200/shared.jpg');
    await res.arrayBuffer();
    const reported = Number(res.headers.get('x-pixmesh-region-hit-ratio'));
    // Between the two replicas' own ratios: the region's, pooled over both windows.
    expect(reported).toBeGreaterThan(ownA);
    expect(reported).toBeLessThan(ownB - 0.01);
  });
});
