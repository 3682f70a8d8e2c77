/**
 * Three region processes (home eu-central-1, us-east-1, ap-southeast-2) + s3rver + a local HTTP
 * origin server, all on loopback. Calls go straight to the regions, signed like the edge signs them.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects } from '../../scripts/cluster.js';
import { mediaBucketFor } from '../../origin/src/config.js';
import { listEntries } from '../../origin/src/cache/result-cache.js';
import type { RegionId } from '../../shared/regions.js';
import {
  writesSettled,
  flatPng,
  imageFacts,
  metricValue,
  serveBytes,
  signedFetch,
  startOriginServer,
  startRegions,
  stopRegions,
  testJpeg,
  type OriginServer,
  type Regions,
} from './helpers.js';

const HOME: RegionId = 'eu-central-1';
const EAST: RegionId = 'us-east-1';
const SYD: RegionId = 'ap-southeast-2';
let regions: Regions & { basePort: number };
let web: OriginServer;
let internalHost: OriginServer; // 127.0.0.2: stands for "something inside the network"
let photo: Buffer;

const accounts = (webUrl: string) => (s3Port: number) => ({
  accounts: [
    {
      id: 'acme',
      homeRegion: HOME,
      privateKey: 'private_acme',
      endpoints: [
        {
          prefix: '',
          origins: [
            { type: 'media' },
            { type: 's3', bucket: 'acme-origin', endpoint: `http://127.0.0.1:${s3Port}`, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
            { type: 'web', baseUrl: `${webUrl}/img`, allowPrivateNetwork: true },
          ],
        },
        {
          prefix: 'proxy',
          origins: [{ type: 'webproxy', allowHosts: ['127.0.0.1', 'localhost', '[::1]', '169.254.169.254', '0.0.0.0', '2130706433', '[::ffff:7f00:1]', '127.0.0.2'] }],
        },
        { prefix: 'closed', origins: [{ type: 'web', baseUrl: `${webUrl}/img` }] },
        { prefix: 'open', origins: [{ type: 'webproxy', allowHosts: ['127.0.0.1'], allowPrivateNetwork: true, requireSignedUrls: false }] },
      ],
    },
    {
      id: 'vault',
      homeRegion: HOME,
      privateKey: 'private_vault',
      residency: 'strict',
      endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: `${webUrl}/img`, allowPrivateNetwork: true }] }],
    },
  ],
});

const render = (region: RegionId, path: string, headers: Record<string, string> = {}) =>
  signedFetch(regions.regionUrls[region], regions.internalSecret, `/internal/render/${path}`, { headers: { 'x-pixmesh-format': 'jpeg', ...headers } });
const metrics = async (region: RegionId) => (await fetch(`${regions.regionUrls[region]}/metrics`)).text();
/** The region's result-cache entries of one account, read with the cache module's own reader. */
const entriesFor = async (region: RegionId, account: string) => (await listEntries(regions.cacheDir(region))).filter((e) => e.meta.account === account);

