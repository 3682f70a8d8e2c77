/**
 * The origin's pipeline does the same work as the raw sharp loop the transform benchmark compares
 * it with (bench/transform/cases.ts): same decode, resize and encoder settings, so the output is
 * the same size within 1 % and the same dimensions. Were the pipeline to encode differently
 * (another quality, effort, chroma subsampling, an extra pass), the benchmark's ratios would
 * compare different work, and this fails.
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { parseTransformation } from '../../shared/transform/index.js';
import { renderImage } from '../../origin/src/pipeline/index.js';
import { rawTransform, type OutFormat } from '../../bench/transform/cases.js';

/** A photo-like JPEG: gradient, shapes and grain (entropy like a photo, not a flat card). */
async function photo(): Promise<Buffer> {
  const w = 1200;
  const h = 900;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#5b8cc9"/><stop offset="1" stop-color="#2d4a2b"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/><ellipse cx="400" cy="300" rx="250" ry="160" fill="#c94" fill-opacity="0.7"/><ellipse cx="850" cy="600" rx="200" ry="260" fill="#4a9" fill-opacity="0.7"/></svg>`;
  const base = await sharp(Buffer.from(svg)).blur(2).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const noise = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 4 } } }).raw().toBuffer();
  const px = base.data;
  for (let i = 0; i < px.length; i++) px[i] = Math.max(0, Math.min(255, px[i]! + noise[i]! - 128));
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

let input: Buffer;
beforeAll(async () => {
  input = await photo();
});

describe('origin pipeline vs the raw sharp loop (same encoder settings)', () => {
  it.each<[OutFormat, number]>([
    ['jpeg', 320],
    ['jpeg', 720],
    ['webp', 320],
    ['avif', 320],
  ])('%s at %i px: same dimensions, bytes within one percent', async (format, width) => {
    const tr = `w-${width},f-${format === 'jpeg' ? 'jpg' : format}`;
    const origin = await renderImage(input, parseTransformation(tr), { format, defaults: { ...DEFAULT_ACCOUNT_DEFAULTS, quality: 80 } });
    const raw = await rawTransform(input, format, width);
    const [om, rm] = await Promise.all([sharp(origin.data).metadata(), sharp(raw).metadata()]);
    expect(om.format).toBe(format === 'avif' ? 'heif' : format);
    expect({ width: om.width, height: om.height }).toEqual({ width: rm.width, height: rm.height });
    expect(Math.abs(origin.data.length - raw.length) / raw.length).toBeLessThanOrEqual(0.01);
  });
});
