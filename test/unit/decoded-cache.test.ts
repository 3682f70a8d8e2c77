/**
 * The decoded-original cache (origin/src/pipeline/decoded-cache.ts): which renders may start
 * from cached raw pixels (pure rules, table-tested), and that a render that does gives the same
 * image as one that decodes the JPEG — same format, size and pixels — while ineligible renders
 * never use it. Were the shrink factor predicted wrongly (another libvips/sharp rule), the
 * residual resize would differ and the pixel comparison fails.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { parseTransformation } from '../../shared/transform/index.js';
import { newDefaultConfig, readSourceInfo, renderImage, type PipelineConfig } from '../../origin/src/pipeline/index.js';
import { DecodedCache, decodedCacheFor, decodedEligible, jpegShrinkOnLoad, removeDeadScratch, type DecodedFacts } from '../../origin/src/pipeline/decoded-cache.js';

/** A photo-like JPEG (gradient, shapes, grain) of w×h. */
async function photo(w: number, h: number, quality = 90): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#5b8cc9"/><stop offset="1" stop-color="#2d4a2b"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/><ellipse cx="${w / 3}" cy="${h / 3}" rx="${w / 5}" ry="${h / 6}" fill="#c94" fill-opacity="0.7"/><ellipse cx="${(w * 2) / 3}" cy="${(h * 2) / 3}" rx="${w / 6}" ry="${h / 4}" fill="#4a9" fill-opacity="0.7"/></svg>`;
  const base = await sharp(Buffer.from(svg)).blur(2).removeAlpha().raw().toBuffer();
  const noise = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 6 } } }).raw().toBuffer();
  for (let i = 0; i < base.length; i++) base[i] = Math.max(0, Math.min(255, base[i]! + noise[i]! - 128));
  return sharp(base, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality }).toBuffer();
}

const defaults = { ...DEFAULT_ACCOUNT_DEFAULTS, quality: 80 };
/** A config whose decoded cache is its own (one cache per bound in a process). */
const withCache = (mb: number): PipelineConfig => ({ ...newDefaultConfig(), decodedCacheMb: mb });
const OFF = withCache(0);

async function render(input: Buffer, tr: string, config: PipelineConfig, format: 'jpeg' | 'webp' | 'avif' | 'png' = 'jpeg') {
  return renderImage(input, parseTransformation(tr), { format, defaults, config, source: await readSourceInfo(input) });
}

/** Largest per-sample difference between two encoded images' pixels, and their size/format. */
async function compare(a: Buffer, b: Buffer) {
  const [pa, pb] = await Promise.all([sharp(a).raw().toBuffer({ resolveWithObject: true }), sharp(b).raw().toBuffer({ resolveWithObject: true })]);
  let maxDiff = 0;
  for (let i = 0; i < Math.min(pa.data.length, pb.data.length); i++) maxDiff = Math.max(maxDiff, Math.abs(pa.data[i]! - pb.data[i]!));
  const [ma, mb] = await Promise.all([sharp(a).metadata(), sharp(b).metadata()]);
  return { maxDiff, sameShape: pa.info.width === pb.info.width && pa.info.height === pb.info.height && pa.info.channels === pb.info.channels, formats: [ma.format, mb.format] };
}

describe('jpegShrinkOnLoad: the factor sharp decodes a JPEG at for a resize', () => {
  it.each<[number, number, number, number, 'fill' | 'cover' | 'contain', number]>([
    [2725, 2225, 720, 588, 'fill', 2], // 3.78: 2
    [2725, 2225, 600, 490, 'fill', 2],
    [2725, 2225, 320, 261, 'fill', 4], // 8.5: integer part 8 = the factor, one step lower
    [2725, 2225, 200, 163, 'fill', 8],
    [2725, 2225, 1120, 914, 'fill', 1], // 2.43: integer part 2, one step lower
    [2725, 2225, 500, 100, 'fill', 4], // the common part: min(5.45, 22.25)
    [2725, 2225, 500, 100, 'cover', 4], // cover: the smaller shrink on both axes
    [2725, 2225, 500, 100, 'contain', 8], // contain: the larger
    [2725, 2225, 3000, 2400, 'fill', 1], // enlarging
    [100, 80, 1, 1, 'fill', 8],
  ])('%i×%i → %i×%i (%s): 1/%i', (w, h, tw, th, fit, s) => {
    expect(jpegShrinkOnLoad(w, h, tw, th, fit)).toBe(s);
  });
});

