import sharp from 'sharp';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS, type AccountDefaults } from '../../shared/accounts.js';
import { canonicalTransformation, parseTransformation, type NegotiatedFormat } from '../../shared/transform/index.js';
import { getSourceMetadata, newDefaultConfig, renderImage, type RenderOptions } from '../../origin/src/pipeline/index.js';
import { checkInputPixels, sourceInfoOf } from '../../origin/src/limits.js';

/** A 320×240 test card: left half red, right half blue, a white square top-left, green bottom band. */
async function card(format: 'jpeg' | 'png' = 'jpeg', alpha = false): Promise<Buffer> {
  const w = 320;
  const h = 240;
  const ch = alpha ? 4 : 3;
  const px = Buffer.alloc(w * h * ch);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * ch;
      let c = x < w / 2 ? [220, 30, 30] : [30, 30, 220];
      if (x < 60 && y < 60) c = [255, 255, 255];
      if (y >= 200) c = [30, 200, 30];
      px[i] = c[0]!;
      px[i + 1] = c[1]!;
      px[i + 2] = c[2]!;
      if (alpha) px[i + 3] = x > 280 ? 0 : 255;
    }
  const img = sharp(px, { raw: { width: w, height: h, channels: ch } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 95 }).toBuffer();
}

let jpg: Buffer;
let png: Buffer;
beforeAll(async () => {
  jpg = await card('jpeg');
  png = await card('png', true);
});

const defaults: AccountDefaults = DEFAULT_ACCOUNT_DEFAULTS;
const render = (input: Buffer, tr: string, format: NegotiatedFormat = 'source', extra: Partial<RenderOptions> = {}) =>
  renderImage(input, parseTransformation(tr), { format, defaults, ...extra });

