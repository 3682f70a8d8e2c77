/**
 * URLs built by the official ImageKit SDKs, fetched through the whole cluster (edge in workerd →
 * region → home → s3rver → sharp), rendering the size and format ImageKit documents.
 */
import { buildSrc, type Transformation } from '@imagekit/javascript';
import ImageKit from '@imagekit/nodejs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects } from '../../scripts/cluster.js';
import { makeSamples } from '../../scripts/samples.js';
import { demoAccounts, startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePortBase } from '../origin/helpers.js';

const BASE = await freePortBase(96); // S3 = BASE, regions BASE+1…+6, edge BASE+87
let cluster: TestCluster;
let endpoint: string;

beforeAll(async () => {
  cluster = await startTestCluster(BASE, demoAccounts(BASE), { buckets: ['demo-origin'] });
  await putObjects(cluster.s3Url, 'demo-origin', await makeSamples());
  endpoint = `${cluster.edgeUrl}/demo`;
});
afterAll(() => stopTestCluster(cluster));

async function fetchImage(url: string, accept = 'image/jpeg') {
  const res = await fetch(url, { headers: { accept, 'x-pixmesh-colo': 'FRA' } });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, meta: res.ok ? await sharp(body).metadata() : undefined, body };
}

// sample.jpg is 1600×1067; portrait.jpg 800×1200; logo.png 512×512 with alpha.
const cases: { name: string; src: string; transformation: Transformation[]; accept?: string; expect: { width: number; height: number; format: string } }[] = [
  { name: 'width only', src: '/sample.jpg', transformation: [{ width: 400 }], expect: { width: 400, height: 267, format: 'jpeg' } },
  { name: 'height only', src: '/portrait.jpg', transformation: [{ height: 300 }], expect: { width: 200, height: 300, format: 'jpeg' } },
  { name: 'width + height (maintain_ratio crops to fill)', src: '/sample.jpg', transformation: [{ width: 300, height: 300 }], expect: { width: 300, height: 300, format: 'jpeg' } },
  { name: 'force', src: '/sample.jpg', transformation: [{ width: 300, height: 100, crop: 'force' }], expect: { width: 300, height: 100, format: 'jpeg' } },
  { name: 'at_max fits inside', src: '/sample.jpg', transformation: [{ width: 300, height: 300, crop: 'at_max' }], expect: { width: 300, height: 200, format: 'jpeg' } },
  { name: 'pad_resize', src: '/sample.jpg', transformation: [{ width: 300, height: 300, cropMode: 'pad_resize', background: 'FF0000' }], expect: { width: 300, height: 300, format: 'jpeg' } },
  { name: 'aspect ratio with width', src: '/sample.jpg', transformation: [{ width: 400, aspectRatio: '4-3' }], expect: { width: 400, height: 300, format: 'jpeg' } },
  { name: 'fraction width', src: '/sample.jpg', transformation: [{ width: 0.25 }], expect: { width: 400, height: 267, format: 'jpeg' } },
  { name: 'explicit webp', src: '/sample.jpg', transformation: [{ width: 200, format: 'webp' }], expect: { width: 200, height: 133, format: 'webp' } },
  { name: 'explicit png keeps size', src: '/logo.png', transformation: [{ width: 128, format: 'png' }], expect: { width: 128, height: 128, format: 'png' } },
  { name: 'auto format → webp when accepted', src: '/sample.jpg', transformation: [{ width: 200 }], accept: 'image/webp,image/*', expect: { width: 200, height: 133, format: 'webp' } },
  { name: 'chained steps: resize then rotate 90', src: '/sample.jpg', transformation: [{ width: 300 }, { rotation: 90 }], expect: { width: 200, height: 300, format: 'jpeg' } },
  { name: 'grayscale + blur + quality', src: '/sample.jpg', transformation: [{ width: 200, grayscale: true, blur: 10, quality: 50 }], expect: { width: 200, height: 133, format: 'jpeg' } },
  { name: 'named transform', src: '/sample.jpg', transformation: [{ named: 'thumb' }], expect: { width: 200, height: 133, format: 'jpeg' } },
  { name: 'arithmetic: half the input width', src: '/sample.jpg', transformation: [{ width: 'iw_div_2' }], expect: { width: 800, height: 534, format: 'jpeg' } },
];