beforeAll(async () => {
  web = await startOriginServer('127.0.0.1');
  internalHost = await startOriginServer('127.0.0.2');
  photo = await testJpeg(640, 480);
  for (const name of ['photo.jpg', 'fwd.jpg', 'strict.jpg', 'etag.jpg', 'purge-a.jpg', 'dir/purge-b.jpg', 'dir/purge-c.jpg'])
    web.route(`/img/${name}`, serveBytes(photo, 'image/jpeg'));
  web.route('/img/slow.jpg', serveBytes(photo, 'image/jpeg', { delayMs: 400 }));
  web.route('/img/broken.jpg', (_req, res) => void (res.writeHead(500), res.end('origin down')));
  web.route('/img/race.jpg', serveBytes(photo, 'image/jpeg', { delayMs: 400 }));
  web.route('/img/slow-variants.jpg', serveBytes(photo, 'image/jpeg', { delayMs: 400 }));
  web.route('/img/private.jpg', serveBytes(photo, 'image/jpeg', { headers: { 'is-private-file': 'true' } }));
  web.route('/img/too-big.jpg', serveBytes(Buffer.alloc(3_000_000, 7), 'image/jpeg'));
  web.route('/img/bomb.png', serveBytes(await flatPng(6000, 6000), 'image/png'));
  web.route('/img/not-an-image.jpg', serveBytes(Buffer.from('<html>hello</html>'), 'image/jpeg'));
  web.route('/img/to-localhost', (_req, res) => void (res.writeHead(302, { location: `http://localhost:${web.port}/img/photo.jpg` }), res.end()));
  internalHost.route('/secret', serveBytes(photo, 'image/jpeg'));

  regions = await startRegions('auto', accounts(web.url), [HOME, EAST, SYD], {
    buckets: ['acme-origin'],
    originEnv: { PIXMESH_MAX_INPUT_BYTES: '2000000', PIXMESH_MAX_INPUT_PIXELS: '20000000' },
  });
  const fallback = await testJpeg(100, 100, 300);
  await putObjects(regions.s3Url, mediaBucketFor(HOME), [
    { key: 'acme/defaults/fallback.jpg', body: fallback, contentType: 'image/jpeg' },
    { key: 'acme/defaults/smile-\u{1F600}.jpg', body: fallback, contentType: 'image/jpeg' },
    { key: 'acme/defaults/smile-%F0%9F%98%80.jpg', body: fallback, contentType: 'image/jpeg' },
  ]);
  await putObjects(regions.s3Url, 'acme-origin', [
    { key: 's3/one.jpg', body: await testJpeg(800, 600, 30), contentType: 'image/jpeg' },
    { key: 's3/two.jpg', body: await testJpeg(800, 600, 60), contentType: 'image/jpeg' },
    { key: 's3/secret.jpg', body: await testJpeg(400, 300, 90), contentType: 'image/jpeg', metadata: { isprivatefile: 'true' } },
  ]);
});

afterAll(async () => {
  await stopRegions(regions);
  await web?.close();
  await internalHost?.close();
});