async function meta(buf: Buffer) {
  return sharp(buf).metadata();
}
/** Mean squared difference between horizontally adjacent pixels (edge energy). */
async function edgeEnergy(buf: Buffer): Promise<number> {
  const { data, info } = await sharp(buf).greyscale().raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  for (let y = 0; y < info.height; y++)
    for (let x = 1; x < info.width; x++) sum += (data[y * info.width + x]! - data[y * info.width + x - 1]!) ** 2;
  return sum / (info.height * (info.width - 1));
}
async function pixel(buf: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(buf).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * 4;
  return [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
}

describe('renderImage: sizes', () => {
  it.each<[string, number, number]>([
    ['w-160', 160, 120],
    ['h-60', 80, 60],
    ['w-100,h-100', 100, 100],
    ['w-100,h-100,c-force', 100, 100],
    ['w-100,h-100,c-at_max', 100, 75],
    ['w-1000,h-1000,c-at_max', 320, 240],
    ['w-640,h-640,c-at_max_enlarge', 640, 480],
    ['w-100,h-100,c-at_least', 133, 100],
    ['w-1000,c-at_max', 320, 240],
    ['w-100,h-100,cm-pad_resize', 100, 100],
    ['w-100,h-100,cm-extract', 100, 100],
    ['w-400,h-300,cm-pad_extract', 400, 300],
    ['w-0.5', 160, 120],
    ['w-iw_div_4', 80, 60],
    ['w-100,ar-1-1', 100, 100],
    ['h-100,ar-2-1', 200, 100],
    ['ar-2-1', 320, 160],
    ['w-100,dpr-2', 200, 150],
    ['w-2600,dpr-2', 2600, 1950],
    ['w-160:w-0.5', 80, 60],
    ['w-200:h-ch_div_2', 100, 75],
    ['rt-90', 240, 320],
    ['rt-N90', 240, 320],
    ['rt-180', 320, 240],
    ['w-100,rt-90', 75, 100],
    ['w-100:rt-90', 75, 100],
    ['b-10_FF0000', 340, 260],
    ['w-100,b-iw_div_32_FF0000', 120, 95],
    ['if-w_gt_300,w-100,if-else,w-50,if-end', 100, 75],
    ['if-w_gt_400,w-100,if-else,w-50,if-end', 50, 38],
    ['if-iw_lt_10,w-100,if-end', 320, 240],
    ['w-160:if-w_lt_200_and_iw_eq_320,h-30,if-end', 40, 30],
    ['if-ar_gt_1-1,w-100:rt-90,if-else,w-50,if-end', 75, 100],
    ['rt-90:if-ar_gt_1-1,w-100:rt-90,if-else,w-50:h-20,if-end', 15, 20],
    ['if-iar_eq_4-3,w-64,if-end', 64, 48],
    // regressions: a materialisation between steps must not reset the sizes later steps rely on
    ['w-300,h-200:o-50,w-200,h-200,cm-extract', 200, 200],
    ['w-100,h-100:w-50:r-max', 50, 50],
    ['w-100:rt-45:w-50,o-50', 50, 50],
    ['w-100:b-5_red,w-50,o-50', 60, 48],
    ['w-300,h-200:w-400,h-400,cm-pad_extract,o-50', 400, 400],
    ['w-100,h-100:w-50:b-2_000', 54, 54],
  ])('%s → %d×%d', async (tr, w, h) => {
    const r = await render(jpg, tr);
    expect([r.width, r.height]).toEqual([w, h]);
    const m = await meta(r.data);
    expect([m.width, m.height]).toEqual([w, h]);
  });

  it('rotates by an arbitrary angle into a larger, transparent canvas', async () => {
    const r = await render(jpg, 'rt-45');
    expect(r.width).toBeGreaterThan(390);
    expect(r.format).toBe('png');
    expect((await pixel(r.data, 0, 0))[3]).toBe(0);
  });

  it('w-auto uses the width hint, dpr-auto the DPR hint', async () => {
    const r = await render(jpg, 'w-auto,dpr-auto', 'source', { widthHint: 100, dpr: 2 });
    expect(r.width).toBe(200);
    const noHints = await render(jpg, 'w-auto,dpr-auto');
    expect(noHints.width).toBe(320);
    const garbage = await render(jpg, 'w-auto,dpr-auto', 'source', { widthHint: Number('abc'), dpr: Number.NaN });
    expect(garbage.width).toBe(320);
    const clamped = await render(jpg, 'w-100,dpr-auto', 'source', { dpr: 40 });
    expect(clamped.width).toBe(500);
  });
});

describe('renderImage: formats', () => {
  it.each<[Buffer | 'png' | 'jpg', NegotiatedFormat, string, string, boolean]>([
    ['jpg', 'source', 'w-50', 'jpeg', false],
    ['png', 'source', 'w-50', 'png', true],
    ['jpg', 'webp', 'w-50', 'webp', false],
    ['png', 'webp', 'w-50', 'webp', true],
    ['jpg', 'avif', 'w-50', 'heif', false],
    ['png', 'jpeg', 'w-50', 'jpeg', false],
    ['jpg', 'gif', 'w-50', 'gif', true], // libvips reports GIF as RGBA
    ['jpg', 'source', 'w-50,r-10', 'png', true],
    ['jpg', 'jpeg', 'w-50,r-10', 'jpeg', false],
    ['jpg', 'source', 'w-50,o-50', 'png', true],
    ['png', 'source', 'w-50,bg-FF0000', 'png', false],
    ['png', 'source', 'w-50,f-orig', 'png', true],
  ])('%s as %s with %s → %s (alpha %s)', async (which, fmt, tr, expected, alpha) => {
    const r = await render(which === 'png' ? png : jpg, tr, fmt);
    const m = await meta(r.data);
    expect(m.format).toBe(expected);
    expect(Boolean(m.hasAlpha)).toBe(alpha);
    expect(r.contentType).toMatch(/^image\//);
  });

  it('a webp source under "source" becomes jpeg (or png with alpha)', async () => {
    const webp = await sharp(jpg).webp().toBuffer();
    expect((await render(webp, 'w-50')).format).toBe('jpeg');
    expect((await render(webp, 'w-50,f-orig')).format).toBe('webp');
    const webpAlpha = await sharp(png).webp().toBuffer();
    expect((await render(webpAlpha, 'w-50')).format).toBe('png');
  });

  it('quality changes the size; lossless webp is larger than lossy', async () => {
    const q20 = await render(jpg, 'q-20', 'jpeg');
    const q95 = await render(jpg, 'q-95', 'jpeg');
    expect(q20.data.length).toBeLessThan(q95.data.length);
    const noisy = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .png()
      .toBuffer();
    const lossy = await render(noisy, '', 'webp');
    const lossless = await render(noisy, 'lo-true', 'webp');
    expect(lossless.data.length).toBeGreaterThan(lossy.data.length);
  });

  it('pr-true makes a progressive JPEG', async () => {
    expect((await meta((await render(jpg, 'pr-true', 'jpeg')).data)).isProgressive).toBe(true);
    expect((await meta((await render(jpg, '', 'jpeg')).data)).isProgressive).toBe(false);
  });

  it('strips metadata by default, keeps it with md-true', async () => {
    const withExif = await sharp(jpg).withExif({ IFD0: { Copyright: 'pixmesh test' } }).jpeg().toBuffer();
    expect((await meta(withExif)).exif).toBeDefined();
    expect((await meta((await render(withExif, 'w-50')).data)).exif).toBeUndefined();
    expect((await meta((await render(withExif, 'w-50,md-true')).data)).exif).toBeDefined();
  });

  it('orig-true marks the plan original whatever it holds (the region then skips renderImage); the same steps without it resize', async () => {
    // renderImage itself ignores `original` (it would resize 'orig-true,w-100'): origin/src/render.ts
    // serves the original bytes before the pipeline when plan.original is set.
    expect(parseTransformation('orig-true,w-100').original).toBe(true);
    const without = parseTransformation('w-100');
    expect(without.original).toBe(false);
    const r = await renderImage(jpg, without, { format: 'source', defaults });
    expect([r.width, r.height]).toEqual([100, 75]);
  });
});

describe('renderImage: orientation and colour', () => {
  it('applies EXIF orientation before stripping it (autoRotate)', async () => {
    const rotated = await sharp(jpg).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const info = await getSourceMetadata(rotated);
    expect([info.width, info.height, info.orientation]).toEqual([240, 320, 6]);
    const r = await render(rotated, 'w-120');
    expect([r.width, r.height]).toEqual([120, 160]);
    expect((await meta(r.data)).orientation).toBeUndefined();
    const raw = await renderImage(rotated, parseTransformation('w-160'), { format: 'source', defaults: { ...defaults, autoRotate: false } });
    expect([raw.width, raw.height]).toEqual([160, 120]);
    const auto = await renderImage(rotated, parseTransformation('rt-auto,w-120'), { format: 'source', defaults: { ...defaults, autoRotate: false } });
    expect([auto.width, auto.height]).toEqual([120, 160]);
    // md-true keeps EXIF, but the orientation tag must say "already upright" or viewers rotate twice
    const kept = await meta((await render(rotated, 'w-120,md-true')).data);
    expect([kept.width, kept.height, kept.orientation]).toEqual([120, 160, 1]);
  });

  it('converts CMYK input to sRGB', async () => {
    const cmyk = await sharp(jpg).toColourspace('cmyk').jpeg().toBuffer();
    expect((await meta(cmyk)).space).toBe('cmyk');
    const r = await render(cmyk, 'w-100');
    const m = await meta(r.data);
    expect(m.space).toBe('srgb');
    const [red, , blue] = await pixel(r.data, 20, 40);
    expect(red).toBeGreaterThan(150);
    expect(blue).toBeLessThan(100);
  });
});

describe('renderImage: colour profiles', () => {
  it('wide-gamut (Display P3) input is converted to sRGB and the profile stripped; cp-true keeps one', async () => {
    const p3 = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#ff0000' } }).withIccProfile('p3').jpeg().toBuffer();
    expect((await meta(p3)).hasProfile).toBe(true);
    const r = await render(p3, 'w-16', 'png');
    const m = await meta(r.data);
    expect(m.hasProfile).toBe(false);
    expect(m.space).toBe('srgb');
    // P3's pure red lies outside sRGB: converted, it stays a saturated red
    const [red = 0, green = 255] = await pixel(r.data, 8, 8);
    expect(red).toBeGreaterThan(240);
    expect(green).toBeLessThan(60);
    const kept = await render(p3, 'w-16,cp-true', 'png');
    expect((await meta(kept.data)).hasProfile).toBe(true);
  });
});

describe('renderImage: pixel statistics', () => {
  it('e-grayscale is really gray', async () => {
    const r = await render(jpg, 'e-grayscale', 'png');
    const { channels } = await sharp(r.data).toColourspace('srgb').stats();
    const c = await sharp(r.data).raw().toBuffer({ resolveWithObject: true });
    if (c.info.channels >= 3) {
      expect(Math.abs(channels[0]!.mean - channels[1]!.mean)).toBeLessThan(1);
      expect(Math.abs(channels[1]!.mean - channels[2]!.mean)).toBeLessThan(1);
    } else expect(c.info.channels).toBe(1);
    const colour = await sharp(jpg).stats();
    expect(Math.abs(colour.channels[0]!.mean - colour.channels[2]!.mean)).toBeGreaterThan(1);
  });

  it('bl lowers edge energy, e-sharpen raises it', async () => {
    const base = await edgeEnergy((await render(jpg, 'w-160', 'png')).data);
    const blurred = await edgeEnergy((await render(jpg, 'w-160,bl-10', 'png')).data);
    const sharpened = await edgeEnergy((await render(jpg, 'w-160,e-sharpen-100', 'png')).data);
    expect(blurred).toBeLessThan(base * 0.8);
    expect(sharpened).toBeGreaterThan(base);
  });

  it('e-contrast stretches a dull image to the full range', async () => {
    const dull = await sharp(jpg).linear(0.3, 90).jpeg().toBuffer();
    const before = await sharp(dull).stats();
    const after = await sharp((await render(dull, 'e-contrast', 'png')).data).stats();
    expect(after.channels[0]!.max - after.channels[0]!.min).toBeGreaterThan(before.channels[0]!.max - before.channels[0]!.min + 50);
  });

  it('pad_resize fills with bg', async () => {
    const r = await render(jpg, 'w-100,h-200,cm-pad_resize,bg-00FF00', 'png');
    const [rr, g, b] = await pixel(r.data, 50, 2);
    expect([rr, g, b]).toEqual([0, 255, 0]);
    const [r2 = 0, g2 = 0, b2 = 0] = await pixel(r.data, 50, 100);
    expect(g2).toBeLessThan(100);
    expect(r2 + b2).toBeGreaterThan(150);
  });

  it('pad_resize defaults to black padding (ImageKit bg default); fo positions the image', async () => {
    const r = await render(jpg, 'w-100,h-200,cm-pad_resize,fo-top', 'png');
    expect(await pixel(r.data, 50, 190)).toEqual([0, 0, 0, 255]);
    expect((await pixel(r.data, 5, 5)).slice(0, 3).every((v) => v > 200)).toBe(true); // the white square, top
  });

  it('pad_resize with bg-blurred pads with the image, not a flat colour', async () => {
    const r = await render(jpg, 'w-100,h-200,cm-pad_resize,bg-blurred_10_N50', 'png');
    expect([r.width, r.height]).toEqual([100, 200]);
    const { channels } = await sharp(r.data).extract({ left: 0, top: 0, width: 100, height: 40 }).stats();
    expect(channels[0]!.stdev + channels[2]!.stdev).toBeGreaterThan(5);
  });

  it('cm-extract with x/y cuts the white square; out of bounds is a 400', async () => {
    const r = await render(jpg, 'w-40,h-40,cm-extract,x-10,y-10', 'png');
    const { channels } = await sharp(r.data).stats();
    expect(channels.slice(0, 3).every((c) => c.mean > 240)).toBe(true);
    await expect(render(jpg, 'w-100,h-100,cm-extract,x-300,y-0')).rejects.toMatchObject({ status: 400, code: 'EBADTR' });
  });

  it('cm-extract fo-bottom_right and xc/yc', async () => {
    const br = await render(jpg, 'w-20,h-20,cm-extract,fo-bottom_right', 'png');
    const [r, g] = await pixel(br.data, 10, 10);
    expect(g).toBeGreaterThan(150);
    expect(r).toBeLessThan(100);
    const centre = await render(jpg, 'w-20,h-20,cm-extract,xc-30,yc-30', 'png');
    expect((await pixel(centre.data, 10, 10)).slice(0, 3).every((v) => v > 240)).toBe(true);
  });

  it('c-maintain_ratio with fo-left keeps the left (red) side', async () => {
    const r = await render(jpg, 'w-50,h-150,fo-left', 'png');
    const [red, , blue] = await pixel(r.data, 25, 100);
    expect(red).toBeGreaterThan(150);
    expect(blue).toBeLessThan(100);
    const right = await render(jpg, 'w-50,h-150,fo-right', 'png');
    expect((await pixel(right.data, 25, 100))[2]).toBeGreaterThan(150);
  });

  it('fo-auto (saliency) renders the requested box', async () => {
    const r = await render(jpg, 'w-50,h-50,fo-auto');
    expect([r.width, r.height]).toEqual([50, 50]);
  });

  it('fl-h mirrors: the white square moves to the top right', async () => {
    const r = await render(jpg, 'fl-h', 'png');
    expect((await pixel(r.data, 300, 20)).slice(0, 3).every((v) => v > 240)).toBe(true);
    const v = await render(jpg, 'fl-v', 'png');
    expect((await pixel(v.data, 20, 220)).slice(0, 3).every((x) => x > 240)).toBe(true);
  });

  it('rt-90 rotates clockwise: the white square moves to the top right', async () => {
    const r = await render(jpg, 'rt-90', 'png');
    expect((await pixel(r.data, 220, 20)).slice(0, 3).every((v) => v > 240)).toBe(true);
  });

  it('rt-90 then fl-h in one step differs from fl-h then rt-90 (fixed order: rotate, then flip)', async () => {
    const r = await render(jpg, 'fl-h,rt-90', 'png');
    // rotate: square top-right; then mirror: square top-left
    expect((await pixel(r.data, 20, 20)).slice(0, 3).every((v) => v > 240)).toBe(true);
  });

  it('b draws a border of the colour', async () => {
    const r = await render(jpg, 'b-10_00FF00', 'png');
    expect((await pixel(r.data, 3, 100)).slice(0, 3)).toEqual([0, 255, 0]);
  });

  it('r-max makes transparent corners; with bg they are filled', async () => {
    const r = await render(jpg, 'w-100,h-100:r-max', 'png');
    expect((await pixel(r.data, 1, 1))[3]).toBe(0);
    expect((await pixel(r.data, 50, 50))[3]).toBe(255);
    const filled = await render(jpg, 'w-100,h-100:r-max,bg-0000FF', 'png');
    expect(await pixel(filled.data, 1, 1)).toEqual([0, 0, 255, 255]);
  });

  it('o-50 halves the alpha', async () => {
    const r = await render(jpg, 'o-50', 'png');
    const a = (await pixel(r.data, 100, 100))[3]!;
    expect(a).toBeGreaterThanOrEqual(126);
    expect(a).toBeLessThanOrEqual(129);
  });

  it('a transparent PNG flattened to JPEG uses white, or bg', async () => {
    const r = await render(png, '', 'jpeg');
    expect((await pixel(r.data, 310, 100)).slice(0, 3).every((v) => v > 240)).toBe(true);
    const bg = await render(png, 'bg-000000', 'jpeg');
    expect((await pixel(bg.data, 310, 100)).slice(0, 3).every((v) => v < 15)).toBe(true);
  });

  it('t trims a solid border', async () => {
    const framed = await sharp(jpg).extend({ top: 20, bottom: 20, left: 20, right: 20, background: '#000' }).png().toBuffer();
    const r = await render(framed, 't-true');
    expect(r.width).toBeGreaterThanOrEqual(318);
    expect(r.width).toBeLessThanOrEqual(322);
    const r2 = await render(framed, 't-true,w-100');
    expect(r2.width).toBe(100);
  });

  it('e-usm sharpens: more edge energy than the unsharpened render of the same soft input, same size', async () => {
    const soft = await sharp(jpg).blur(2).png().toBuffer();
    const plain = await render(soft, '', 'png');
    const r = await render(soft, 'e-usm-2-2-0.8-0.024', 'png');
    expect([r.width, r.height]).toEqual([320, 240]);
    expect(await edgeEnergy(r.data)).toBeGreaterThan((await edgeEnergy(plain.data)) * 1.2);
  });
});

describe('renderImage: limits and errors', () => {
  const small = { ...newDefaultConfig(), maxInputBytes: 1000, maxInputPixels: 10_000, maxOutputDimension: 500, maxOutputPixels: 100_000 };
  it.each<[string, Partial<typeof small>, string, RegExp, number]>([
    ['bytes', { maxInputBytes: 1000 }, 'w-10', /at most 1000 bytes/, 413],
    ['input pixels', { maxInputPixels: 10_000 }, 'w-10', /320×240 = 76800 pixels, over the 10000-pixel limit/, 400],
    ['output dimension', { maxOutputDimension: 500 }, 'w-600', /largest side allowed is 500/, 400],
    ['output dimension (border)', { maxOutputDimension: 500 }, 'w-490,b-10_FFF', /largest side allowed is 500/, 400],
    ['output pixels', { maxOutputPixels: 100_000 }, 'w-1000', /at most 0.1 MP/, 400],
  ])('%s → ELIMIT', async (_name, limit, tr, message, status) => {
    const config = { ...newDefaultConfig(), ...limit };
    await expect(render(jpg, tr, 'source', { config })).rejects.toMatchObject({ code: 'ELIMIT', status, message: expect.stringMatching(message) });
  });

  it('undecodable input → 422 EDECODE', async () => {
    await expect(render(Buffer.from('definitely not an image'), 'w-10')).rejects.toMatchObject({ status: 422, code: 'EDECODE' });
    await expect(getSourceMetadata(Buffer.from('nope'))).rejects.toMatchObject({ status: 422, code: 'EDECODE' });
  });

  it('a truncated image → 422 EDECODE, never a raw sharp error', async () => {
    const big = await sharp({ create: { width: 800, height: 800, channels: 3, background: '#123456' } }).png({ compressionLevel: 0 }).toBuffer();
    await expect(render(big.subarray(0, Math.floor(big.length / 2)), 'w-10')).rejects.toMatchObject({ status: 422, code: 'EDECODE' });
  });

  it('the whole render is bounded by renderTimeoutSeconds, not each pass: each libvips pass gets what is left of one deadline', async () => {
    // A virtual clock that moves only when a libvips pass finishes (700 ms per pass), so the test
    // decides when the deadline passes instead of the machine's speed: no wall-clock assertion.
    // 20 passes (each rotation materialises) at 700 ms = 14 s of virtual work against a 3 s bound.
    const tiny = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const tr = Array.from({ length: 20 }, (_, i) => `w-${40 + i},rt-90`).join(':');
    const config = { ...newDefaultConfig(), renderTimeoutSeconds: 3 };
    let now = Date.now();
    const proto = sharp.prototype as unknown as { toBuffer: (...a: unknown[]) => Promise<unknown>; options: { timeoutSeconds: number } };
    const toBuffer = proto.toBuffer;
    const timeouts: number[] = [];
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => now);
    const pass = vi.spyOn(proto, 'toBuffer').mockImplementation(function (this: typeof proto, ...args: unknown[]) {
      timeouts.push(this.options.timeoutSeconds); // what sharp hands libvips as this pass's limit
      return toBuffer.apply(this, args).then((r) => {
        now += 700;
        return r;
      });
    });
    try {
      await expect(render(tiny, tr, 'jpeg', { config })).rejects.toMatchObject({ status: 503, code: 'EBUSY', message: expect.stringMatching(/longer than 3 s/) });
    } finally {
      pass.mockRestore();
      clock.mockRestore();
    }
    // Per-pass deadlines would let all 20 passes run (and the render succeed); one deadline stops it
    // once 3 s of virtual time are spent: passes start at 0, 0.7, 1.4, 2.1 and 2.8 s, and each carries
    // sharp's timeout = the whole render's remaining budget rounded up to whole seconds (at least 1).
    expect(timeouts).toEqual([3, 3, 2, 1, 1]);
  });

  it('an aborted render → 503 EBUSY', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(render(jpg, 'w-10', 'source', { signal: ac.signal })).rejects.toMatchObject({ status: 503, code: 'EBUSY' });
  });

  it('reads source metadata from the header', async () => {
    expect(await getSourceMetadata(png)).toMatchObject({ format: 'png', width: 320, height: 240, hasAlpha: true, pages: 1 });
  });

  it('takes the header facts the caller read (RenderOptions.source) instead of reading the header again', async () => {
    // Facts that differ from the bytes show which were used: `source` keeps the source's family (png here).
    const told = { ...(await getSourceMetadata(jpg)), format: 'png' as const };
    expect((await meta((await render(jpg, 'w-100', 'source', { source: told })).data)).format).toBe('png');
    expect((await meta((await render(jpg, 'w-100', 'source')).data)).format).toBe('jpeg');
  });

  it("the region reads an original's header once per its bytes (the same Buffer), again for other bytes", async () => {
    const first = checkInputPixels(jpg, {}, 'jpeg', 1e8);
    expect(sourceInfoOf(jpg)).toBe(sourceInfoOf(jpg));
    expect(await first).toBe(await sourceInfoOf(jpg));
    const copy = Buffer.from(jpg);
    expect(sourceInfoOf(copy)).not.toBe(sourceInfoOf(jpg));
    expect(await sourceInfoOf(copy)).toEqual(await sourceInfoOf(jpg));
    await expect(checkInputPixels(Buffer.from('definitely not an image'), {}, 'jpeg', 1e8)).rejects.toMatchObject({ status: 422, code: 'EDECODE' });
  });
});