describe('decodedEligible: only originals the cache serves exactly', () => {
  const base: DecodedFacts = {
    source: { format: 'jpeg', pages: 1, space: 'srgb', hasProfile: false, hasAlpha: false, orientation: 1 },
    page: 0,
    frames: 1,
    autoOrient: true,
    keepsMetadata: false,
  };
  it.each<[string, Partial<DecodedFacts> & { src?: Partial<DecodedFacts['source']> }, boolean]>([
    ['an sRGB JPEG', {}, true],
    ['a PNG', { src: { format: 'png' } }, false],
    ['a WebP (its shrink-on-load scale is continuous)', { src: { format: 'webp' } }, false],
    ['a JPEG with an ICC profile', { src: { hasProfile: true } }, false],
    ['a CMYK JPEG', { src: { space: 'cmyk' } }, false],
    ['a greyscale JPEG', { src: { space: 'b-w' } }, false],
    ['EXIF orientation 6, auto-rotated', { src: { orientation: 6 } }, false],
    ['EXIF orientation 6, not auto-rotated', { src: { orientation: 6 }, autoOrient: false }, true],
    ['md-true / cp-true', { keepsMetadata: true }, false],
    ['a later page', { page: 1 }, false],
    ['an animation', { frames: 3 }, false],
  ])('%s: %s', (_what, d, expected) => {
    const { src, ...rest } = d;
    expect(decodedEligible({ ...base, ...rest, source: { ...base.source, ...src } })).toBe(expected);
  });
});