describe('home resolution and forwarding', () => {
  it('a non-home region forwards a miss to the home region, then serves it from its own cache', async () => {
    const first = await render(EAST, 'acme/tr:w-200/fwd.jpg', { 'x-pixmesh-request-id': 'req-fwd-1' });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-pixmesh-region')).toBe(EAST);
    expect(first.headers.get('x-pixmesh-processed-by')).toBe(HOME);
    expect(first.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    expect(first.headers.get('server-timing')).toMatch(/forward;dur=[\d.]+;desc="eu-central-1"/);
    expect(await imageFacts(first)).toMatchObject({ format: 'jpeg', width: 200, height: 150 });
    expect(web.count('/img/fwd.jpg')).toBe(1);

    const again = await render(EAST, 'acme/tr:w-200/fwd.jpg');
    expect(again.status).toBe(200);
    expect(again.headers.get('x-pixmesh-region-cache')).toBe('HIT');
    expect(again.headers.get('server-timing')).not.toMatch(/forward/);
    expect(web.count('/img/fwd.jpg')).toBe(1);
    // Both the home region and the forwarding region hold the variant (on disk once their writes behind the responses landed).
    await Promise.all([writesSettled(regions.regionUrls[HOME]), writesSettled(regions.regionUrls[EAST])]);
    expect((await entriesFor(HOME, 'acme')).length).toBeGreaterThan(0);
    expect((await entriesFor(EAST, 'acme')).length).toBeGreaterThan(0);
    // The edge's request id reaches the home region's JSON log.
    const homeLog = fs.readFileSync(`${regions.dataDir}/logs/origin-${HOME}.log`, 'utf8');
    expect(homeLog).toMatch(/"requestId":"req-fwd-1"/);
  });

  it('the home region renders itself, from S3 when the web origin is not needed', async () => {
    const res = await render(HOME, 'acme/tr:w-100/s3/one.jpg', { 'x-pixmesh-format': 'webp' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-processed-by')).toBe(HOME);
    expect(await imageFacts(res)).toMatchObject({ format: 'webp', width: 100, height: 75 });
  });

  it('strict residency: a non-home region relays but neither stores nor transforms', async () => {
    const before = (await entriesFor(EAST, 'vault')).length;
    const transformsBefore = metricValue(await metrics(EAST), 'pixmesh_origin_stage_duration_seconds_count', { stage: 'transform' });
    const res = await render(EAST, 'vault/tr:w-120/strict.jpg');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-processed-by')).toBe(HOME);
    expect((await imageFacts(res)).width).toBe(120);
    const again = await render(EAST, 'vault/tr:w-120/strict.jpg');
    expect(again.headers.get('x-pixmesh-region-cache')).toBe('MISS'); // never cached outside home
    expect(before).toBe(0);
    await Promise.all([HOME, EAST, SYD].map((r) => writesSettled(regions.regionUrls[r])));
    expect(await entriesFor(EAST, 'vault')).toHaveLength(0);
    expect(await entriesFor(SYD, 'vault')).toHaveLength(0);
    expect((await entriesFor(HOME, 'vault')).length).toBeGreaterThan(0);
    // No transform ran in the non-home region.
    expect(metricValue(await metrics(EAST), 'pixmesh_origin_stage_duration_seconds_count', { stage: 'transform' })).toBe(transformsBefore);
  });

  it("home's own upstream failure passes through: no failover, the failing origin is asked once", async () => {
    const res = await render(EAST, 'acme/tr:w-50/broken.jpg');
    expect(res.status).toBe(502);
    expect(res.headers.get('ik-error')).toMatch(/^EUPSTREAM - .*500/);
    expect(res.headers.get('x-pixmesh-failover')).toBeNull();
    expect(res.headers.get('x-pixmesh-error-scope')).toBe('request'); // the edge must not fail over either
    expect(web.count('/img/broken.jpg')).toBe(1);
  });

  it('unknown accounts are 404 ENOENT and unsigned internal calls are 401 EAUTH', async () => {
    const unknown = await render(EAST, 'nobody/x.jpg');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('ik-error')).toMatch(/^ENOENT/);
    const unsigned = await fetch(`${regions.regionUrls[EAST]}/internal/render/acme/photo.jpg`);
    expect(unsigned.status).toBe(401);
    expect(unsigned.headers.get('ik-error')).toMatch(/^EAUTH/);
  });
});

describe('coalescing', () => {
  it('concurrent identical requests do one fetch and one transform', async () => {
    const before = metricValue(await metrics(HOME), 'pixmesh_origin_coalesced_requests_total', { kind: 'variant' });
    const responses = await Promise.all(Array.from({ length: 8 }, () => render(HOME, 'acme/tr:w-150/slow.jpg')));
    expect(responses.map((r) => r.status)).toEqual(new Array(8).fill(200));
    expect(web.count('/img/slow.jpg')).toBe(1);
    const after = metricValue(await metrics(HOME), 'pixmesh_origin_coalesced_requests_total', { kind: 'variant' });
    expect(after - before).toBe(7);
  });

  it('concurrent variants of one original fetch it once (web origin)', async () => {
    const widths = [40, 60, 80, 100, 120, 140];
    const responses = await Promise.all(widths.map((w) => render(HOME, `acme/tr:w-${w}/slow-variants.jpg`)));
    expect(await Promise.all(responses.map(async (r) => (await imageFacts(r)).width))).toEqual(widths);
    expect(web.count('/img/slow-variants.jpg')).toBe(1);
  });

  it('variants of one S3 original fetch it once, forwarded from two regions at the same time', async () => {
    const m0 = metricValue(await metrics(HOME), 'pixmesh_origin_original_fetches_total', { source: 's3', outcome: 'found' });
    const reqs = [70, 90, 110].flatMap((w) => [render(EAST, `acme/tr:w-${w}/s3/two.jpg`), render(SYD, `acme/tr:w-${w}/s3/two.jpg`)]);
    const res = await Promise.all(reqs);
    expect(res.map((r) => r.status)).toEqual(new Array(6).fill(200));
    const m1 = metricValue(await metrics(HOME), 'pixmesh_origin_original_fetches_total', { source: 's3', outcome: 'found' });
    expect(m1 - m0).toBe(1);
  });
});

describe('web proxy and SSRF', () => {
  const vectors = (port: number) => [
    `http://127.0.0.1:${port}/img/photo.jpg`,
    `http://localhost:${port}/img/photo.jpg`,
    `http://[::1]:${port}/img/photo.jpg`,
    `http://[::ffff:7f00:1]:${port}/img/photo.jpg`,
    `http://2130706433:${port}/img/photo.jpg`,
    `http://0.0.0.0:${port}/img/photo.jpg`,
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    `http://127.0.0.2:${port}/secret`,
  ];

  it('refuses every private-address vector with 403 EACCES, without reaching the server', async () => {
    const before = web.hits.length + internalHost.hits.length;
    for (const url of vectors(web.port)) {
      const res = await render(HOME, `acme/proxy/tr:w-50/${url}`, { 'x-pixmesh-signed': 'true' });
      expect({ url, status: res.status, code: (res.headers.get('ik-error') ?? '').slice(0, 6) }).toEqual({ url, status: 403, code: 'EACCES' });
    }
    expect(web.hits.length + internalHost.hits.length).toBe(before);
  });

  it('refuses hosts outside allowHosts and non-http schemes (403), and unsigned URLs (401)', async () => {
    const evil = await render(HOME, 'acme/proxy/https://evil.test/a.jpg', { 'x-pixmesh-signed': 'true' });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('ik-error')).toMatch(/^EACCES - .*evil\.test/);
    const file = await render(HOME, 'acme/proxy/file:///etc/passwd', { 'x-pixmesh-signed': 'true' });
    expect(file.status).toBe(403);
    const unsigned = await render(HOME, `acme/proxy/http://127.0.0.1:${web.port}/img/photo.jpg`);
    expect(unsigned.status).toBe(401);
    expect(unsigned.headers.get('ik-error')).toMatch(/^EAUTH/);
  });

  it('an endpoint that allows private networks and unsigned URLs proxies, and re-checks redirect hosts', async () => {
    const ok = await render(HOME, `acme/open/tr:w-64/http://127.0.0.1:${web.port}/img/photo.jpg`);
    expect(ok.status).toBe(200);
    expect((await imageFacts(ok)).width).toBe(64);
    // The URL-encoded form ImageKit's docs recommend names the same source.
    const encoded = await render(HOME, `acme/open/tr:w-65/${encodeURIComponent(`http://127.0.0.1:${web.port}/img/photo.jpg`)}`);
    expect(encoded.status).toBe(200);
    expect((await imageFacts(encoded)).width).toBe(65);
    const hop = await render(HOME, `acme/open/http://127.0.0.1:${web.port}/img/to-localhost`);
    expect(hop.status).toBe(403);
    expect(hop.headers.get('ik-error')).toMatch(/localhost/);
  });

  it('a web origin on a private address is refused unless it sets allowPrivateNetwork', async () => {
    const before = web.count('/img/photo.jpg');
    const res = await render(HOME, 'acme/closed/tr:w-50/photo.jpg');
    expect(res.status).toBe(403);
    expect(res.headers.get('ik-error')).toMatch(/^EACCES - .*loopback/);
    expect(web.count('/img/photo.jpg')).toBe(before);
  });

  it('an allowed host on an internal address is still refused (allowHosts never allows a private address)', async () => {
    // The proxy endpoint lists 127.0.0.2 in allowHosts but does not allow private networks.
    const res = await render(HOME, `acme/proxy/http://127.0.0.2:${internalHost.port}/secret`, { 'x-pixmesh-signed': 'true' });
    expect(res.status).toBe(403);
    expect(internalHost.count('/secret')).toBe(0);
  });
});

describe('limits, private files, default images, ETags', () => {
  it('refuses an original over the byte limit (413 ELIMIT) and over the pixel limit (400 ELIMIT)', async () => {
    const big = await render(HOME, 'acme/tr:w-10/too-big.jpg');
    expect(big.status).toBe(413);
    expect(big.headers.get('ik-error')).toMatch(/^ELIMIT/);
    const bomb = await render(HOME, 'acme/tr:w-10/bomb.png');
    expect(bomb.status).toBe(400);
    expect(bomb.headers.get('ik-error')).toMatch(/^ELIMIT - .*pixel/);
  });

  it('a key no store can hold (a 1000-byte segment, a key over 1024 bytes) is 404 ENOENT, not 502', async () => {
    for (const p of [`${'x'.repeat(1000)}.jpg`, `${'abcdefgh/'.repeat(120)}x.jpg`]) {
      const res = await render(HOME, `acme/tr:w-100/${p}`);
      expect(`${res.status} ${(res.headers.get('ik-error') ?? '').slice(0, 6)}`).toBe('404 ENOENT');
    }
  });

  it('answers an undecodable original with 422 EDECODE', async () => {
    const res = await render(HOME, 'acme/tr:w-10/not-an-image.jpg');
    expect(res.status).toBe(422);
    expect(res.headers.get('ik-error')).toMatch(/^EDECODE/);
  });

  it('private originals (Is-Private-File header, S3 isprivatefile) need a signed URL, also from cache', async () => {
    const unsigned = await render(HOME, 'acme/tr:w-50/private.jpg');
    expect(unsigned.status).toBe(401);
    const signed = await render(HOME, 'acme/tr:w-50/private.jpg', { 'x-pixmesh-signed': 'true' });
    expect(signed.status).toBe(200);
    expect(signed.headers.get('cache-control')).toMatch(/^private/);
    const cachedUnsigned = await render(HOME, 'acme/tr:w-50/private.jpg');
    expect(cachedUnsigned.status).toBe(401);
    const s3Unsigned = await render(EAST, 'acme/tr:w-50/s3/secret.jpg');
    expect(s3Unsigned.status).toBe(401);
    const s3Signed = await render(EAST, 'acme/tr:w-50/s3/secret.jpg', { 'x-pixmesh-signed': 'true' });
    expect(s3Signed.status).toBe(200);
    const s3CachedUnsigned = await render(EAST, 'acme/tr:w-50/s3/secret.jpg');
    expect(s3CachedUnsigned.status).toBe(401);
  });

  it('serves the di- default image when the original is missing, without caching it as the variant', async () => {
    const res = await render(EAST, 'acme/tr:w-90,di-photo.jpg/missing.jpg');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-default-image')).toBe('photo.jpg');
    expect(res.headers.get('cache-control')).toMatch(/max-age=300/);
    expect((await imageFacts(res)).width).toBe(90);
    // On a web-proxy endpoint (no media origin of its own) the default image comes from the media library.
    const viaProxy = await render(HOME, `acme/open/tr:w-30,di-defaults@@fallback.jpg/http://127.0.0.1:${web.port}/img/nope.jpg`);
    expect(viaProxy.status).toBe(200);
    expect(viaProxy.headers.get('x-pixmesh-default-image')).toBe('defaults/fallback.jpg');
    expect((await imageFacts(viaProxy)).width).toBe(30);
    // A default image whose name has an emoji: the header is escaped per code point, never a 500.
    const emoji = await render(HOME, `acme/tr:w-50,di-defaults@@smile-${encodeURIComponent('\u{1F600}')}.jpg/missing.jpg`);
    expect(`${emoji.status} ${emoji.headers.get('ik-error') ?? ''}`).toBe('200 ');
    expect(emoji.headers.get('x-pixmesh-default-image')).toMatch(/^defaults\/smile-[\x20-\x7e]+\.jpg$/);
    const missing = await render(EAST, 'acme/tr:w-90/missing.jpg');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('ik-error')).toMatch(/^ENOENT/);
  });

  it('answers If-None-Match with 304 on a miss and on a hit', async () => {
    const first = await render(SYD, 'acme/tr:w-77/etag.jpg');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/);
    const hit = await render(SYD, 'acme/tr:w-77/etag.jpg', { 'if-none-match': etag });
    expect(hit.status).toBe(304);
    expect(hit.headers.get('etag')).toBe(etag);
    const other = await render(HOME, 'acme/tr:w-77/etag.jpg', { 'if-none-match': `W/${etag}, "zzz"` });
    expect(other.status).toBe(304);
    const stale = await render(SYD, 'acme/tr:w-77/etag.jpg', { 'if-none-match': '"other"' });
    expect(stale.status).toBe(200);
  });
});