describe('renderImage: animation', () => {
  let gif: Buffer;
  beforeAll(async () => {
    const colours = ['#ff0000', '#00ff00', '#0000ff'];
    const frames = await Promise.all(colours.map((c) => sharp({ create: { width: 120, height: 80, channels: 3, background: c } }).png().toBuffer()));
    gif = await sharp(frames, { join: { animated: true } }).gif({ delay: [100, 200, 300], loop: 0 }).toBuffer();
  });

  it('keeps a GIF animated under "source", resizing every frame', async () => {
    expect((await getSourceMetadata(gif)).pages).toBe(3);
    const r = await render(gif, 'w-60');
    expect([r.format, r.width, r.height, r.frames]).toEqual(['gif', 60, 40, 3]);
    const m = await meta(r.data);
    expect(m.pages).toBe(3);
    expect(m.delay).toEqual([100, 200, 300]);
    const { dominant } = await sharp(r.data, { page: 2 }).stats();
    expect(dominant.b).toBeGreaterThan(200);
  });

  it('animated WebP output; JPEG output takes the first frame', async () => {
    const webp = await render(gif, 'w-60,rt-90', 'webp');
    expect((await meta(webp.data)).pages).toBe(3);
    expect([webp.width, webp.height]).toEqual([40, 60]);
    const jpeg = await render(gif, 'w-60', 'jpeg');
    expect([jpeg.frames, jpeg.width, jpeg.height]).toEqual([1, 60, 40]);
    expect((await sharp(jpeg.data).stats()).dominant.r).toBeGreaterThan(200);
  });

  it('too many frames → ELIMIT', async () => {
    const config = { ...newDefaultConfig(), maxFrames: 2 };
    await expect(render(gif, 'w-60', 'source', { config })).rejects.toMatchObject({ code: 'ELIMIT', message: expect.stringMatching(/3 frames; at most 2/) });
  });
});