describe('renders from the decoded cache', () => {
  let input: Buffer;
  beforeAll(async () => {
    input = await photo(1600, 1200);
  });

  it.each<[string, 'jpeg' | 'webp' | 'avif' | 'png']>([
    ['w-600', 'jpeg'], // 1/2
    ['w-300', 'jpeg'], // 1/4
    ['w-150', 'webp'], // 1/8
    ['w-180', 'avif'],
    ['w-400,h-400', 'jpeg'],
    ['w-400,h-300,c-force', 'png'],
    ['w-300,h-300,cm-pad_resize,bg-FF0000', 'jpeg'],
    ['w-300,h-200,fo-auto', 'jpeg'],
    ['w-300,rt-90,bl-3', 'jpeg'],
    ['w-400:w-100', 'jpeg'],
    ['w-900', 'jpeg'], // 1/1: the full-size decode, 5.8 MB, within a quarter of the 32-MB bound
  ])('%s as %s: the same image as a render that decodes the JPEG', async (tr, format) => {
    const config = withCache(32);
    const plain = await render(input, tr, OFF, format);
    const seen = await render(input, tr, config, format); // the first render at this scale: the normal path
    const first = await render(input, tr, config, format); // the second: decoded into the cache
    const again = await render(input, tr, config, format); // from it
    expect(plain.decoded).toBeUndefined();
    if (seen.decoded === undefined) expect(seen.data.equals(plain.data)).toBe(true); // (an earlier case may have admitted this scale)
    expect(first.decoded).toBeDefined();
    expect(again.decoded).toBe(first.decoded);
    for (const r of [first, again]) {
      expect({ format: r.format, width: r.width, height: r.height }).toEqual({ format: plain.format, width: plain.width, height: plain.height });
      expect(Math.abs(r.data.length - plain.data.length) / plain.data.length).toBeLessThanOrEqual(0.01);
      const c = await compare(plain.data, r.data);
      expect(c.sameShape).toBe(true);
      expect(c.formats[0]).toBe(c.formats[1]);
      expect(c.maxDiff).toBe(0);
    }
  });

  it.each<[string, string]>([
    ['t-10,w-300', 'trim reads the original pixels before the resize'],
    ['e-grayscale,w-300', 'greyscale is queued before the resize'],
    ['w-300,md-true', 'the metadata of the original is kept'],
    ['cm-extract,w-300,h-300,x-100,y-100', 'an extract in original coordinates'],
    ['w-300,h-300,cm-pad_resize,bg-dominant', 'the dominant colour is read from the original first'],
  ])('%s: not from the cache (%s), and the same output as without it', async (tr) => {
    await render(input, tr, withCache(32));
    const on = await render(input, tr, withCache(32));
    const off = await render(input, tr, OFF);
    expect(on.decoded).toBeUndefined();
    expect(on.data.equals(off.data)).toBe(true);
  });

  it('a PNG original never uses it', async () => {
    const png = await sharp(input).png().toBuffer();
    await render(png, 'w-300', withCache(32));
    const r = await render(png, 'w-300', withCache(32));
    expect(r.decoded).toBeUndefined();
  });

  it('a decode larger than a quarter of the bound is not cached (the render decodes the JPEG as usual)', async () => {
    await render(input, 'w-900', withCache(8));
    const r = await render(input, 'w-900', withCache(8)); // 1600×1200×3 = 5.8 MB > 8 MB / 4
    expect(r.decoded).toBeUndefined();
    expect(decodedCacheFor(8)!.stats().entries).toBe(0);
  });

  it('an original is admitted on its second render at a scale; concurrent renders then decode it once, other widths at that scale reuse it', async () => {
    const fresh = await photo(1000, 800);
    const config = withCache(31);
    expect((await render(fresh, 'w-290', config)).decoded).toBeUndefined(); // first seen at 1/2: the normal path
    expect(decodedCacheFor(31)!.stats()).toMatchObject({ firstSeen: 1, misses: 0, entries: 0 });
    const rs = await Promise.all([render(fresh, 'w-300', config), render(fresh, 'w-310', config)]); // both 1/2
    const later = await render(fresh, 'w-320', config);
    expect([...rs, later].map((r) => r.decoded)).toEqual([2, 2, 2]);
    const s = decodedCacheFor(31)!.stats();
    expect(s.misses).toBe(1);
    expect(s.coalesced + s.hits).toBe(2);
    expect(s.entries).toBe(1);
    expect(s.bytes).toBe(500 * 400 * 3);
  });

  it('the bound holds: least recently used decodes leave first', async () => {
    const config = withCache(2); // 2 MiB; an 800×600 original at 1/2 is 360 kB: five fit
    const originals = await Promise.all([90, 89, 88, 87, 86, 85, 84].map((q) => photo(800, 600, q)));
    for (const o of originals) {
      expect((await render(o, 'w-190', config)).decoded).toBeUndefined(); // first seen
      expect((await render(o, 'w-200', config)).decoded).toBe(2);
    }
    const cache = decodedCacheFor(2)!;
    expect(cache.stats().bytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(cache.stats().entries).toBe(5);
    // the newest is still there, the oldest was evicted and is decoded again
    await render(originals[6]!, 'w-210', config);
    expect(cache.stats().misses).toBe(7);
    await render(originals[0]!, 'w-210', config);
    expect(cache.stats().misses).toBe(8);
  });

  it('a truncated JPEG is 422 EDECODE with the cache as without it, and is not decoded there again', async () => {
    const broken = input.subarray(0, Math.floor(input.length / 2));
    await expect(render(broken, 'w-300', withCache(32))).rejects.toMatchObject({ status: 422, code: 'EDECODE' }); // first seen
    await expect(render(broken, 'w-300', withCache(32))).rejects.toMatchObject({ status: 422, code: 'EDECODE' });
    await expect(render(broken, 'w-300', OFF)).rejects.toMatchObject({ status: 422, code: 'EDECODE' });
    const misses = decodedCacheFor(32)!.stats().misses;
    await expect(render(broken, 'w-310', withCache(32))).rejects.toMatchObject({ status: 422, code: 'EDECODE' });
    expect(decodedCacheFor(32)!.stats().misses).toBe(misses);
  });
});

describe('scratch directories', () => {
  it('those of processes that are gone are removed; a running process\'s, other files and other names stay', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'decoded-scratch-test-'));
    try {
      for (const d of ['pixmesh-decoded-111-aaaa', 'pixmesh-decoded-222-bbbb', 'pixmesh-decoded-x-cccc', 'other-333-dddd']) fs.mkdirSync(path.join(parent, d));
      fs.writeFileSync(path.join(parent, 'pixmesh-decoded-444-file'), '');
      const removed = removeDeadScratch(parent, (pid) => pid === 222);
      expect(removed).toBe(1);
      expect(fs.readdirSync(parent).sort()).toEqual(['other-333-dddd', 'pixmesh-decoded-222-bbbb', 'pixmesh-decoded-444-file', 'pixmesh-decoded-x-cccc']);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  it('a cache decodes in a directory named after its process and leaves no file there; close removes it', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'decoded-scratch-test-'));
    try {
      const cache = new DecodedCache(8 * 1024 * 1024, parent);
      const jpeg = await photo(400, 300);
      expect(cache.get(jpeg, 2, 20, 1e8)).toBeUndefined(); // first seen
      const px = await cache.get(jpeg, 2, 20, 1e8)!;
      expect({ width: px.width, height: px.height, channels: px.channels }).toEqual({ width: 200, height: 150, channels: 3 });
      const dirs = fs.readdirSync(parent);
      expect(dirs).toHaveLength(1);
      expect(dirs[0]).toMatch(new RegExp(`^pixmesh-decoded-${process.pid}-`));
      expect(fs.readdirSync(path.join(parent, dirs[0]!))).toEqual([]);
      cache.close();
      expect(fs.readdirSync(parent)).toEqual([]);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});
