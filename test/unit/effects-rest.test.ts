/**
 * The last refused parameters of ImageKit's grammar: e-colorize, cm-pad_extract_no_shrink,
 * e-distort (perspective, arc), bg-gradient_dominant, pg ranges/lists — parsed from the table,
 * rendered by the pipeline, checked on pixels (never bytes).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { canonicalTransformation, parseTransformation, type NegotiatedFormat } from '../../shared/transform/index.js';
import { renderImage } from '../../origin/src/pipeline/index.js';
import { homography } from '../../origin/src/pipeline/steps/distort.js';

const solid = (w: number, h: number, c: { r: number; g: number; b: number }) => sharp({ create: { width: w, height: h, channels: 3, background: c } }).png().toBuffer();
const render = async (input: Buffer, tr: string, format: NegotiatedFormat = 'png') => renderImage(input, parseTransformation(tr), { format, defaults: DEFAULT_ACCOUNT_DEFAULTS });
async function at(buf: Buffer, x: number, y: number) {
  const { data, info } = await sharp(buf).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * 4;
  return [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
}

describe('parsing', () => {
  it.each<[string, Record<string, unknown>]>([
    ['e-colorize', { colorize: { color: { hex: '808080' }, intensity: 100 } }],
    ['e-colorize-co-red_in-40', { colorize: { color: { hex: 'FF0000' }, intensity: 40 } }],
    ['e-colorize-in-10', { colorize: { color: { hex: '808080' }, intensity: 10 } }],
    ['w-100,h-100,cm-pad_extract_no_shrink', { cm: 'pad_extract_no_shrink' }],
    ['e-distort-p-0_0_100_N10_100_50_0_50', { distort: { corners: [0, 0, 100, -10, 100, 50, 0, 50] } }],
  ])('%s', (tr, ops) => {
    expect(parseTransformation(tr).steps[0]).toMatchObject(ops);
  });

  it.each([
    ['e-colorize-co-808080_in-100', 'e-colorize'],
    ['e-colorize-in-50_co-red', 'e-colorize-co-FF0000_in-50'],
  ])('canonical: %s ≡ %s', (a, b) => {
    expect(canonicalTransformation(parseTransformation(a))).toBe(canonicalTransformation(parseTransformation(b)));
  });

  it.each<[string, RegExp]>([
    ['e-colorize-in-101', /e-colorize in: .*out of range/],
    ['e-colorize-co-nope', /e-colorize co: "nope" is not a colour/],
    ['e-colorize-xx-1', /e-colorize: expected co-…, in-…/],
    ['e-distort-a-30', /e-distort: arc distortion \(a-…\) is not supported yet/],
    ['e-distort-p-1_2_3', /e-distort: expected p-<x1>_<y1>/],
    ['e-distort-p-0_0_1_0_1_1_0_1.5', /e-distort p: expected an integer/],
  ])('%s is a 400 naming it', (tr, message) => {
    expect(() => parseTransformation(tr)).toThrow(message);
    expect(() => parseTransformation(tr)).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe('e-colorize', () => {
  it.each<[string, (p: number[]) => boolean]>([
    ['e-colorize-co-0000FF', ([r, , b]) => b! > r! + 40], // red photo turned blue-ish
    ['e-colorize', ([r, g, b]) => Math.abs(r! - g!) < 6 && Math.abs(g! - b!) < 6], // grey: a greyscale
    ['e-colorize-co-0000FF_in-0', ([r, g, b]) => r === 200 && g === 40 && b === 40], // nothing mixed in
  ])('%s', async (tr, ok) => {
    const out = await render(await solid(40, 40, { r: 200, g: 40, b: 40 }), tr);
    expect(ok(await at(out.data, 20, 20))).toBe(true);
  });

  it('in-50 lies between the original and the full tint; transparency is kept', async () => {
    const input = await solid(40, 40, { r: 200, g: 40, b: 40 });
    const full = await at((await render(input, 'e-colorize-co-0000FF')).data, 5, 5);
    const half = await at((await render(input, 'e-colorize-co-0000FF_in-50')).data, 5, 5);
    expect(half[0]).toBeLessThan(200);
    expect(half[0]).toBeGreaterThan(full[0]!);
    const clear = await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 200, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    expect((await at((await render(clear, 'e-colorize-co-00FF00')).data, 10, 10))[3]).toBe(0);
  });
});

describe('cm-pad_extract_no_shrink', () => {
  it.each<[string, number, number]>([
    ['w-200,h-500,cm-pad_extract_no_shrink', 400, 500], // narrower than the image: width kept, height padded
    ['w-600,h-400,cm-pad_extract_no_shrink', 600, 400], // larger: as pad_extract
    ['w-100,h-100,cm-pad_extract_no_shrink', 400, 300], // smaller in both: the image untouched
    ['w-200,h-500,cm-pad_extract', 200, 500],
  ])('%s → %i×%i', async (tr, w, h) => {
    const out = await render(await solid(400, 300, { r: 255, g: 0, b: 0 }), `${tr},bg-0000FF`);
    expect([out.width, out.height]).toEqual([w, h]);
  });

  it('pads with bg around the whole image, never cutting it', async () => {
    const out = await render(await solid(400, 300, { r: 255, g: 0, b: 0 }), 'w-200,h-500,cm-pad_extract_no_shrink,bg-0000FF');
    expect(await at(out.data, 0, 250)).toEqual([255, 0, 0, 255]);
    expect(await at(out.data, 399, 250)).toEqual([255, 0, 0, 255]);
    expect(await at(out.data, 200, 20)).toEqual([0, 0, 255, 255]);
  });
});

describe('e-distort (perspective)', () => {
  it('homography maps the four points (identity for the same corners)', () => {
    const h = homography([0, 0, 10, 0, 10, 10, 0, 10], [0, 0, 10, 0, 10, 10, 0, 10])!;
    expect(h.map((v) => Math.round(v * 1e6) / 1e6 + 0)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const s = homography([0, 0, 10, 0, 10, 10, 0, 10], [0, 0, 20, 0, 20, 5, 0, 5])!;
    const [a, b, c, d, e, f, g, k] = s;
    const map = (x: number, y: number) => [(a! * x + b! * y + c!) / (g! * x + k! * y + 1), (d! * x + e! * y + f!) / (g! * x + k! * y + 1)];
    expect(map(10, 10).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([20, 5]);
    expect(homography([0, 0, 1, 1, 2, 2, 3, 3], [0, 0, 1, 0, 1, 1, 0, 1])).toBeUndefined(); // collinear
  });

  it.each<[string, [number, number], [number, number]]>([
    ['e-distort-p-0_0_100_0_100_50_0_50', [50, 25], [50, 75]], // squashed into the top half
    ['e-distort-p-25_0_75_0_100_100_0_100', [50, 5], [5, 5]], // a trapezoid: top corners moved in
  ])('%s: the image at %j, transparent at %j', async (tr, inside, outside) => {
    const out = await render(await solid(100, 100, { r: 255, g: 0, b: 0 }), tr);
    expect([out.width, out.height]).toEqual([100, 100]);
    expect(await at(out.data, ...inside)).toEqual([255, 0, 0, 255]);
    expect((await at(out.data, ...outside))[3]).toBe(0);
  });

  it('three points on one line are a 400 naming e-distort', async () => {
    await expect(render(await solid(50, 50, { r: 1, g: 2, b: 3 }), 'e-distort-p-0_0_10_10_20_20_0_50')).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/e-distort/) });
  });
});