describe('renderImage: declared order, not URL order', () => {
  it.each<[string, number]>([
    ['w-100,h-100', 0],
    ['w-100,e-grayscale,bl-2,e-sharpen,q-50', 0],
    ['w-100,h-100,cm-pad_resize,bg-FF0000', 0],
    ['w-100:rt-90', 0],
    ['w-100,h-100:w-50', 1],
    ['rt-90,fl-h', 1],
  ])('%s needs %d intermediate passes', async (tr, passes) => {
    expect((await render(jpg, tr)).passes).toBe(passes);
  });

  it('e-grayscale grays the whole step output, padding and bg included', async () => {
    const padded = await render(jpg, 'w-100,h-200,cm-pad_resize,bg-00FF00,e-grayscale', 'png');
    const [r = 0, g = 0, b = 0] = await pixel(padded.data, 50, 2);
    expect(r).toBe(g);
    expect(g).toBe(b);
    expect(g).toBeGreaterThan(100); // green's luminance, not black
    const flat = await render(png, 'e-grayscale,bg-FF0000', 'png');
    const [fr = 0, fg = 0, fb = 0, fa = 0] = await pixel(flat.data, 310, 100);
    expect([fr === fg, fg === fb, fa]).toEqual([true, true, 255]);
  });

  it('parameter order inside a step does not change the output', async () => {
    const a = await render(jpg, 'rt-90,w-100,fl-h,bl-3', 'png');
    const b = await render(jpg, 'bl-3,fl-h,w-100,rt-90', 'png');
    const da = await sharp(a.data).raw().toBuffer();
    const db = await sharp(b.data).raw().toBuffer();
    expect(da.equals(db)).toBe(true);
  });
});

