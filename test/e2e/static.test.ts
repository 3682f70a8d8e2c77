/**
 * Files other than raster images through the real cluster (edge in workerd → region → home →
 * s3rver / media library): served byte for byte with the right type, compressed (br / gzip,
 * decoded back to the original), ranged (206 / 416, from the edge cache too), SVG sanitised,
 * downloads (ik-attachment), bad input, and the SDK uploading a CSS file.
 */
import http from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import ImageKit, { toFile } from '@imagekit/nodejs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects } from '../../scripts/cluster.js';
import { makeSamples, SAMPLE_CSS, SAMPLE_JS } from '../../scripts/samples.js';
import { signInternalRequest } from '../../shared/internal-auth.js';
import type { RegionId } from '../../shared/regions.js';
import { demoAccounts, startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { activeContent, HOSTILE_SVGS } from '../helpers/svg-corpus.js';
import { freePortBase } from '../origin/helpers.js';

const MAX_INPUT = 2 * 1024 * 1024;
let cluster: TestCluster;

/** Deterministic bytes that do not compress. */
function noise(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const box = (type: string, payload: Buffer) => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + payload.length);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, payload]);
};
/** An MP4 container: ftyp, a movie header box and 300 KB of media data. */
const MP4 = Buffer.concat([box('ftyp', Buffer.concat([Buffer.from('isom'), Buffer.alloc(4), Buffer.from('isomiso2avc1mp41')])), box('moov', box('mvhd', Buffer.alloc(100))), box('mdat', noise(300_000, 7))]);
const WOFF2 = Buffer.concat([Buffer.from('wOF2'), Buffer.from('00010000', 'hex'), noise(6000, 3)]);
const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj\n'), noise(5000, 5), Buffer.from('\n%%EOF\n')]);
const JSON_BODY = Buffer.from(JSON.stringify({ items: Array.from({ length: 100 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] })) }));
const HTML = Buffer.from('<!doctype html><html><body><script>alert(document.domain)</script></body></html>');
const BLOB = noise(4000, 11);
let PNG: Buffer;
let SVG_LOGO: Buffer;

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET whose body is not decoded (Node's fetch would undo Content-Encoding). */
function raw(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(cluster.edgeUrl + path, { method, headers: { 'x-pixmesh-colo': 'FRA', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function renderAt(region: RegionId, path: string, encoding: string): Promise<Response> {
  const pathAndQuery = `/internal/render/demo/${path}`;
  const headers = new Headers({ 'x-pixmesh-format': 'source', 'x-pixmesh-encoding': encoding });
  await signInternalRequest(cluster.internalSecret, headers, { method: 'GET', pathAndQuery, region });
  return fetch(cluster.regionUrls[region] + pathAndQuery, { headers });
}

beforeAll(async () => {
  const base = await freePortBase(90);
  cluster = await startTestCluster(base, demoAccounts(base), { buckets: ['demo-origin'], originEnv: { PIXMESH_MAX_INPUT_BYTES: String(MAX_INPUT) } });
  PNG = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } }).png().toBuffer();
  const samples = await makeSamples();
  SVG_LOGO = samples.find((s) => s.key === 'logo.svg')!.body;
  await putObjects(cluster.s3Url, 'demo-origin', [
    ...samples,
    { key: 'fonts/inter.woff2', contentType: 'font/woff2', body: WOFF2 },
    { key: 'docs/manual.pdf', contentType: 'application/octet-stream', body: PDF },
    { key: 'video/clip.mp4', contentType: 'video/mp4', body: MP4 },
    { key: 'data/items.json', contentType: 'application/json', body: JSON_BODY },
    { key: 'pages/evil.html', contentType: 'text/html', body: HTML },
    { key: 'blobs/unknown', contentType: 'application/octet-stream', body: BLOB },
    { key: 'blobs/picture', contentType: 'application/octet-stream', body: PNG },
    { key: 'video/too-big.mp4', contentType: 'video/mp4', body: Buffer.concat([MP4, noise(MAX_INPUT, 9)]) },
    ...HOSTILE_SVGS.map((c, i) => ({ key: `hostile/${i}.svg`, contentType: 'image/svg+xml', body: Buffer.from(c.svg) })),
  ]);
}, 180_000);
afterAll(() => stopTestCluster(cluster));

describe('files served as they are', () => {
  // The Worker platform (wrangler dev / workerd, as Cloudflare) hands the Worker "Accept-Encoding: br, gzip"
  // whatever the client sent and decodes for clients that accept less: an identity client of a
  // compressible file gets the bytes the edge cached in br, decoded, with the weak ETag of that variant.
  it.each([
    ['site/app.js', 'text/javascript', () => Buffer.from(SAMPLE_JS), /^W\/"[0-9a-f]{40}"$/],
    ['site/style.css', 'text/css', () => Buffer.from(SAMPLE_CSS), /^W\/"[0-9a-f]{40}"$/],
    ['fonts/inter.woff2', 'font/woff2', () => WOFF2, /^"[0-9a-f]{40}"$/],
    ['docs/manual.pdf', 'application/pdf', () => PDF, /^"[0-9a-f]{40}"$/],
    ['video/clip.mp4', 'video/mp4', () => MP4, /^"[0-9a-f]{40}"$/],
    ['data/items.json', 'application/json', () => JSON_BODY, /^W\/"[0-9a-f]{40}"$/],
  ])('%s: byte for byte as %s with ETag, Last-Modified and a year of Cache-Control; the second request is an edge HIT', async (path, type, body, etag) => {
    const first = await raw(`/demo/${path}`, { 'accept-encoding': 'identity' });
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe(type);
    expect(first.headers['content-encoding']).toBeUndefined();
    expect(first.body.equals(body())).toBe(true);
    expect(first.headers.etag).toMatch(etag);
    expect(Date.parse(String(first.headers['last-modified']))).toBeGreaterThan(Date.now() - 3_600_000);
    expect(first.headers['cache-control']).toMatch(/max-age=31536000/);
    expect(first.headers['x-pixmesh-cache']).toBe('MISS');
    expect(first.headers['accept-ranges']).toBe('bytes');
    const again = await raw(`/demo/${path}`, { 'accept-encoding': 'identity' });
    expect(again.headers['x-pixmesh-cache']).toBe('HIT');
    expect(again.body.equals(body())).toBe(true);
    expect(again.headers.etag).toBe(first.headers.etag);
  });

  it('does not negotiate an image format for a file: a JS request accepting WebP gets the JS, without Vary: Accept', async () => {
    const res = await raw('/demo/site/app.js', { accept: 'image/avif,image/webp,*/*', 'accept-encoding': 'identity' });
    expect(res.headers['content-type']).toBe('text/javascript');
    expect(res.body.toString()).toBe(SAMPLE_JS);
    expect(String(res.headers.vary ?? '')).not.toMatch(/\bAccept\b(?!-)/);
  });

  it('serves orig-true and f-auto on a file as it is', async () => {
    for (const tr of ['orig-true', 'f-auto']) {
      const res = await raw(`/demo/tr:${tr}/site/style.css`, { 'accept-encoding': 'identity' });
      expect(res.status, tr).toBe(200);
      expect(res.body.toString(), tr).toBe(SAMPLE_CSS);
    }
  });

  it.each([
    ['tr:w-100/site/app.js', /text\/javascript, not an image/],
    ['site/style.css?tr=q-50', /text\/css, not an image/],
    ['tr:w-200,h-100/video/clip.mp4', /video\/mp4, not an image/],
  ])('answers a transformation on a file (%s) with 400 EBADTR saying why', async (path, why) => {
    const res = await raw(`/demo/${path}`);
    expect(res.status).toBe(400);
    expect(String(res.headers['ik-error'])).toMatch(/^EBADTR - /);
    expect(String(res.headers['ik-error'])).toMatch(why);
  });
});

describe('compression', () => {
  it.each([
    ['site/app.js', () => Buffer.from(SAMPLE_JS)],
    ['site/style.css', () => Buffer.from(SAMPLE_CSS)],
    ['data/items.json', () => JSON_BODY],
  ])('%s: br when accepted, gzip otherwise; both decode to the original, Vary: Accept-Encoding, cached at the edge', async (path, original) => {
    const br = await raw(`/demo/${path}`, { 'accept-encoding': 'br;q=1, gzip;q=0.5' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(String(br.headers.vary)).toMatch(/Accept-Encoding/);
    expect(br.body.length).toBeLessThan(original().length / 2);
    expect(brotliDecompressSync(br.body).equals(original())).toBe(true);

    const gz = await raw(`/demo/${path}`, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(original())).toBe(true);

    const brAgain = await raw(`/demo/${path}`, { 'accept-encoding': 'br' });
    expect(brAgain.headers['x-pixmesh-cache']).toBe('HIT');
    expect(brAgain.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(brAgain.body).equals(original())).toBe(true);

    const plain = await raw(`/demo/${path}`, { 'accept-encoding': 'identity' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(original())).toBe(true);
  });

  it('compresses an SVG served as SVG', async () => {
    const res = await raw('/demo/logo.svg', { 'accept-encoding': 'br' });
    expect(res.headers['content-type']).toBe('image/svg+xml');
    expect(res.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(res.body).toString()).toContain('<circle');
  });

  it.each([
    ['fonts/inter.woff2'],
    ['video/clip.mp4'],
    ['docs/manual.pdf'],
    ['tr:w-100/sample.jpg'],
    ['logo.png'],
  ])('never compresses %s (images and compressed formats), and sends no Vary: Accept-Encoding for it', async (path) => {
    const res = await raw(`/demo/${path}`, { 'accept-encoding': 'gzip, br', accept: 'image/jpeg' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(String(res.headers.vary ?? '')).not.toMatch(/Accept-Encoding/);
  });

  it('a region compresses once: home sends identity, the region stores br, and its second br answer is a region-cache HIT', async () => {
    const first = await renderAt('ap-southeast-2', 'site/style.css', 'br');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-pixmesh-content-encoding')).toBe('br');
    expect(first.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    expect(first.headers.get('server-timing')).toMatch(/forward;.*compress;dur=[\d.]+;desc="br"/);
    expect(brotliDecompressSync(Buffer.from(await first.arrayBuffer())).toString()).toBe(SAMPLE_CSS);
    const second = await renderAt('ap-southeast-2', 'site/style.css', 'br');
    expect(second.headers.get('x-pixmesh-region-cache')).toBe('HIT');
    expect(second.headers.get('server-timing')).not.toMatch(/compress/);
    expect(brotliDecompressSync(Buffer.from(await second.arrayBuffer())).toString()).toBe(SAMPLE_CSS);
  });
});

describe('Range requests', () => {
  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=1000-', 1000, MP4.length - 1],
    ['bytes=-500', MP4.length - 500, MP4.length - 1],
    ['bytes=200000-250000', 200000, 250000],
  ])('an MP4 seek %s → 206 with the exact slice and Content-Range', async (range, start, end) => {
    const res = await raw('/demo/video/clip.mp4', { range, 'accept-encoding': 'gzip, br' });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${MP4.length}`);
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['content-type']).toBe('video/mp4');
    expect(res.body.equals(MP4.subarray(start, end + 1))).toBe(true);
  });

  it('serves ranges from the edge cache too (a HIT), and on a compressible file from its identity body', async () => {
    const first = await raw('/demo/site/app.js', { range: 'bytes=0-9' });
    expect(first.status).toBe(206);
    expect(first.body.toString()).toBe(SAMPLE_JS.slice(0, 10));
    // (wrangler dev's own layer would gzip/br a 206 of a text type for a client that accepts it, as it
    // does every compressible answer: the client here asks for identity, as a media player does.)
    const res = await raw('/demo/site/app.js', { range: 'bytes=10-59', 'accept-encoding': 'identity' });
    expect(res.status).toBe(206);
    expect(res.headers['x-pixmesh-cache']).toBe('HIT');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.toString()).toBe(SAMPLE_JS.slice(10, 60));
  });

  it('answers 416 with Content-Range bytes */size for a range past the end', async () => {
    const res = await raw('/demo/video/clip.mp4', { range: `bytes=${MP4.length}-` });
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe(`bytes */${MP4.length}`);
    expect(String(res.headers['ik-error'])).toMatch(/^EBADREQ - the range/);
  });

  it('ignores a Range whose If-Range names another version (full 200)', async () => {
    const res = await raw('/demo/video/clip.mp4', { range: 'bytes=0-9', 'if-range': '"not-the-etag"' });
    expect(res.status).toBe(200);
    expect(res.body.equals(MP4)).toBe(true);
  });
});

describe('SVG', () => {
  it('is served as sanitised SVG with a sandboxing CSP when no format (or f-auto) is asked, even if WebP is accepted', async () => {
    for (const path of ['logo.svg', 'tr:f-auto/logo.svg']) {
      const res = await raw(`/demo/${path}`, { accept: 'image/webp,*/*', 'accept-encoding': 'identity' });
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type']).toBe('image/svg+xml');
      expect(res.headers['content-security-policy']).toMatch(/sandbox/);
      expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
      expect(res.body.toString()).toContain('<circle');
    }
  });

  it.each([
    ['f-png', 'png'],
    ['f-webp,w-100', 'webp'],
    ['f-jpg,w-80', 'jpeg'],
  ])('is rasterised only with an explicit raster format (%s → %s)', async (tr, format) => {
    const res = await raw(`/demo/tr:${tr}/logo.svg`);
    expect(res.status).toBe(200);
    expect((await sharp(res.body).metadata()).format).toBe(format);
  });

  it('answers a transformation without a raster format on an SVG with 400 EBADTR saying to add one', async () => {
    const res = await raw('/demo/tr:w-100/logo.svg');
    expect(res.status).toBe(400);
    expect(String(res.headers['ik-error'])).toMatch(/^EBADTR - .*f-png/);
  });

  it.each(HOSTILE_SVGS.map((c, i) => [c.name, i, c] as const))('hostile SVG (%s): served without active content, benign parts kept', async (_name, i, c) => {
    const res = await raw(`/demo/hostile/${i}.svg`, { 'accept-encoding': 'identity' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/svg+xml');
    expect(res.headers['content-security-policy']).toMatch(/sandbox/);
    const out = res.body.toString();
    expect(activeContent(out)).toEqual([]);
    expect(out).toContain(c.keep);
  });

  it('the sample SVG logo survives sanitising unchanged in what it draws', async () => {
    const res = await raw('/demo/logo.svg', { 'accept-encoding': 'identity' });
    const [a, b] = await Promise.all([res.body, SVG_LOGO].map((s) => sharp(s).png().raw().toBuffer()));
    expect(a!.equals(b!)).toBe(true);
  });
});

describe('downloads and bad input', () => {
  it('?ik-attachment=true gives Content-Disposition: attachment with the file name, on files and images; the bytes stay the same', async () => {
    const css = await raw('/demo/site/style.css?ik-attachment=true', { 'accept-encoding': 'identity' });
    expect(css.headers['content-disposition']).toBe('attachment; filename="style.css"');
    expect(css.body.toString()).toBe(SAMPLE_CSS);
    const named = await raw(`/demo/site/style.css?ik-attachment=true&ik-attachment-filename=${encodeURIComponent('thème.css')}`, { 'accept-encoding': 'identity' });
    expect(named.headers['content-disposition']).toBe(`attachment; filename="th_me.css"; filename*=UTF-8''th%C3%A8me.css`);
    const img = await raw('/demo/tr:w-100/sample.jpg?ik-attachment=true', { accept: 'image/jpeg' });
    expect(img.status).toBe(200);
    expect(img.headers['content-disposition']).toBe('attachment; filename="sample.jpg"');
    expect((await sharp(img.body).metadata()).width).toBe(100);
    const inline = await raw('/demo/site/style.css', { 'accept-encoding': 'identity' });
    expect(inline.headers['content-disposition']).toBeUndefined();
  });

  it('answers a bad ik-attachment value with 400 EBADREQ', async () => {
    const res = await raw('/demo/site/style.css?ik-attachment=maybe');
    expect(res.status).toBe(400);
    expect(String(res.headers['ik-error'])).toMatch(/^EBADREQ - ik-attachment/);
  });

  it('serves HTML only as an attachment (never inline), sandboxed and nosniff', async () => {
    const res = await raw('/demo/pages/evil.html', { 'accept-encoding': 'identity' });
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment; filename="evil.html"');
    expect(res.headers['content-security-policy']).toMatch(/sandbox/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('serves a file with no extension and an unknown type as application/octet-stream with nosniff', async () => {
    const res = await raw('/demo/blobs/unknown', { accept: 'image/webp', 'accept-encoding': 'gzip, br' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.equals(BLOB)).toBe(true);
  });

  it('sniffs an image stored with no extension and a generic type, and transforms it', async () => {
    const res = await raw('/demo/tr:w-32/blobs/picture', { accept: 'image/png' });
    expect(res.status).toBe(200);
    expect(await sharp(res.body).metadata()).toMatchObject({ format: 'png', width: 32 });
  });

  it('answers a file over the input limit with 413 ELIMIT', async () => {
    const res = await raw('/demo/video/too-big.mp4');
    expect(res.status).toBe(413);
    expect(String(res.headers['ik-error'])).toMatch(/^ELIMIT - /);
  });
});

describe('the media library takes any file', () => {
  it('an SDK upload of a CSS file is a non-image, listed by fileType=non-image, and served back byte for byte', async () => {
    const ik = new ImageKit({ privateKey: 'private_test_demo', baseURL: cluster.edgeUrl });
    const css = `/* uploaded */\n${SAMPLE_CSS}`;
    const up = await ik.files.upload({ file: await toFile(Buffer.from(css), 'uploaded.css'), fileName: 'uploaded.css', folder: '/assets', useUniqueFileName: false });
    expect(up.fileType).toBe('non-image');
    expect(up.filePath).toBe('/assets/uploaded.css');
    const listed = await ik.assets.list({ fileType: 'non-image', path: '/assets' });
    expect(listed.map((f) => ('name' in f ? f.name : ''))).toContain('uploaded.css');
    const images = await ik.assets.list({ fileType: 'image', path: '/assets' });
    expect(images.map((f) => ('name' in f ? f.name : ''))).not.toContain('uploaded.css');

    const plain = await raw('/demo/assets/uploaded.css', { 'accept-encoding': 'identity' });
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('text/css');
    expect(plain.body.toString()).toBe(css);
    const br = await raw('/demo/assets/uploaded.css', { 'accept-encoding': 'br' });
    expect(brotliDecompressSync(br.body).toString()).toBe(css);
  });
});
