/**
 * The walking skeleton on real processes: the edge in workerd (wrangler dev) → the region it
 * picks → the home region → s3rver → sharp, and back through both caches.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects } from '../../scripts/cluster.js';
import { makeSamples } from '../../scripts/samples.js';
import { demoAccounts, startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePortBase, signedFetch } from '../origin/helpers.js';

const BASE = await freePortBase(96); // S3 = BASE, regions BASE+1…+6, edge BASE+87
let cluster: TestCluster;
let samples: Awaited<ReturnType<typeof makeSamples>>;

/** A second account on the same originals, whose defaults the account-change test edits (demo stays as it is). */
const QUAL = 'qual';
function accountFile(qualDefaults: Record<string, unknown> = {}) {
  const file = demoAccounts(BASE);
  const demo = file.accounts[0]!;
  return {
    accounts: [
      demo,
      { ...demo, id: QUAL, privateKey: 'private_test_qual', publicKey: 'public_test_qual', customDomains: [], defaults: { quality: 80, ...qualDefaults } },
    ],
  };
}

beforeAll(async () => {
  cluster = await startTestCluster(BASE, accountFile(), { buckets: ['demo-origin'] });
  samples = await makeSamples();
  await putObjects(cluster.s3Url, 'demo-origin', samples);
});
afterAll(() => stopTestCluster(cluster));

const get = (path: string, headers: Record<string, string> = {}) => fetch(cluster.edgeUrl + path, { headers });