describe('renderImage: inputs', () => {
  /** A PNG whose header claims width×height but whose pixel data is a stub: a decompression bomb's shape. */
  async function pngHeaderOnly(width: number, height: number): Promise<Buffer> {
    const { crc32 } = await import('node:zlib');
    const chunk = (type: string, data: Buffer) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body) >>> 0);
      return Buffer.concat([len, body, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr.writeUInt8(8, 8); // bit depth
    ihdr.writeUInt8(2, 9); // RGB
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), chunk('IEND', Buffer.alloc(0))]);
  }

  it('a pixel bomb is refused from its header, before decoding', async () => {
    const bomb = await pngHeaderOnly(30000, 30000);
    expect(await getSourceMetadata(bomb)).toMatchObject({ width: 30000, height: 30000 });
    await expect(render(bomb, 'w-10')).rejects.toMatchObject({ status: 400, code: 'ELIMIT', message: expect.stringMatching(/30000×30000 = 900000000 pixels, over the 100000000-pixel limit/) });
  });

  it('an SVG claiming a huge canvas is refused; a normal SVG is rasterised to PNG', async () => {
    const huge = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="200000" height="200000"><rect width="10" height="10"/></svg>');
    await expect(render(huge, 'w-10')).rejects.toMatchObject({ code: 'ELIMIT' });
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="200" height="100" fill="#f00"/></svg>');
    const r = await render(svg, 'w-100');
    expect([r.format, r.width, r.height]).toEqual(['png', 100, 50]);
  });

  it.each<[string, () => Promise<Buffer>, string]>([
    ['16-bit PNG', () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).toColourspace('rgb16').png().toBuffer(), 'png'],
    ['gray + alpha PNG', () => sharp({ create: { width: 64, height: 48, channels: 4, background: { r: 9, g: 9, b: 9, alpha: 0.5 } } }).toColourspace('b-w').png().toBuffer(), 'png'],
    ['TIFF', () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } }).tiff().toBuffer(), 'jpeg'],
    ['AVIF', () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } }).avif({ effort: 0 }).toBuffer(), 'jpeg'],
    ['WebP', () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } }).webp().toBuffer(), 'jpeg'],
  ])('%s renders (source → %s)', async (_name, make, format) => {
    const r = await render(await make(), 'w-32,rt-90');
    expect([r.format, r.width, r.height]).toEqual([format, 24, 32]);
    const m = await meta(r.data);
    expect(m.depth).toBe('uchar');
  });
});

