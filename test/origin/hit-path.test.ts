/**
 * The region-cache hit answered before the framework (origin/src/hit-path.ts): a real origin
 * process + s3rver; calls signed like the edge signs them. The hit path marks its answers with
 * `cache;desc="memory"` in Server-Timing; the app's answers time their lookup (`cache;dur=…`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInternalRequest } from '../../shared/internal-auth.js';
import type { RegionId } from '../../shared/regions.js';
import { metricValue, serveBytes, signedFetch, startOriginServer, startRegions, stopRegions, testJpeg, type OriginServer, type Regions } from './helpers.js';

const HOME: RegionId = 'eu-central-1';
let regions: Regions & { basePort: number };
let web: OriginServer;

const byHitPath = (res: Response) => (res.headers.get('server-timing') ?? '').includes('cache;desc="memory"');

beforeAll(async () => {
  web = await startOriginServer();
  const photo = await testJpeg(400, 300);
  for (const name of ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg']) web.route(`/img/${name}`, serveBytes(photo, 'image/jpeg'));
  regions = await startRegions(
    'auto',
    () => ({ accounts: [{ id: 'acme', homeRegion: HOME, privateKey: 'private_acme', endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: `${web.url}/img`, allowPrivateNetwork: true }] }] }] }),
    [HOME],
  );
}, 120_000);

afterAll(async () => {
  await stopRegions(regions);
  await web?.close();
});

const render = (path: string, headers: Record<string, string> = {}) => signedFetch(regions.regionUrls[HOME], regions.internalSecret, `/internal/render/acme/${path}`, { headers: { 'x-pixmesh-format': 'jpeg', 'x-pixmesh-signed': 'false', ...headers } });

describe('hit path (origin/src/hit-path.ts)', () => {
  it('a memory-tier hit the app answered once is answered by the hit path next: same bytes, same headers', async () => {
    const miss = await render('tr:w-120/a.jpg');
    expect(miss.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    const missBytes = Buffer.from(await miss.arrayBuffer());
    const viaApp = await render('tr:w-120/a.jpg');
    expect(viaApp.headers.get('x-pixmesh-region-cache')).toBe('HIT');
    expect(byHitPath(viaApp)).toBe(false);
    const appBytes = Buffer.from(await viaApp.arrayBuffer());
    const fast = await render('tr:w-120/a.jpg');
    expect(fast.status).toBe(200);
    expect(byHitPath(fast)).toBe(true);
    expect(Buffer.from(await fast.arrayBuffer()).equals(appBytes)).toBe(true);
    expect(appBytes.equals(missBytes)).toBe(true);
    for (const h of ['content-type', 'content-length', 'etag', 'cache-control', 'last-modified', 'x-pixmesh-region', 'x-pixmesh-region-cache', 'x-pixmesh-processed-by', 'x-pixmesh-replica', 'content-security-policy', 'x-content-type-options'])
      expect(fast.headers.get(h), h).toBe(viaApp.headers.get(h));
    // Every header, not only those above (the hit path writes a prepared list): the same names and
    // values, but for the per-answer ones (date, Server-Timing, the hit ratio, which moves with each answer).
    const perAnswer = ['date', 'server-timing', 'x-pixmesh-region-hit-ratio'];
    const names = (r: Response) => [...r.headers.keys()].filter((n) => !perAnswer.includes(n)).sort();
    expect(names(fast)).toEqual(names(viaApp));
    for (const h of names(viaApp)) expect(fast.headers.get(h), h).toBe(viaApp.headers.get(h));
    expect(fast.headers.get('x-pixmesh-region-hit-ratio')).toMatch(/^[01]\.\d{3}$/);
    expect(fast.headers.get('server-timing')).toMatch(/proc;dur=\d/);
  });

  it('counts its answers like the app: render requests with cache="hit"', async () => {
    const metrics = async () => metricValue(await (await fetch(`${regions.regionUrls[HOME]}/metrics`)).text(), 'pixmesh_origin_requests_total', { route: 'render', cache: 'hit' });
    const before = await metrics();
    const res = await render('tr:w-120/a.jpg');
    expect(byHitPath(res)).toBe(true);
    await res.arrayBuffer();
    expect(before).toBeGreaterThan(0);
    expect(await metrics()).toBe(before + 1);
  });

  it('a replayed call is refused (401 EAUTH), a call with a bad signature too: the app answers what the hit path will not', async () => {
    await (await render('tr:w-130/b.jpg')).arrayBuffer();
    await (await render('tr:w-130/b.jpg')).arrayBuffer();
    const pathAndQuery = '/internal/render/acme/tr:w-130/b.jpg';
    const headers = new Headers({ 'x-pixmesh-format': 'jpeg', 'x-pixmesh-signed': 'false' });
    await signInternalRequest(regions.internalSecret, headers, { method: 'GET', pathAndQuery, region: HOME });
    const first = await fetch(regions.regionUrls[HOME] + pathAndQuery, { headers });
    expect(first.status).toBe(200);
    expect(byHitPath(first)).toBe(true);
    await first.arrayBuffer();
    const replay = await fetch(regions.regionUrls[HOME] + pathAndQuery, { headers });
    expect(replay.status).toBe(401);
    expect(replay.headers.get('ik-error') ?? (await replay.text())).toMatch(/replay/i);
    const tampered = new Headers(headers);
    tampered.set('x-pixmesh-auth', (headers.get('x-pixmesh-auth') ?? '').replace(/s=[0-9a-f]/, (m) => (m.endsWith('0') ? 's=1' : 's=0')));
    const bad = await fetch(regions.regionUrls[HOME] + pathAndQuery, { headers: tampered });
    expect(bad.status).toBe(401);
  });

  it('after a purge of the path the prepared answer is not used: the next call is a MISS', async () => {
    await (await render('tr:w-140/c.jpg')).arrayBuffer();
    await (await render('tr:w-140/c.jpg')).arrayBuffer();
    const fast = await render('tr:w-140/c.jpg');
    expect(byHitPath(fast)).toBe(true);
    await fast.arrayBuffer();
    const purge = await signedFetch(regions.regionUrls[HOME], regions.internalSecret, '/internal/purge?account=acme&path=c.jpg', { method: 'POST' });
    expect(purge.status).toBe(200);
    const after = await render('tr:w-140/c.jpg');
    expect(after.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    expect(byHitPath(after)).toBe(false);
  });

  it('If-None-Match goes to the app, which answers 304', async () => {
    await (await render('tr:w-150/d.jpg')).arrayBuffer();
    const hit = await render('tr:w-150/d.jpg');
    const etag = hit.headers.get('etag')!;
    await hit.arrayBuffer();
    const conditional = await render('tr:w-150/d.jpg', { 'if-none-match': etag });
    expect(conditional.status).toBe(304);
    expect(byHitPath(conditional)).toBe(false);
  });

  it('another variant of the same call (another format header) is not answered from the prepared one', async () => {
    await (await render('tr:w-120/a.jpg')).arrayBuffer();
    const webp = await render('tr:w-120/a.jpg', { 'x-pixmesh-format': 'webp' });
    expect(webp.headers.get('content-type')).toBe('image/webp');
    expect(webp.headers.get('x-pixmesh-region-cache')).toBe('MISS');
  });
});