describe('purge across regions', () => {
  it('removes a path in every region, then the next request is a miss everywhere', async () => {
    for (const r of [EAST, SYD]) expect((await render(r, 'acme/tr:w-55/purge-a.jpg')).status).toBe(200);
    expect((await render(EAST, 'acme/tr:w-55/purge-a.jpg')).headers.get('x-pixmesh-region-cache')).toBe('HIT');
    const res = await signedFetch(regions.regionUrls[SYD], regions.internalSecret, '/internal/purge/all?account=acme&path=purge-a.jpg', { method: 'POST' });
    // The three regions this test did not start are reported as failed (502), not silently skipped.
    expect(res.status).toBe(502);
    const report = (await res.json()) as { ok: boolean; regions: Record<string, { ok: boolean; results: number }> };
    expect(report.ok).toBe(false);
    expect(report.regions[HOME]).toMatchObject({ ok: true, results: 1 });
    expect(report.regions[EAST]).toMatchObject({ ok: true, results: 1 });
    expect(report.regions[SYD]).toMatchObject({ ok: true, results: 1 });
    expect(Object.entries(report.regions).filter(([, r]) => !r.ok).map(([id]) => id).sort()).toEqual(['ap-south-1', 'ap-southeast-1', 'us-west-1']);
    const fetchesBefore = web.count('/img/purge-a.jpg');
    const after = await render(EAST, 'acme/tr:w-55/purge-a.jpg');
    expect(after.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    expect(web.count('/img/purge-a.jpg')).toBe(fetchesBefore + 1); // originals cache purged too
  });

  it('removes every variant under a prefix', async () => {
    for (const p of ['dir/purge-b.jpg', 'dir/purge-c.jpg']) expect((await render(HOME, `acme/tr:w-33/${p}`)).status).toBe(200);
    const res = await signedFetch(regions.regionUrls[HOME], regions.internalSecret, '/internal/purge?account=acme&path=dir/&prefix=true', { method: 'POST' });
    expect(await res.json()).toMatchObject({ region: HOME, results: 2 });
    expect((await render(HOME, 'acme/tr:w-33/dir/purge-b.jpg')).headers.get('x-pixmesh-region-cache')).toBe('MISS');
  });

  it('a purge during an in-flight render wins: the older result is served once but not stored', async () => {
    const inflight = render(HOME, 'acme/tr:w-44/race.jpg');
    await new Promise((r) => setTimeout(r, 150));
    const purge = await signedFetch(regions.regionUrls[HOME], regions.internalSecret, '/internal/purge?account=acme&path=race.jpg', { method: 'POST' });
    expect(purge.status).toBe(200);
    expect((await inflight).status).toBe(200);
    const next = await render(HOME, 'acme/tr:w-44/race.jpg');
    expect(next.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    expect(web.count('/img/race.jpg')).toBe(2);
  });

  it('refuses unsigned or malformed purges', async () => {
    expect((await fetch(`${regions.regionUrls[HOME]}/internal/purge?account=acme&path=x`, { method: 'POST' })).status).toBe(401);
    expect((await signedFetch(regions.regionUrls[HOME], regions.internalSecret, '/internal/purge?account=acme', { method: 'POST' })).status).toBe(400);
    expect((await signedFetch(regions.regionUrls[HOME], regions.internalSecret, '/internal/purge?account=zzz&path=a', { method: 'POST' })).status).toBe(404);
  });
});

describe('observability', () => {
  it('/readyz reports accounts, storage and S3; /healthz is alive', async () => {
    const res = await fetch(`${regions.regionUrls[EAST]}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, checks: { accounts: { ok: true }, resultCache: { ok: true }, s3: { ok: true }, draining: { ok: true } } });
    expect((await fetch(`${regions.regionUrls[EAST]}/healthz`)).status).toBe(200);
  });

  it('/metrics exposes requests, stages, bytes, queue and coalescing in Prometheus format', async () => {
    const text = await metrics(HOME);
    for (const name of [
      'pixmesh_origin_requests_total',
      'pixmesh_origin_stage_duration_seconds_bucket',
      'pixmesh_origin_bytes_in_total',
      'pixmesh_origin_bytes_out_total',
      'pixmesh_origin_transform_queue_depth',
      'pixmesh_origin_coalesced_requests_total',
      'pixmesh_origin_result_cache_hit_ratio',
    ])
      expect(text).toContain(name);
    expect(metricValue(text, 'pixmesh_origin_requests_total', { route: 'render', status: '200', cache: 'miss' })).toBeGreaterThan(0);
    expect(metricValue(text, 'pixmesh_origin_stage_duration_seconds_count', { stage: 'fetch' })).toBeGreaterThan(0);
    expect(metricValue(text, 'pixmesh_origin_stage_duration_seconds_count', { stage: 'transform' })).toBeGreaterThan(0);
    expect(metricValue(text, 'pixmesh_origin_bytes_in_total', { source: 'web' })).toBeGreaterThan(0);
  });

  it('every render answer carries the rolling hit ratio for the edge', async () => {
    const res = await render(EAST, 'acme/tr:w-200/fwd.jpg');
    const ratio = Number(res.headers.get('x-pixmesh-region-hit-ratio'));
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThanOrEqual(1);
    const err = await render(EAST, 'acme/tr:w-90/missing.jpg');
    expect(err.headers.get('x-pixmesh-region-hit-ratio')).toMatch(/^[01]\.\d{3}$/);
  });
});

describe('account file reload', () => {
  it('picks up an edited account file, and changed account defaults make new variants', async () => {
    const before = await render(HOME, 'acme/tr:w-300/photo.jpg');
    expect(before.status).toBe(200);
    const bytesBefore = (await imageFacts(before)).bytes;
    expect((await render(HOME, 'acme/tr:w-300/photo.jpg')).headers.get('x-pixmesh-region-cache')).toBe('HIT');
    const file = JSON.parse(fs.readFileSync(regions.accountsFile, 'utf8')) as { accounts: Record<string, unknown>[] };
    file.accounts[0]!.defaults = { quality: 20 };
    file.accounts.push({ id: 'late', homeRegion: HOME, privateKey: 'private_late', endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: `${web.url}/img`, allowPrivateNetwork: true }] }] });
    fs.writeFileSync(regions.accountsFile, JSON.stringify(file));
    let late: Response | undefined;
    for (let i = 0; i < 40; i++) {
      late = await render(HOME, 'late/tr:w-20/photo.jpg');
      if (late.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(late!.status).toBe(200);
    const after = await render(HOME, 'acme/tr:w-300/photo.jpg');
    expect(after.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    expect((await imageFacts(after)).bytes).toBeLessThan(bytesBefore);
  });
});