describe('renderImage: bg-dominant', () => {
  it('pads with the dominant colour and keeps sizes right', async () => {
    const mostlyBlue = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#1020e0' } })
      .composite([{ input: { create: { width: 40, height: 40, channels: 3, background: '#ff0000' } }, left: 0, top: 0 }])
      .png()
      .toBuffer();
    const r = await render(mostlyBlue, 'w-100,h-100,cm-pad_resize,bg-dominant:w-50', 'png');
    expect([r.width, r.height]).toEqual([50, 50]);
    const [red = 0, , blue = 0] = await pixel(r.data, 25, 2);
    expect(blue).toBeGreaterThan(180);
    expect(red).toBeLessThan(60);
    const rotated = await render(mostlyBlue, 'rt-30,bg-dominant', 'png');
    expect((await pixel(rotated.data, 0, 0))[2]).toBeGreaterThan(180);
  });
});

describe('canonical form renders the same pixels (same key ⇒ same output)', () => {
  it.each([
    'w-100,h-80,c-maintain_ratio,fo-center,dpr-1,z-1,o-100',
    'dpr-2,c-at_max,fo-top,e-grayscale',
    'x-10,y-5,w-100,rt-N90,fl-v_h',
    'w-60,h-60,ar-4-3,bg-red,cm-pad_resize,q-80',
    'if-w_gt_1,dpr-2,w-50,if-else,fo-top,w-5,if-end:t-false,bl-3',
    'f-jpg,pr-false,md-false,w-0.5',
  ])('%s', async (tr) => {
    const plan = parseTransformation(tr);
    const canonical = parseTransformation(canonicalTransformation(plan, { quality: 80 }));
    const a = await renderImage(jpg, plan, { format: 'png', defaults });
    const b = await renderImage(jpg, canonical, { format: 'png', defaults });
    const [ra, rb] = await Promise.all([sharp(a.data).raw().toBuffer(), sharp(b.data).raw().toBuffer()]);
    expect([a.width, a.height]).toEqual([b.width, b.height]);
    expect(ra.equals(rb)).toBe(true);
  });
});

