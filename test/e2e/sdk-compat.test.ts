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

const BASE = 9900;
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

  it('a signed URL with an expiry renders until it expires; a tampered one is refused', async () => {
    const url = client().helper.buildSrc({ urlEndpoint: endpoint, src: '/portrait.jpg', transformation: [{ width: 170 }], transformationPosition: 'path', expiresIn: 300 });
    expect((await fetchImage(url)).res.status).toBe(200);
    const tampered = url.replace('w-170', 'w-171');
    const res = await fetch(tampered, { headers: { 'x-pixmesh-colo': 'FRA' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('ik-error')).toMatch(/^EAUTH/);
  });
});