describe('one image through the real path', () => {
  it('answers a 300-px-wide JPEG, then serves the same request from the edge cache', async () => {
    const first = await get('/demo/tr:w-300/sample.jpg', { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/jpeg');
    expect(first.headers.get('x-pixmesh-cache')).toBe('MISS');
    expect(first.headers.get('x-pixmesh-region')).toBe('eu-central-1');
    expect(first.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    expect(first.headers.get('server-timing')).toMatch(/transform;dur=/);
    const meta = await sharp(Buffer.from(await first.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 300, height: 200 });

    const again = await get('/demo/tr:w-300/sample.jpg', { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' });
    expect(again.status).toBe(200);
    expect(again.headers.get('x-pixmesh-cache')).toBe('HIT');
    expect((await sharp(Buffer.from(await again.arrayBuffer())).metadata()).width).toBe(300);
  });

  it('sends a Sydney user to ap-southeast-2, which forwards the miss to the home region eu-central-1', async () => {
    const res = await get('/demo/tr:w-240/portrait.jpg', { 'x-pixmesh-colo': 'SYD', accept: 'image/jpeg' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-region')).toBe('ap-southeast-2');
    expect(res.headers.get('x-pixmesh-processed-by')).toBe('eu-central-1');
    const timing = res.headers.get('server-timing') ?? '';
    expect(timing).toMatch(/forward;dur=[\d.]+;desc="eu-central-1"/);
    expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width).toBe(240);

    // The same variant in the query form is the same cache key (shared/cache-key.ts): an edge HIT.
    const viaQuery = await get('/demo/portrait.jpg?tr=w-240', { 'x-pixmesh-colo': 'SYD', accept: 'image/jpeg' });
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.headers.get('x-pixmesh-cache')).toBe('HIT');
  });

  it('reads the width from the query form too', async () => {
    const res = await get('/demo/sample.jpg?tr=w-120', { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' });
    expect(res.status).toBe(200);
    expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width).toBe(120);
  });

  it('region cache: the same variant asked of its region again, past the edge cache, is a region HIT', async () => {
    // Both tiers share one cache key, so a second request through the edge is an edge HIT and never
    // reaches the region: ask the region that rendered it directly, as the edge does on a miss.
    const a = await get('/demo/tr:w-90/logo.png', { 'x-pixmesh-colo': 'FRA', accept: 'image/png' });
    expect(a.status).toBe(200);
    expect(a.headers.get('x-pixmesh-region')).toBe('eu-central-1');
    expect(a.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    const b = await signedFetch(cluster.regionUrls['eu-central-1'], cluster.internalSecret, '/internal/render/demo/tr:w-90/logo.png', {
      headers: { 'x-pixmesh-format': 'source' }, // what the edge sends for Accept: image/png (negotiateFormat)
      region: 'eu-central-1',
    });
    expect(b.status).toBe(200);
    expect(b.headers.get('x-pixmesh-region-cache')).toBe('HIT');
    const meta = await sharp(Buffer.from(await b.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 90, hasAlpha: true });
    // ?v=1 is part of the identity (a cache buster), so it is a new variant everywhere.
    const busted = await get('/demo/tr:w-90/logo.png?v=1', { 'x-pixmesh-colo': 'FRA', accept: 'image/png' });
    expect(busted.headers.get('x-pixmesh-cache')).toBe('MISS');
    expect(busted.headers.get('x-pixmesh-region-cache')).toBe('MISS');
  });

  it('answers a bad transformation with 400 EBADTR naming the parameter', async () => {
    const res = await get('/demo/tr:w-abc/sample.jpg');
    expect(res.status).toBe(400);
    expect(res.headers.get('ik-error')).toMatch(/^EBADTR - .*\bw\b/);
  });

  it('tr:orig-true returns the stored original byte for byte; a resizing plan on the same path returns other, smaller bytes', async () => {
    const original = samples.find((o) => o.key === 'sample.jpg')!.body;
    const orig = await get('/demo/tr:orig-true/sample.jpg', { 'x-pixmesh-colo': 'FRA', accept: 'image/avif,image/webp,image/*' });
    expect(orig.status).toBe(200);
    const origBytes = Buffer.from(await orig.arrayBuffer());
    expect(origBytes.equals(original)).toBe(true);
    expect(orig.headers.get('content-type')).toBe('image/jpeg');
    // Served as is again from the edge cache: still the same bytes.
    const again = await get('/demo/tr:orig-true/sample.jpg', { 'x-pixmesh-colo': 'FRA', accept: 'image/avif,image/webp,image/*' });
    expect(again.headers.get('x-pixmesh-cache')).toBe('HIT');
    expect(Buffer.from(await again.arrayBuffer()).equals(original)).toBe(true);

    const resized = await get('/demo/tr:w-200/sample.jpg', { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' });
    expect(resized.status).toBe(200);
    const resizedBytes = Buffer.from(await resized.arrayBuffer());
    expect(resizedBytes.equals(original)).toBe(false);
    expect(resizedBytes.length).toBeLessThan(original.length);
    expect((await sharp(resizedBytes).metadata()).width).toBe(200);
    expect((await sharp(original).metadata()).width).toBe(1600);
  });

  it('answers a missing original with 404 ENOENT', async () => {
    const res = await get('/demo/tr:w-100/nope.jpg', { 'x-pixmesh-colo': 'FRA' });
    expect(res.status).toBe(404);
    expect(res.headers.get('ik-error')).toMatch(/^ENOENT/);
  });
});

describe('an account default changed in the account file reaches the edge', () => {
  // The account-reload time: each region polls the account file every second (origin/src/accounts.ts
  // watch) and the edge keeps the directory it read from the regions for 5 s (edge/src/accounts.ts).
  // The bound below is that plus slack for a loaded 2-core machine; it catches "never", not speed.
  const RELOAD_BOUND_MS = 20_000;
  const variant = '/qual/tr:w-300/sample.jpg';
  const fetchVariant = async () => {
    const res = await get(variant, { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' });
    expect(res.status).toBe(200);
    return { cache: res.headers.get('x-pixmesh-cache'), bytes: Buffer.from(await res.arrayBuffer()) };
  };

  it('quality 80 → 20: within the reload time the EDGE serves new, smaller bytes (a MISS, then cached), not its cached quality-80 copy', async () => {
    fs.writeFileSync(cluster.accountsFile, JSON.stringify(accountFile({ quality: 80 })));
    // Under quality 80: rendered once, then an edge HIT with the same bytes.
    let before = await fetchVariant();
    for (let i = 0; before.cache !== 'HIT' && i < 5; i++) before = await fetchVariant();
    expect(before.cache).toBe('HIT');
    expect((await sharp(before.bytes).metadata()).width).toBe(300);

    fs.writeFileSync(cluster.accountsFile, JSON.stringify(accountFile({ quality: 20 })));
    const t0 = Date.now();
    let after = await fetchVariant();
    while (after.bytes.equals(before.bytes) && Date.now() - t0 < RELOAD_BOUND_MS) {
      await new Promise((r) => setTimeout(r, 250));
      after = await fetchVariant();
    }
    expect(after.bytes.equals(before.bytes)).toBe(false);
    expect(after.cache).toBe('MISS');
    const meta = await sharp(after.bytes).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 300, height: 200 });
    expect(after.bytes.length).toBeLessThan(before.bytes.length * 0.8);
    // The new answer is what the edge caches now.
    const cached = await fetchVariant();
    expect(cached.cache).toBe('HIT');
    expect(cached.bytes.equals(after.bytes)).toBe(true);
  }, 60_000);
});