describe('renderImage: pg (page / frame)', () => {
  it('renders one frame of an animation as a still, and one page of a multi-page TIFF', async () => {
    const colours = ['#ff0000', '#00ff00', '#0000ff'];
    const frames = await Promise.all(colours.map((c) => sharp({ create: { width: 60, height: 40, channels: 3, background: c } }).png().toBuffer()));
    const gif = await sharp(frames, { join: { animated: true } }).gif().toBuffer();
    const second = await render(gif, 'pg-2,w-30');
    expect([second.format, second.frames, second.width, second.height]).toEqual(['gif', 1, 30, 20]);
    expect((await meta(second.data)).pages ?? 1).toBe(1);
    expect((await sharp(second.data).stats()).dominant.g).toBeGreaterThan(200);
    await expect(render(gif, 'pg-4')).rejects.toMatchObject({ status: 400, code: 'EBADTR', message: expect.stringMatching(/pg: page 4 does not exist, the original has 3 pages/) });
  });
});

describe('renderImage: fo-auto with extract', () => {
  it('centres the extracted region on the salient spot', async () => {
    const spot = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const img = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#777777' } })
      .composite([{ input: spot, left: 280, top: 40 }])
      .png()
      .toBuffer();
    const r = await render(img, 'w-100,h-100,cm-extract,fo-auto', 'png');
    expect([r.width, r.height]).toEqual([100, 100]);
    const [red = 0, green = 255] = await pixel(r.data, 50, 50);
    expect(red).toBeGreaterThan(200);
    expect(green).toBeLessThan(60);
    const centre = await render(img, 'w-100,h-100,cm-extract', 'png');
    expect((await pixel(centre.data, 50, 50))[0]).toBeLessThan(150);
  });
});

