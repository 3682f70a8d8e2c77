/**
 * The walking skeleton on real processes: the edge in workerd (wrangler dev) → the region it
 * picks → the home region → s3rver → sharp, and back through both caches.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects } from '../../scripts/cluster.js';
import { makeSamples } from '../../scripts/samples.js';
import { demoAccounts, startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePortBase, signedFetch } from '../origin/helpers.js';

const BASE = await freePortBase(96); // S3 = BASE, regions BASE+1…+6, edge BASE+87
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster(BASE, demoAccounts(BASE), { buckets: ['demo-origin'] });
  await putObjects(cluster.s3Url, 'demo-origin', await makeSamples());
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

  it('answers a missing original with 404 ENOENT', async () => {
    const res = await get('/demo/tr:w-100/nope.jpg', { 'x-pixmesh-colo': 'FRA' });
    expect(res.status).toBe(404);
    expect(res.headers.get('ik-error')).toMatch(/^ENOENT/);
  });
});