describe.each(['path', 'query'] as const)('@imagekit/javascript buildSrc, %s position', (transformationPosition) => {
  it.each(cases)('$name', async ({ src, transformation, accept, expect: want }) => {
    const url = buildSrc({ urlEndpoint: endpoint, src, transformation, transformationPosition });
    const { res, meta } = await fetchImage(url, accept);
    expect(res.status, `${url} → ${res.headers.get('ik-error')}`).toBe(200);
    expect(meta?.format).toBe(want.format);
    expect(meta?.width).toBe(want.width);
    expect(Math.abs((meta?.height ?? 0) - want.height)).toBeLessThanOrEqual(1);
  });
});

describe('@imagekit/nodejs helper.buildSrc, signed', () => {
  const client = () => new ImageKit({ privateKey: 'private_test_demo' });

  it.each(['path', 'query'] as const)('a signed URL (%s position) renders', async (transformationPosition) => {
    const url = client().helper.buildSrc({ urlEndpoint: endpoint, src: '/portrait.jpg', transformation: [{ width: 160 }], transformationPosition, signed: true });
    expect(url).toMatch(/ik-s=/);
    const { res, meta } = await fetchImage(url);
    expect(res.status).toBe(200);
    expect(meta).toMatchObject({ width: 160, format: 'jpeg' });
  });

  it('a signed URL with an expiry renders until it expires, then is refused 401 EAUTH (even though the edge cached it); a tampered one is refused', async () => {
    const url = client().helper.buildSrc({ urlEndpoint: endpoint, src: '/portrait.jpg', transformation: [{ width: 170 }], transformationPosition: 'path', expiresIn: 10 });
    const expiresAt = Number(new URL(url).searchParams.get('ik-t'));
    expect(expiresAt).toBeGreaterThan(Date.now() / 1000);
    const before = await fetchImage(url);
    expect(before.res.status).toBe(200);
    expect(before.meta?.width).toBe(170);
    // Expired once the clock's whole second passes ik-t (shared/signing.ts); wait just past it.
    await new Promise((r) => setTimeout(r, Math.max(0, (expiresAt + 1) * 1000 - Date.now()) + 500));
    const after = await fetch(url, { headers: { accept: 'image/jpeg', 'x-pixmesh-colo': 'FRA' } });
    expect(after.status).toBe(401);
    expect(after.headers.get('ik-error')).toMatch(/^EAUTH/);
    const tampered = url.replace('w-170', 'w-171');
    const res = await fetch(tampered, { headers: { 'x-pixmesh-colo': 'FRA' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('ik-error')).toMatch(/^EAUTH/);
  });
});

describe('overlays built by the SDKs render through the cluster', () => {
  const stats = async (body: Buffer, region: { left: number; top: number; width: number; height: number }) => {
    const { data, info } = await sharp(body).extract(region).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let red = 0;
    for (let i = 0; i < data.length; i += info.channels) if (data[i]! > 200 && data[i + 1]! < 70 && data[i + 2]! < 70) red++;
    return { red, pixels: info.width * info.height, data };
  };
  const meanAbsDiff = (a: Buffer, b: Buffer) => {
    let d = 0;
    for (let i = 0; i < a.length; i++) d += Math.abs(a[i]! - b[i]!);
    return d / a.length;
  };
  const base720 = async () => (await fetchImage(buildSrc({ urlEndpoint: endpoint, src: '/sample.jpg', transformation: [{ width: 720 }], transformationPosition: 'path' }))).body;

  describe.each(['path', 'query'] as const)('@imagekit/javascript buildSrc, %s position', (transformationPosition) => {
    it('a red text overlay (lfo bottom_right) makes red pixels in the bottom-right corner only', async () => {
      const url = buildSrc({
        urlEndpoint: endpoint,
        src: '/sample.jpg',
        transformation: [{ width: 720, overlay: { type: 'text', text: 'pixmesh', position: { focus: 'bottom_right' }, transformation: [{ fontSize: 48, fontColor: 'FF0000' }] } }],
        transformationPosition,
        queryParameters: { v: transformationPosition }, // its own variant: this request renders (no cache hit)
      });
      const { res, meta, body } = await fetchImage(url);
      expect(res.status, `${url} → ${res.headers.get('ik-error')}`).toBe(200);
      expect(meta).toMatchObject({ width: 720, height: 480, format: 'jpeg' });
      expect((await stats(body, { left: 520, top: 400, width: 200, height: 80 })).red).toBeGreaterThan(300);
      expect((await stats(body, { left: 0, top: 0, width: 360, height: 240 })).red).toBeLessThan(20);
      expect(res.headers.get('server-timing')).toMatch(/layers;dur=[\d.]+;desc="1"/);
    });

    it('an image overlay with its own transformation changes only the pixels where it is placed', async () => {
      const url = buildSrc({
        urlEndpoint: endpoint,
        src: '/sample.jpg',
        transformation: [{ width: 720 }, { overlay: { type: 'image', input: '/logo.png', position: { x: 10, y: 10 }, transformation: [{ width: 100 }, { rotation: 90 }] } }],
        transformationPosition,
      });
      const { res, meta, body } = await fetchImage(url);
      expect(res.status, `${url} → ${res.headers.get('ik-error')}`).toBe(200);
      expect(meta).toMatchObject({ width: 720, height: 480 });
      const plain = await base720();
      const where = { left: 10, top: 10, width: 100, height: 100 };
      const elsewhere = { left: 400, top: 250, width: 200, height: 200 };
      expect(meanAbsDiff((await stats(body, where)).data, (await stats(plain, where)).data)).toBeGreaterThan(10);
      expect(meanAbsDiff((await stats(body, elsewhere)).data, (await stats(plain, elsewhere)).data)).toBeLessThan(3);
    });

    it('a solid-colour overlay is a red block of the given size at x/y', async () => {
      const url = buildSrc({
        urlEndpoint: endpoint,
        src: '/sample.jpg',
        transformation: [{ width: 720, overlay: { type: 'solidColor', color: 'FF0000', position: { x: 20, y: 30 }, transformation: [{ width: 100, height: 50 }] } }],
        transformationPosition,
      });
      const { res, body } = await fetchImage(url, 'image/png');
      expect(res.status, `${url} → ${res.headers.get('ik-error')}`).toBe(200);
      const inside = await stats(body, { left: 25, top: 35, width: 90, height: 40 });
      expect(inside.red).toBe(inside.pixels);
      expect((await stats(body, { left: 130, top: 30, width: 100, height: 50 })).red).toBeLessThan(50);
    });

    it('base64 text (UTF-8) renders', async () => {
      const url = buildSrc({
        urlEndpoint: endpoint,
        src: '/sample.jpg',
        transformation: [{ width: 720, overlay: { type: 'text', text: 'Grüße, 5 €', encoding: 'base64', position: { x: 10, y: 10 }, transformation: [{ fontSize: 40, fontColor: 'red', background: 'FFFFFF' }] } }],
        transformationPosition,
      });
      expect(url).toMatch(/ie-/);
      const { res, body } = await fetchImage(url);
      expect(res.status, `${url} → ${res.headers.get('ik-error')}`).toBe(200);
      expect((await stats(body, { left: 10, top: 10, width: 200, height: 50 })).red).toBeGreaterThan(200);
    });
  });

  it('@imagekit/nodejs signs an overlay URL, and it renders', async () => {
    const client = new ImageKit({ privateKey: 'private_test_demo' });
    const url = client.helper.buildSrc({
      urlEndpoint: endpoint,
      src: '/sample.jpg',
      transformation: [{ width: 400, overlay: { type: 'text', text: 'signed', transformation: [{ fontSize: 30, fontColor: 'FF0000' }] } }],
      transformationPosition: 'path',
      signed: true,
    });
    expect(url).toMatch(/ik-s=/);
    const { res, meta, body } = await fetchImage(url);
    expect(res.status, `${url} → ${res.headers.get('ik-error')}`).toBe(200);
    expect(meta?.width).toBe(400);
    expect((await stats(body, { left: 100, top: 100, width: 200, height: 67 })).red).toBeGreaterThan(100);
  });

  it('a missing layer image is a 404 ENOENT naming it', async () => {
    const url = buildSrc({ urlEndpoint: endpoint, src: '/sample.jpg', transformation: [{ overlay: { type: 'image', input: 'nope/missing.png' } }], transformationPosition: 'path' });
    const { res } = await fetchImage(url);
    expect(res.status).toBe(404);
    expect(res.headers.get('ik-error')).toMatch(/^ENOENT - layer image "nope\/missing\.png" not found/);
  });
});