describe('renderImage: hostile SVG', () => {
  it('external references (file:, http:) are refused before rasterising: 403 EACCES (svg-guard)', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100">' +
        '<image xlink:href="file:///etc/passwd" width="100" height="100"/><image href="http://169.254.169.254/x.png" width="100" height="100"/></svg>',
    );
    await expect(render(svg, 'w-50', 'png')).rejects.toMatchObject({ status: 403, code: 'EACCES' });
  });

  it('scripts are ignored', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" onload="alert(1)"><script>alert(1)</script><rect width="100" height="100" fill="red"/></svg>');
    const r = await render(svg, 'w-50', 'png');
    expect(await pixel(r.data, 25, 25)).toEqual([255, 0, 0, 255]);
  });

  it.each([
    ['entity expansion', `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">${Array.from({ length: 8 }, (_, i) => `<!ENTITY ${'b'.repeat(i + 1)} "${`&${i === 0 ? 'a' : 'b'.repeat(i)};`.repeat(10)}">`).join('')}]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&bbbbbbbb;</text></svg>`],
    ['external entity (XXE)', '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&x;</text></svg>'],
  ])('%s → 422 EDECODE, quickly', async (_name, text) => {
    const t0 = Date.now();
    await expect(render(Buffer.from(text), 'w-5')).rejects.toMatchObject({ status: 422, code: 'EDECODE' });
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('renderImage: translucent padding', () => {
  it.each(['w-100,h-200,cm-pad_resize,bg-FF000050', 'w-400,h-300,cm-pad_extract,bg-FF000050'])('%s pads with 50 %% red', async (tr) => {
    const r = await render(jpg, tr);
    expect(r.format).toBe('png'); // transparency was introduced: never JPEG under "source"
    const [red = 0, , , alpha = 0] = await pixel(r.data, 1, 1);
    expect(red).toBe(255);
    expect(alpha).toBeGreaterThanOrEqual(126);
    expect(alpha).toBeLessThanOrEqual(129);
  });
});

describe('renderImage: e-shadow', () => {
  it('draws a dark shadow offset under the opaque pixels, keeping the canvas size', async () => {
    const square = await sharp({ create: { width: 100, height: 100, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .composite([{ input: { create: { width: 40, height: 40, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 1 } } }, left: 30, top: 30 }])
      .png()
      .toBuffer();
    const r = await render(square, 'e-shadow-bl-0_st-50_x-10_y-10', 'png');
    expect([r.width, r.height]).toEqual([100, 100]);
    const [, , , below = 0] = await pixel(r.data, 75, 75); // outside the square, inside its shadow
    expect(below).toBeGreaterThanOrEqual(126);
    expect(below).toBeLessThanOrEqual(129);
    expect((await pixel(r.data, 5, 5))[3]).toBe(0); // far corner stays transparent
    expect(await pixel(r.data, 50, 50)).toEqual([255, 255, 255, 255]); // the object itself is unchanged
    const soft = await render(square, 'e-shadow', 'png');
    expect((await pixel(soft.data, 71, 71))[3]).toBeGreaterThan(0);
  });

  it('is refused above 2 MP, so resize first', async () => {
    const big = await sharp({ create: { width: 1500, height: 1500, channels: 3, background: '#888' } }).png().toBuffer();
    await expect(render(big, 'e-shadow')).rejects.toMatchObject({ status: 400, code: 'EBADTR', message: expect.stringMatching(/e-shadow: only for images up to 2 MP/) });
    expect((await render(big, 'w-500,e-shadow')).width).toBe(500);
  });
});
