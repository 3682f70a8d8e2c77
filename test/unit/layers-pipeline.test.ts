/**
 * Layers through the real sharp pipeline: every assertion reads pixels of the rendered output
 * (where the layer is and where it is not), never bytes.
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { isPixmeshError } from '../../shared/errors.js';
import { parseTransformation, type NegotiatedFormat } from '../../shared/transform/index.js';
import { renderImage, type RenderOptions } from '../../origin/src/pipeline/index.js';
import { layerOffset } from '../../origin/src/pipeline/steps/layers.js';

/** A 400×300 mid-grey photo stand-in (noise-free, so any colour change is the layer's). */
async function grey(w = 400, h = 300, format: 'jpeg' | 'png' = 'png'): Promise<Buffer> {
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: 128, g: 128, b: 128 } } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 95 }).toBuffer();
}
/** A 60×40 green logo with a 10 px transparent margin (trimmed by default as a layer). */
async function logo(): Promise<Buffer> {
  const inner = await sharp({ create: { width: 60, height: 40, channels: 4, background: { r: 0, g: 200, b: 0, alpha: 1 } } }).png().toBuffer();
  return sharp({ create: { width: 80, height: 60, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .composite([{ input: inner, left: 10, top: 10 }])
    .png()
    .toBuffer();
}

let base: Buffer;
const files: Record<string, Buffer> = {};
beforeAll(async () => {
  base = await grey();
  files['logo.png'] = await logo();
  files['brand/blue.png'] = await sharp({ create: { width: 50, height: 50, channels: 3, background: { r: 0, g: 0, b: 255 } } }).png().toBuffer();
});

const fetchLayer = async (path: string) => {
  const f = files[path];
  if (!f) {
    const { notFound } = await import('../../shared/errors.js');
    throw notFound(`layer image "${path}" not found`);
  }
  return f;
};
const render = (input: Buffer, tr: string, format: NegotiatedFormat = 'png', extra: Partial<RenderOptions> = {}) =>
  renderImage(input, parseTransformation(tr), { format, defaults: DEFAULT_ACCOUNT_DEFAULTS, fetchLayer, ...extra });

async function pixels(buf: Buffer) {
  const { data, info } = await sharp(buf).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => {
    const i = (y * info.width + x) * 4;
    return [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
  };
  /** Bounding box of pixels matching `pred`. */
  const bbox = (pred: (p: number[]) => boolean) => {
    let [x0, y0, x1, y1, n] = [Infinity, Infinity, -1, -1, 0];
    for (let y = 0; y < info.height; y++)
      for (let x = 0; x < info.width; x++)
        if (pred(at(x, y))) {
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x);
          y1 = Math.max(y1, y);
          n++;
        }
    return { x0, y0, x1, y1, n };
  };
  return { at, bbox, width: info.width, height: info.height };
}
const isRed = (p: number[]) => p[0]! > 180 && p[1]! < 80 && p[2]! < 80;
const isGreen = (p: number[]) => p[1]! > 150 && p[0]! < 60 && p[2]! < 60;
const isGreyBase = (p: number[]) => Math.abs(p[0]! - 128) < 6 && Math.abs(p[1]! - 128) < 6 && Math.abs(p[2]! - 128) < 6;

describe('layerOffset (pure placement)', () => {
  it.each<[string, Parameters<typeof layerOffset>[0], { left: number; top: number }]>([
    ['default: centred', {}, { left: 150, top: 125 }],
    ['lfo-bottom_right', { focus: 'bottom_right' }, { left: 300, top: 250 }],
    ['lfo-top', { focus: 'top' }, { left: 150, top: 0 }],
    ['lx/ly positive', { x: 10, y: 20 }, { left: 10, top: 20 }],
    ['lx/ly N negatives count from the right/bottom edge', { x: -10, y: -5 }, { left: 290, top: 245 }],
    ['lx/ly win over lfo', { x: 0, y: 0, focus: 'bottom_right' }, { left: 0, top: 0 }],
    ['lxc/lyc place the centre', { xc: 200, yc: 150 }, { left: 150, top: 125 }],
    ['lap-bottom_right counts from that corner', { anchor: 'bottom_right', x: -110, y: -60 }, { left: 290, top: 240 }],
    ['lap-center with lxc 0', { anchor: 'center', xc: 0, yc: 0 }, { left: 150, top: 125 }],
    ['expression bw_sub_cw', { x: { kind: 'expr', tokens: ['bw', 'sub', 'cw'] }, y: 0 }, { left: 300, top: 0 }],
  ])('%s', (_name, pos, expected) => {
    expect(layerOffset(pos, 400, 300, 100, 50)).toEqual(expected);
  });
});

describe('text layers', () => {
  it('a red text layer makes red pixels where it is placed and nowhere else', async () => {
    const out = await render(base, 'l-text,i-HELLO,fs-40,co-FF0000,lx-20,ly-30,l-end');
    const p = await pixels(out.data);
    const red = p.bbox(isRed);
    expect(red.n).toBeGreaterThan(200);
    expect(red.x0).toBeGreaterThanOrEqual(20);
    expect(red.y0).toBeGreaterThanOrEqual(30);
    expect(red.x1).toBeLessThan(20 + 200);
    expect(red.y1).toBeLessThan(30 + 60);
    // the rest of the image is the untouched base
    expect(isGreyBase(p.at(300, 200))).toBe(true);
    expect(isGreyBase(p.at(10, 10))).toBe(true);
    expect(out.width).toBe(400);
    expect(out.height).toBe(300);
  });

  it('lfo-bottom_right puts the text in the bottom-right corner', async () => {
    const p = await pixels((await render(base, 'l-text,i-Corner,fs-30,co-red,lfo-bottom_right,l-end')).data);
    const red = p.bbox(isRed);
    expect(red.n).toBeGreaterThan(100);
    expect(red.x1).toBeGreaterThan(370);
    expect(red.y1).toBeGreaterThan(270);
    expect(red.x0).toBeGreaterThan(250);
  });

  it('a larger fs makes a larger text box', async () => {
    const small = (await pixels((await render(base, 'l-text,i-Size,fs-20,co-FF0000,l-end')).data)).bbox(isRed);
    const big = (await pixels((await render(base, 'l-text,i-Size,fs-60,co-FF0000,l-end')).data)).bbox(isRed);
    expect(big.x1 - big.x0).toBeGreaterThan(2.4 * (small.x1 - small.x0));
  });

  it('bg and pa draw a padded box behind the text', async () => {
    const p = await pixels((await render(base, 'l-text,i-Hi,fs-20,co-000000,bg-FF0000,pa-20,lx-0,ly-0,l-end')).data);
    const red = p.bbox(isRed);
    expect(red.x0).toBe(0);
    expect(red.y0).toBe(0);
    expect(red.y1 - red.y0).toBeGreaterThan(40); // 20 px padding top and bottom plus the line
    expect(isRed(p.at(5, 5))).toBe(true); // padding is background, not text
  });

  it('w wraps the text onto several lines (taller, not wider than w + padding)', async () => {
    const one = (await pixels((await render(base, 'l-text,i-one%20two%20three%20four,fs-20,co-red,l-end')).data)).bbox(isRed);
    const wrapped = (await pixels((await render(base, 'l-text,i-one%20two%20three%20four,fs-20,co-red,w-60,l-end')).data)).bbox(isRed);
    expect(wrapped.x1 - wrapped.x0).toBeLessThanOrEqual(60);
    expect(wrapped.y1 - wrapped.y0).toBeGreaterThan(2 * (one.y1 - one.y0));
  });

  it('bw/bh expressions size the text relative to the base', async () => {
    const p = await pixels((await render(base, 'l-text,i-X,fs-bh_div_2,co-red,l-end')).data);
    const red = p.bbox(isRed);
    expect(red.y1 - red.y0).toBeGreaterThan(80); // a 150 px font's capital X
  });

  it('UTF-8 text from ie- (base64) renders', async () => {
    const b64 = Buffer.from('Grüße ✓', 'utf8').toString('base64');
    const p = await pixels((await render(base, `l-text,ie-${encodeURIComponent(b64)},fs-40,co-red,l-end`)).data);
    expect(p.bbox(isRed).n).toBeGreaterThan(200);
  });

  it('al-5 halves the text opacity', async () => {
    const maxRed = async (tr: string) => {
      const { data } = await sharp((await render(base, tr)).data).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      let m = 0;
      for (let i = 0; i < data.length; i += 3) m = Math.max(m, data[i]!);
      return m;
    };
    // U+2588 FULL BLOCK: solid glyph pixels
    expect(await maxRed('l-text,i-%E2%96%88%E2%96%88,fs-80,co-FF0000,ff-DejaVu%20Sans,l-end')).toBeGreaterThan(250);
    const half = await maxRed('l-text,i-%E2%96%88%E2%96%88,fs-80,co-FF0000,ff-DejaVu%20Sans,al-5,l-end');
    expect(half).toBeGreaterThan(180);
    expect(half).toBeLessThan(200); // 128 + (255 - 128) × 0.5 ≈ 191
  });

  it('rt-90 turns a wide text box into a tall one', async () => {
    const flat = (await pixels((await render(base, 'l-text,i-Rotated,fs-30,bg-FF0000,l-end')).data)).bbox(isRed);
    const turned = (await pixels((await render(base, 'l-text,i-Rotated,fs-30,bg-FF0000,rt-90,l-end')).data)).bbox(isRed);
    expect(flat.x1 - flat.x0).toBeGreaterThan(flat.y1 - flat.y0);
    expect(turned.y1 - turned.y0).toBeGreaterThan(turned.x1 - turned.x0);
  });

  it('a JPEG base with a text layer stays an opaque JPEG in the source family', async () => {
    const out = await render(await grey(400, 300, 'jpeg'), 'l-text,i-Hi,co-red,l-end', 'source');
    expect(out.format).toBe('jpeg');
    expect(out.hasAlpha).toBe(false);
  });

  it('built-in fonts differ (DejaVu Sans Mono vs Open Sans give different widths)', async () => {
    const a = (await pixels((await render(base, 'l-text,i-iiiiii,fs-30,co-red,ff-DejaVu%20Sans%20Mono,l-end')).data)).bbox(isRed);
    const b = (await pixels((await render(base, 'l-text,i-iiiiii,fs-30,co-red,l-end')).data)).bbox(isRed);
    expect(a.x1 - a.x0).toBeGreaterThan(1.5 * (b.x1 - b.x0));
  });
});

describe('image and solid layers', () => {
  it('an image layer is trimmed by default and lfo-bottom_right puts it in the corner', async () => {
    const p = await pixels((await render(base, 'l-image,i-logo.png,lfo-bottom_right,l-end')).data);
    const g = p.bbox(isGreen);
    expect(g).toMatchObject({ x0: 340, y0: 260, x1: 399, y1: 299 }); // 60×40: the transparent margin was trimmed
  });

  it('t-false keeps the transparent margin', async () => {
    const p = await pixels((await render(base, 'l-image,i-logo.png,t-false,lfo-bottom_right,l-end')).data);
    expect(p.bbox(isGreen)).toMatchObject({ x0: 330, y0: 250, x1: 389, y1: 289 });
  });

  it('the layer runs its own chain (w, then rt) and is placed by lx/ly', async () => {
    const p = await pixels((await render(base, 'l-image,i-logo.png,w-30:rt-90,lx-10,ly-10,l-end')).data);
    expect(p.bbox(isGreen)).toMatchObject({ x0: 10, y0: 10, x1: 10 + 20 - 1, y1: 10 + 30 - 1 });
  });

  it('a solid ik_canvas block of the given size and colour', async () => {
    const p = await pixels((await render(base, 'l-image,i-ik_canvas,bg-FF0000,w-100,h-50,lx-N0,ly-0,l-end')).data);
    expect(p.bbox(isRed)).toMatchObject({ x0: 300, y0: 0, x1: 399, y1: 49 });
  });

  it('the layer goes on the result of its step (base resized first; bw follows it)', async () => {
    const out = await render(base, 'w-200,l-image,i-ik_canvas,bg-red,w-bw_div_2,h-10,lx-0,ly-0,l-end');
    const p = await pixels(out.data);
    expect(out.width).toBe(200);
    expect(p.bbox(isRed)).toMatchObject({ x0: 0, x1: 99, y0: 0, y1: 9 });
  });

  it('several layers in one step, in URL order (the later one on top)', async () => {
    const p = await pixels(
      (await render(base, 'l-image,i-ik_canvas,bg-FF0000,w-100,h-100,lx-0,ly-0,l-end,l-image,i-ik_canvas,bg-00C800,w-50,h-50,lx-0,ly-0,l-end')).data,
    );
    expect(isGreen(p.at(10, 10))).toBe(true);
    expect(isRed(p.at(80, 80))).toBe(true);
  });

  it('nested layers: a blue square inside a red block, positioned relative to the block', async () => {
    const p = await pixels((await render(base, 'l-image,i-ik_canvas,bg-FF0000,w-200,h-100,l-image,i-brand@@blue.png,lfo-bottom_right,l-end,lx-10,ly-10,l-end')).data);
    expect(p.bbox(isRed)).toMatchObject({ x0: 10, y0: 10, x1: 209, y1: 109 });
    const blue = p.bbox((c) => c[2]! > 200 && c[0]! < 50 && c[1]! < 50);
    expect(blue).toMatchObject({ x0: 160, y0: 60, x1: 209, y1: 109 });
  });

  it('a layer partly outside the base is clipped, not an error', async () => {
    const out = await render(base, 'l-image,i-ik_canvas,bg-FF0000,w-100,h-100,lx-350,ly-250,l-end');
    const p = await pixels(out.data);
    expect(p.bbox(isRed)).toMatchObject({ x0: 350, y0: 250, x1: 399, y1: 299 });
    expect(out.width).toBe(400);
  });

  it('o inside the layer makes it translucent', async () => {
    const p = await pixels((await render(base, 'l-image,i-ik_canvas,bg-FF0000,w-100,h-100,o-50,l-end')).data);
    const c = p.at(200, 150);
    expect(c[0]).toBeGreaterThan(175);
    expect(c[0]).toBeLessThan(205);
    expect(c[1]).toBeGreaterThan(50);
  });

  it('a missing layer image is a 404 ENOENT naming it', async () => {
    const err = await render(base, 'l-image,i-nope@@missing.png,l-end').catch((e: unknown) => e);
    expect(isPixmeshError(err) && err.status === 404 && err.code === 'ENOENT' && /nope\/missing\.png/.test(err.message)).toBe(true);
  });
});

describe('layer modes', () => {
  it('lm-multiply darkens: white keeps the base, red multiplies it', async () => {
    const p = await pixels((await render(base, 'l-image,i-ik_canvas,bg-FF0000,w-100,h-100,lx-0,ly-0,lm-multiply,l-end')).data);
    const c = p.at(50, 50);
    expect(c[0]).toBeGreaterThan(115); // 128 × 1
    expect(c[0]).toBeLessThan(140);
    expect(c[1]).toBeLessThan(10); // 128 × 0
    expect(isGreyBase(p.at(200, 200))).toBe(true);
  });

  it('lm-cutout makes the base transparent under the layer', async () => {
    const out = await render(base, 'l-image,i-ik_canvas,bg-FF0000,w-100,h-100,lx-0,ly-0,lm-cutout,l-end');
    const p = await pixels(out.data);
    expect(p.at(50, 50)[3]).toBe(0);
    expect(p.at(200, 200)[3]).toBe(255);
    expect(out.hasAlpha).toBe(true);
  });

  it('lm-cutter keeps only the base under the layer, cropped to it', async () => {
    const out = await render(base, 'l-image,i-ik_canvas,bg-FF0000,w-100,h-60,r-max,lx-20,ly-20,lm-cutter,l-end');
    expect([out.width, out.height]).toEqual([100, 60]);
    const p = await pixels(out.data);
    expect(isGreyBase(p.at(50, 30))).toBe(true); // the base's colour, not the layer's
    expect(p.at(0, 0)[3]).toBe(0); // outside the pill shape
  });

  it('lm-displace shifts base pixels by the red channel of the layer', async () => {
    // base: left half black, right half white; a full-red layer shifts every pixel 20 px to the right-hand sample
    const halves = await sharp({ create: { width: 200, height: 50, channels: 3, background: { r: 0, g: 0, b: 0 } } })
      .composite([{ input: await sharp({ create: { width: 100, height: 50, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toBuffer(), left: 100, top: 0 }])
      .png()
      .toBuffer();
    const out = await render(halves, 'l-image,i-ik_canvas,bg-FF8000,w-200,h-50,lx-0,ly-0,lm-displace,x-20,l-end');
    const p = await pixels(out.data);
    expect(p.at(85, 25)[0]).toBeGreaterThan(200); // sampled from x = 105 (white)
    expect(p.at(70, 25)[0]).toBeLessThan(50); // sampled from x = 90 (black)
  });
});
