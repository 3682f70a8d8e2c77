/**
 * The parameters that were refused until now: e-gradient, cr, c-maintain_ratio_no_enlarge,
 * cm-pad_resize_no_enlarge (parsed from the table, rendered by the pipeline, checked on pixels),
 * and those still refused with a 400 naming them.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { canonicalTransformation, parseTransformation } from '../../shared/transform/index.js';
import { renderImage } from '../../origin/src/pipeline/index.js';
import { gradientLine } from '../../origin/src/pipeline/steps/gradient.js';

const solid = (w: number, h: number, c: { r: number; g: number; b: number }) => sharp({ create: { width: w, height: h, channels: 3, background: c } }).png().toBuffer();
const render = async (input: Buffer, tr: string) => renderImage(input, parseTransformation(tr), { format: 'png', defaults: DEFAULT_ACCOUNT_DEFAULTS });
async function at(buf: Buffer, x: number, y: number) {
  const { data, info } = await sharp(buf).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * 4;
  return [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
}

describe('parsing', () => {
  it.each<[string, Record<string, unknown>]>([
    ['e-gradient', { gradient: { angle: 180, from: { hex: 'FFFFFF' }, to: { hex: '00000000' }, stop: 1 } }],
    ['e-gradient-ld-top_right_from-red_to-blue_sp-0.5', { gradient: { angle: 45, from: { hex: 'FF0000' }, to: { hex: '0000FF' }, stop: 0.5 } }],
    ['e-gradient-ld-90', { gradient: { angle: 90 } }],
    ['e-gradient-sp-ih_div_2', { gradient: { stop: { kind: 'expr', tokens: ['ih', 'div', 2] } } }],
    ['cr-FF0000', { cr: { to: { hex: 'FF0000' }, tolerance: 35 } }],
    ['cr-red_20_blue', { cr: { to: { hex: 'FF0000' }, tolerance: 20, from: { hex: '0000FF' } } }],
    ['w-100,h-100,c-maintain_ratio_no_enlarge', { c: 'maintain_ratio_no_enlarge' }],
    ['w-100,h-100,cm-pad_resize_no_enlarge', { cm: 'pad_resize_no_enlarge' }],
  ])('%s', (tr, ops) => {
    expect(parseTransformation(tr).steps[0]).toMatchObject(ops);
  });

  it.each([
    ['e-gradient-ld-180_from-FFFFFF_to-00000000_sp-1', 'e-gradient'],
    ['cr-red_35', 'cr-FF0000_35'],
  ])('canonical: %s ≡ %s', (a, b) => {
    expect(canonicalTransformation(parseTransformation(a))).toBe(canonicalTransformation(parseTransformation(b)));
  });

  it.each<[string, RegExp]>([
    ['e-gradient-ld-400', /e-gradient ld: .*out of range/],
    ['e-gradient-ld-sideways', /e-gradient ld: expected degrees 0–359 or one of top/],
    ['e-gradient-foo-1', /e-gradient: expected ld-…, from-…, to-…, sp-…/],
    ['e-gradient-sp-0.995', /e-gradient sp: a fraction is 0.01–0.99/],
    ['e-gradient-from-nope', /e-gradient from: "nope" is not a colour/],
    ['cr-FF0000_101', /cr tolerance: .*out of range/],
    ['cr-FF0000_1_2_3', /cr: expected <to>/],
    ['bg-gradient_dominant_8', /bg: expected gradient_dominant, gradient_dominant_2 or gradient_dominant_4, got "gradient_dominant_8"/],
    ['pg-5-2', /pg: the range "5-2" ends before it starts/],
    ['pg-1_x', /pg: expected a page number from 1 to 10000, a range <first>-<last> or a list/],
  ])('%s is a 400 naming it', (tr, message) => {
    expect(() => parseTransformation(tr)).toThrow(message);
    expect(() => parseTransformation(tr)).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe('rendering', () => {
  it('gradientLine follows CSS: 180° runs top to bottom, 90° left to right', () => {
    const r = (l: ReturnType<typeof gradientLine>) => [l.x1, l.y1, l.x2, l.y2, l.length].map((v) => Math.round(v * 1000) / 1000 + 0);
    expect(r(gradientLine(180, 100, 50))).toEqual([50, 0, 50, 50, 50]);
    expect(r(gradientLine(90, 100, 50))).toEqual([0, 25, 100, 25, 100]);
  });

  it('e-gradient (default) whitens the top and leaves the bottom', async () => {
    const out = (await render(await solid(100, 100, { r: 0, g: 0, b: 0 }), 'e-gradient')).data;
    expect((await at(out, 50, 1))[0]).toBeGreaterThan(240);
    expect((await at(out, 50, 50))[0]).toBeGreaterThan(100);
    expect((await at(out, 50, 50))[0]).toBeLessThan(160);
    expect((await at(out, 50, 98))[0]).toBeLessThan(15);
  });

  it('e-gradient sp-0.5 reaches the "to" colour half-way', async () => {
    const out = (await render(await solid(100, 100, { r: 0, g: 0, b: 0 }), 'e-gradient-ld-90_from-FF0000_to-0000FF_sp-0.5')).data;
    expect(await at(out, 1, 50)).toEqual([expect.any(Number), 0, expect.any(Number), 255]);
    expect((await at(out, 1, 50))[0]).toBeGreaterThan(240);
    expect((await at(out, 60, 50))[2]).toBeGreaterThan(240);
    expect((await at(out, 95, 50))[2]).toBeGreaterThan(240);
  });

  it('cr replaces the colour near "from" and keeps the rest', async () => {
    const input = await sharp({ create: { width: 100, height: 50, channels: 3, background: { r: 0, g: 0, b: 250 } } })
      .composite([{ input: await solid(50, 50, { r: 0, g: 200, b: 0 }), left: 50, top: 0 }])
      .png()
      .toBuffer();
    const out = (await render(input, 'cr-FF0000_20_0000FF')).data;
    expect(await at(out, 10, 10)).toEqual([255, 0, 0, 255]); // 0,0,250 + (FF0000 − 0000FF), clamped
    expect(await at(out, 80, 10)).toEqual([0, 200, 0, 255]);
  });

  it('cr without "from" replaces the dominant colour', async () => {
    const input = await sharp({ create: { width: 100, height: 100, channels: 3, background: { r: 200, g: 200, b: 200 } } })
      .composite([{ input: await solid(20, 20, { r: 0, g: 0, b: 0 }), left: 0, top: 0 }])
      .png()
      .toBuffer();
    const out = (await render(input, 'cr-00FF00_10')).data;
    const p = await at(out, 60, 60);
    expect(p[1]).toBeGreaterThan(230);
    expect(p[0]).toBeLessThan(60);
    expect(await at(out, 5, 5)).toEqual([0, 0, 0, 255]);
  });

  it.each<[string, number, number]>([
    ['w-100,h-100,c-maintain_ratio_no_enlarge', 100, 100], // larger image: as maintain_ratio
    ['w-600,h-200,c-maintain_ratio_no_enlarge', 400, 200], // wider than the image: no upscale, the crop keeps the ratio
    ['w-800,h-600,c-maintain_ratio_no_enlarge', 400, 300], // larger box in both: the image as it is
    ['w-800,h-600,c-maintain_ratio', 800, 600],
  ])('%s → %i×%i', async (tr, w, h) => {
    const out = await render(await solid(400, 300, { r: 9, g: 9, b: 9 }), tr);
    expect([out.width, out.height]).toEqual([w, h]);
  });

  it('cm-pad_resize_no_enlarge pads a smaller image at its own size', async () => {
    const out = await render(await solid(100, 50, { r: 255, g: 0, b: 0 }), 'w-300,h-300,cm-pad_resize_no_enlarge,bg-0000FF');
    expect([out.width, out.height]).toEqual([300, 300]);
    expect(await at(out.data, 150, 150)).toEqual([255, 0, 0, 255]); // the image, centred, not scaled
    expect(await at(out.data, 150, 120)).toEqual([0, 0, 255, 255]); // 50 px tall: 125–174 only
  });

  it('cm-pad_resize_no_enlarge shrinks a larger image like pad_resize', async () => {
    const out = await render(await solid(600, 300, { r: 255, g: 0, b: 0 }), 'w-300,h-300,cm-pad_resize_no_enlarge,bg-0000FF');
    expect([out.width, out.height]).toEqual([300, 300]);
    expect(await at(out.data, 150, 60)).toEqual([0, 0, 255, 255]);
    expect(await at(out.data, 150, 150)).toEqual([255, 0, 0, 255]);
  });
});
