/**
 * A region of two replicas (eu-central-1, processes on their own ports, one disk L1 each) sharing
 * one s3rver bucket (pixmesh-cache-eu-central-1), behind the cluster's balancer on the region port.
 * Calls go to a replica directly (to prove what they share) or through the balancer.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInternalRequest } from '../../shared/internal-auth.js';
import { rendezvousOwner, renderRouteKey } from '../../shared/rendezvous.js';
import type { RegionId } from '../../shared/regions.js';
import { imageFacts, metricValue, serveBytes, signedFetch, startOriginServer, startRegions, stopRegions, testJpeg, writesSettled, type OriginServer, type Regions } from './helpers.js';

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
  await seeEachOther();
});

/** Both replicas list the other as live (after a restart, or a suspicion after a slow answer under load). */
async function seeEachOther(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const details = await Promise.all([A, B].map(async (u) => ((await (await fetch(`${u}/readyz`)).json()) as { checks: { shared: { detail: string } } }).checks.shared.detail));
    if (details.every((d) => d.startsWith('2 live'))) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the two replicas did not see each other within 10 s');
}

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
    // A width whose owner is A: B's miss would otherwise be asked of A (coalescing) instead of read from the shared tier.
    const ownedBy = (base: string, w: number) => rendezvousOwner(renderRouteKey(`/internal/render/acme/tr:w-${w}/shared.jpg`, new Headers({ 'x-pixmesh-format': 'jpeg' })), [A, B]) === base;
    const w = [200, 201, 202, 203, 204, 205, 206, 207].find((n) => ownedBy(A, n))!;
    const first = await render(A, `tr:w-${w}/shared.jpg`);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    const a = await imageFacts(first);
    // A writes the shared tier behind its response: once that landed, B reads it there.
    await writesSettled(A);
    // B must see A live right now: a B that suspects A (a missed heartbeat on a loaded machine)
    // owns the variant itself and renders alongside its shared-tier read, fetching the original.
    await seeEachOther();
    const onB = await render(B, `tr:w-${w}/shared.jpg`);
    expect(onB.status).toBe(200);
    expect(onB.headers.get('x-pixmesh-region-cache')).toBe('HIT');
    expect(onB.headers.get('server-timing')).toContain('tier;desc="shared"');
    const b = await imageFacts(onB);
    expect(b).toEqual(a);
    // Promoted: the next lookup on B is served from its own disk.
    const again = await render(B, `tr:w-${w}/shared.jpg`);
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
    await writesSettled(B); // … on its disk (written behind the response)
    await regions.stopReplica(HOME, 2, 'SIGKILL');
    await purge(A, 'down.jpg');
    await regions.startReplica(HOME, 2);
    // B's disk L1 still holds the old entry; the purge record makes it a miss.
    expect(await regionCache(B, 'tr:w-120/down.jpg')).toBe('MISS');
  });

  it('a SIGKILL of one replica mid-burst costs no failed request through the balancer', async () => {
    await seeEachOther();
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
    for (let w = 301; w <= 340; w++) expect(await regionCache(A, `tr:w-${w}/shared.jpg`)).toBe('MISS');
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
    expect(reported).toBeLessThan(ownB);
  });
});

/** A multipart upload as the edge passes it on (the client's body, unchanged). */
async function upload(base: string, fields: Record<string, string>, file: Buffer, auth: 'key' | 'signature') {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(file)], { type: 'image/jpeg' }), 'x.jpg');
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  const req = new Request('http://x/', { method: 'POST', body: form });
  const body = Buffer.from(await req.arrayBuffer());
  const pathAndQuery = `/internal/media/acme/files/upload?auth=${auth}&endpoint=${encodeURIComponent('http://edge.test/acme')}`;
  const headers = new Headers({ 'content-type': req.headers.get('content-type')! });
  await signInternalRequest(regions.internalSecret, headers, { method: 'POST', pathAndQuery, region: HOME, body: new Uint8Array(body) });
  return fetch(base + pathAndQuery, { method: 'POST', headers, body });
}

describe('state the two replicas must agree on', () => {
  it('20 concurrent identical misses spread over both replicas fetch the original once', async () => {
    await seeEachOther();
    const before = web.count('/img/coalesce.jpg');
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await render(i % 2 === 0 ? A : B, 'tr:w-180,h-120/coalesce.jpg');
        const facts = await imageFacts(res);
        return { status: res.status, replica: res.headers.get('x-pixmesh-replica'), facts };
      }),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(results.map((r) => r.replica)).size).toBe(2); // both replicas answered
    expect(results.every((r) => r.facts.width === 180 && r.facts.height === 120)).toBe(true);
    expect(web.count('/img/coalesce.jpg') - before).toBe(1);
  });

  it('an internal call replayed to the other replica is refused (nonce claimed region-wide)', async () => {
    await seeEachOther();
    const pathAndQuery = '/internal/render/acme/tr:w-200/shared.jpg';
    const headers = new Headers({ 'x-pixmesh-format': 'jpeg' });
    await signInternalRequest(regions.internalSecret, headers, { method: 'GET', pathAndQuery, region: HOME });
    const first = await fetch(A + pathAndQuery, { headers });
    await first.arrayBuffer();
    expect(first.status).toBe(200);
    for (const target of [B, A]) {
      const replay = await fetch(target + pathAndQuery, { headers });
      await replay.arrayBuffer();
      expect(replay.status).toBe(401);
      expect(replay.headers.get('ik-error')).toMatch(/replayed/);
    }
  });

  it('a client-side upload token used on replica A is refused on replica B', async () => {
    const token = crypto.randomUUID();
    const expire = String(Math.floor(Date.now() / 1000) + 600);
    const signature = crypto.createHmac('sha1', 'private_acme').update(token + expire).digest('hex');
    const photo = await testJpeg(64, 48);
    const fields = { fileName: 'token.jpg', token, expire, signature, publicKey: 'public_acme' };
    const first = await upload(A, fields, photo, 'signature');
    expect(first.status).toBe(200);
    const again = await upload(B, fields, photo, 'signature');
    expect(again.status).toBe(400);
    expect(again.headers.get('ik-error')).toMatch(/already been used/);
  });

  it('concurrent overwriteFile=false uploads of one path through both replicas: one 200, one 409; both list it once', async () => {
    const photo = await testJpeg(80, 60);
    const fields = { fileName: 'race.jpg', useUniqueFileName: 'false', overwriteFile: 'false', folder: '/race' };
    const statuses = (await Promise.all([upload(A, fields, photo, 'key'), upload(B, fields, photo, 'key')])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409]);
    for (const base of [A, B]) {
      const res = await signedFetch(base, regions.internalSecret, `/internal/media/acme/files?path=${encodeURIComponent('/race')}&endpoint=${encodeURIComponent('http://edge.test/acme')}`);
      expect(res.status).toBe(200);
      const list = (await res.json()) as { filePath: string }[];
      expect(list.filter((f) => f.filePath === '/race/race.jpg')).toHaveLength(1);
    }
  });
});
