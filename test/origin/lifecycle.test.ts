/**
 * Region processes living through trouble: overload (503 EBUSY, then recovery), the home region
 * killed (failover for flexible accounts, refusal for strict ones), a restart that keeps the
 * result cache, and graceful shutdown on SIGTERM.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects } from '../../scripts/cluster.js';
import { mediaBucketFor } from '../../origin/src/config.js';
import { listEntries } from '../../origin/src/cache/result-cache.js';
import type { RegionId } from '../../shared/regions.js';
import {
  writesSettled,
  imageFacts,
  metricValue,
  serveBytes,
  signedFetch,
  spawnOrigin,
  startOriginServer,
  startRegions,
  stopRegions,
  testJpeg,
  type OriginServer,
  type Regions,
} from './helpers.js';

const HOME: RegionId = 'eu-central-1';
const WEST: RegionId = 'us-west-1';
let regions: Regions & { basePort: number };
let web: OriginServer;

const accounts = (webUrl: string) => () => ({
  accounts: [
    {
      id: 'flex',
      homeRegion: HOME,
      privateKey: 'private_flex',
      endpoints: [{ prefix: '', origins: [{ type: 'media' }, { type: 'web', baseUrl: `${webUrl}/img`, allowPrivateNetwork: true }] }],
    },
    {
      id: 'vault',
      homeRegion: HOME,
      privateKey: 'private_vault',
      residency: 'strict',
      endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: `${webUrl}/img`, allowPrivateNetwork: true }] }],
    },
    {
      id: 'south',
      homeRegion: 'ap-south-1',
      privateKey: 'private_south',
      endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: `${webUrl}/img`, allowPrivateNetwork: true }] }],
    },
  ],
});

const render = (region: RegionId, path: string, headers: Record<string, string> = {}) =>
  signedFetch(regions.regionUrls[region], regions.internalSecret, `/internal/render/${path}`, { headers: { 'x-pixmesh-format': 'jpeg', ...headers } });

beforeAll(async () => {
  web = await startOriginServer('127.0.0.1');
  const small = await testJpeg(320, 240);
  for (const name of ['keep.jpg', 'fail.jpg', 'strict.jpg', 'after.jpg']) web.route(`/img/${name}`, serveBytes(small, 'image/jpeg'));
  web.route('/img/heavy.jpg', serveBytes(await testJpeg(2400, 1800), 'image/jpeg'));
  web.route('/img/slow.jpg', serveBytes(small, 'image/jpeg', { delayMs: 1500 }));
  web.route('/img/very-slow.jpg', serveBytes(small, 'image/jpeg', { delayMs: 6000 }));
  regions = await startRegions('auto', accounts(web.url), [HOME, WEST], {
    originEnvByRegion: { [HOME]: { PIXMESH_TRANSFORM_CONCURRENCY: '1', PIXMESH_TRANSFORM_QUEUE: '1' } },
    originEnv: { PIXMESH_FORWARD_TIMEOUT_MS: '3000' },
  });
  await putObjects(regions.s3Url, mediaBucketFor(HOME), [{ key: 'flex/media/m.jpg', body: small, contentType: 'image/jpeg' }]);
});

afterAll(async () => {
  await stopRegions(regions);
  await web?.close();
});

describe('overload', () => {
  it('answers 503 EBUSY with Retry-After when the transform queue is full, then recovers', async () => {
    const widths = Array.from({ length: 30 }, (_, i) => 100 + i * 10);
    const res = await Promise.all(widths.map((w) => render(HOME, `flex/tr:w-${w}/heavy.jpg`, { 'x-pixmesh-format': 'webp' })));
    const statuses = res.map((r) => r.status);
    const busy = res.filter((r) => r.status === 503);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2); // one running + one queued
    // 2 slots (one running + one queued) against 30 at once: most are refused. How many get in depends on
    // how fast the renders finish while the burst arrives (18 of 30 refused on a loaded 2-core machine).
    expect(busy.length).toBeGreaterThanOrEqual(10);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(busy[0]!.headers.get('retry-after')).toBe('1');
    expect(busy[0]!.headers.get('ik-error')).toMatch(/^EBUSY/);
    expect(busy[0]!.headers.get('x-pixmesh-error-scope')).toBe('region'); // another region may have room
    const metrics = await (await fetch(`${regions.regionUrls[HOME]}/metrics`)).text();
    expect(metricValue(metrics, 'pixmesh_origin_transform_rejected_total')).toBe(busy.length);
    expect(metricValue(metrics, 'pixmesh_origin_transform_queue_depth')).toBe(0);
    // Memory stayed bounded through the burst (refused work never held a decoded image).
    const rss = metricValue(metrics, 'pixmesh_origin_process_resident_memory_bytes');
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(rss).toBeLessThan(600 * 1024 * 1024);
    // Recovered: the same requests one at a time all succeed.
    for (const w of widths.slice(0, 3)) expect((await render(HOME, `flex/tr:w-${w}/heavy.jpg`)).status).toBe(200);
    expect(web.count('/img/heavy.jpg')).toBe(1); // the original was fetched once for all of them
  });
});

describe('home region killed', () => {
  it('keeps the result cache across a crash and restart of the home region', async () => {
    const first = await render(HOME, 'flex/tr:w-100/keep.jpg');
    expect(first.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    // The entry is written behind the response: once it landed, a crash keeps it.
    await writesSettled(regions.regionUrls[HOME]);
    await regions.stopRegion(HOME, 'SIGKILL');

    // Flexible account: the other region fetches the original itself and says so.
    const failover = await render(WEST, 'flex/tr:w-80/fail.jpg');
    expect(failover.status).toBe(200);
    expect(failover.headers.get('x-pixmesh-failover')).toBe('home-unreachable');
    expect(failover.headers.get('x-pixmesh-processed-by')).toBe(WEST);
    expect((await imageFacts(failover)).width).toBe(80);
    // … including media-library originals, read from the home region's bucket.
    const media = await render(WEST, 'flex/tr:w-60/media/m.jpg');
    expect(media.status).toBe(200);
    expect(media.headers.get('x-pixmesh-failover')).toBe('home-unreachable');

    // Strict account: refused, and nothing of it fetched or stored outside home.
    const strict = await render(WEST, 'vault/tr:w-80/strict.jpg');
    expect(strict.status).toBe(502);
    expect(strict.headers.get('ik-error')).toMatch(/^EUPSTREAM - home region unreachable/);
    expect(strict.headers.get('x-pixmesh-error-scope')).toBe('region');
    expect(web.count('/img/strict.jpg')).toBe(0);
    await writesSettled(regions.regionUrls[WEST]);
    const westFiles = await listEntries(regions.cacheDir(WEST));
    expect(westFiles.length).toBe(2); // fail.jpg and media/m.jpg, nothing of vault

    await regions.startRegion(HOME);
    const again = await render(HOME, 'flex/tr:w-100/keep.jpg');
    expect(again.status).toBe(200);
    expect(again.headers.get('x-pixmesh-region-cache')).toBe('HIT');
    expect(web.count('/img/keep.jpg')).toBe(1);
    // Home is back: forwarding resumes (at the latest when the breaker's cool-down ends), no failover header.
    let after: Response | undefined;
    for (let i = 0; i < 40; i++) {
      after = await render(WEST, `flex/tr:w-${80 + i}/after.jpg`);
      if (after.headers.get('x-pixmesh-processed-by') === HOME) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(after!.headers.get('x-pixmesh-processed-by')).toBe(HOME);
    expect(after!.headers.get('x-pixmesh-failover')).toBeNull();
  });
});

describe('a hanging home region', () => {
  // The cool-down is long here so a slow machine cannot reach the half-open trial between the calls.
  it('costs one forward timeout; then the breaker fails over (or refuses strict accounts) at once', async () => {
    const held: net.Socket[] = [];
    const hang = net.createServer((sock) => void held.push(sock)); // accepts, never answers
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const port = regions.basePort + 22;
    const urls = { ...regions.regionUrls, [HOME]: `http://127.0.0.1:${(hang.address() as net.AddressInfo).port}`, 'ap-south-1': `http://127.0.0.1:${port}` };
    const origin = await spawnOrigin(regions, 'ap-south-1', port, { PIXMESH_REGION_URLS: JSON.stringify(urls), PIXMESH_FORWARD_TIMEOUT_MS: '800', PIXMESH_HOME_BREAKER_COOLDOWN_MS: '20000' });
    try {
      const call = (p: string) => signedFetch(origin.url, regions.internalSecret, `/internal/render/${p}`, { headers: { 'x-pixmesh-format': 'jpeg' } });
      let t0 = Date.now();
      const first = await call('flex/tr:w-31/fail.jpg');
      expect(first.status).toBe(200);
      expect(first.headers.get('x-pixmesh-failover')).toBe('home-unreachable');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
      t0 = Date.now();
      const second = await call('flex/tr:w-32/fail.jpg');
      expect(second.status).toBe(200);
      expect(second.headers.get('server-timing')).toMatch(/failover;desc="circuit open/);
      expect(Date.now() - t0).toBeLessThan(600);
      t0 = Date.now();
      const strict = await call('vault/tr:w-32/strict.jpg');
      expect(strict.status).toBe(502);
      expect(Date.now() - t0).toBeLessThan(600);
    } finally {
      origin.child.kill('SIGTERM');
      await origin.exited;
      held.forEach((s) => s.destroy());
      await new Promise((r) => hang.close(r));
    }
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM: stops accepting, finishes the request in flight, exits 0', async () => {
    const origin = await spawnOrigin(regions, 'ap-south-1', regions.basePort + 20);
    const inflight = signedFetch(origin.url, regions.internalSecret, '/internal/render/south/tr:w-50/slow.jpg', { headers: { 'x-pixmesh-format': 'jpeg' } });
    await new Promise((r) => setTimeout(r, 400));
    const t0 = Date.now();
    origin.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    const refused = await fetch(`${origin.url}/healthz`).then(
      () => 'accepted',
      () => 'refused',
    );
    const res = await inflight;
    expect(res.status).toBe(200);
    expect((await imageFacts(res)).width).toBe(50);
    expect(await origin.exited).toEqual({ code: 0, signal: null });
    expect(refused).toBe('refused');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('exits 0 within the grace bound even when a request would take longer', async () => {
    const origin = await spawnOrigin(regions, 'ap-south-1', regions.basePort + 21, { PIXMESH_SHUTDOWN_GRACE_MS: '700' });
    const inflight = signedFetch(origin.url, regions.internalSecret, '/internal/render/south/tr:w-50/very-slow.jpg').then(
      (r) => r.status,
      () => 'aborted',
    );
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    origin.child.kill('SIGTERM');
    expect(await origin.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(await inflight).toBe('aborted');
    expect(origin.log()).toMatch(/shutdown grace elapsed/);
  });
});

describe("the caller's budget (x-pixmesh-budget-ms, shared/deadlines.ts)", () => {
  // A 20-step chain on a 2400×1800 original: seconds of work, far more than a 1.2 s budget leaves
  // (0.9 s: a quarter of a small budget is kept for the answer). Without the budget the same call renders (the control).
  const chain = Array.from({ length: 20 }, (_, i) => `w-${1500 + i},rt-90`).join(':');

  it.each([
    ['asked of the region directly', HOME],
    ['forwarded to home by another region (the budget is passed on)', WEST],
  ] as const)('a render its caller will not wait for is stopped at the budget, %s: 503 EBUSY, request-scoped, with Retry-After', async (_, region) => {
    const res = await render(region, `flex/tr:${chain}/heavy.jpg`, { 'x-pixmesh-budget-ms': '1200' });
    expect(res.status).toBe(503);
    expect(res.headers.get('ik-error')).toMatch(/^EBUSY/);
    // request-scoped: the edge answers it instead of failing over to a region given no more time
    expect(res.headers.get('x-pixmesh-error-scope')).toBe('request');
    expect(res.headers.get('retry-after')).toBe('1');
  }, 60_000);

  it('the same render without a budget runs to the end (the control: the chain is renderable)', async () => {
    const res = await render(HOME, `flex/tr:${chain}/heavy.jpg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
  }, 60_000);
});
