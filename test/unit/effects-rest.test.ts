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
    ['e-distort-a-45', { distort: { arc: 45 } }],
    ['e-distort-a-N120', { distort: { arc: -120 } }],
    ['e-distort-a-360', { distort: { arc: 360 } }],
  ])('%s', (tr, ops) => {
    expect(parseTransformation(tr).steps[0]).toMatchObject(ops);
  });

  it.each([
    ['e-colorize-co-808080_in-100', 'e-colorize'],
    ['e-colorize-in-50_co-red', 'e-colorize-co-FF0000_in-50'],
    ['e-distort-a-N30.0', 'e-distort-a-N30'],
  ])('canonical: %s ≡ %s', (a, b) => {
    expect(canonicalTransformation(parseTransformation(a))).toBe(canonicalTransformation(parseTransformation(b)));
  });

  it.each<[string, RegExp]>([
    ['e-colorize-in-101', /e-colorize in: .*out of range/],
    ['e-colorize-co-nope', /e-colorize co: "nope" is not a colour/],
    ['e-colorize-xx-1', /e-colorize: expected co-…, in-…/],
    ['e-distort-a-0', /e-distort a: 0 degrees is no arc/],
    ['e-distort-a-361', /e-distort a: "361" is out of range/],
    ['e-distort-a-N400', /e-distort a: "N400" is out of range/],
    ['e-distort-a-abc', /e-distort a: expected degrees from 1 to 360/],
    ['e-distort-q-30', /e-distort: expected p-<x1>_.* or a-<degrees>/],
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

describe('e-distort (arc)', () => {
  /** 200×50: top half red, bottom half blue; left and right halves told apart by green in the top-right quarter. */
  const banner = () =>
    sharp({ create: { width: 200, height: 50, channels: 3, background: { r: 0, g: 0, b: 255 } } })
      .composite([
        { input: { create: { width: 100, height: 25, channels: 3, background: { r: 255, g: 0, b: 0 } } }, left: 0, top: 0 },
        { input: { create: { width: 100, height: 25, channels: 3, background: { r: 0, g: 255, b: 0 } } }, left: 100, top: 0 },
      ])
      .png()
      .toBuffer();
  /** The opaque rows of one column (first, last), or undefined when the column is all transparent. */
  async function opaqueRows(buf: Buffer, x: number): Promise<[number, number] | undefined> {
    const { data, info } = await sharp(buf).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const rows: number[] = [];
    for (let y = 0; y < info.height; y++) if (data[(y * info.width + x) * 4 + 3]! > 200) rows.push(y);
    return rows.length ? [rows[0]!, rows[rows.length - 1]!] : undefined;
  }
  async function opaqueArea(buf: Buffer): Promise<number> {
    const { data } = await sharp(buf).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    let sum = 0;
    for (let i = 3; i < data.length; i += 4) sum += data[i]! / 255;
    return sum;
  }

  it.each([30, 90, 180, -90])('a-%s keeps the area (the centre line keeps its length): opaque pixels ≈ 200×50', async (deg) => {
    const out = await render(await banner(), `e-distort-a-${deg < 0 ? `N${-deg}` : deg}`);
    expect(Math.abs((await opaqueArea(out.data)) - 200 * 50) / (200 * 50)).toBeLessThan(0.03);
  });

  const centre = (rows: [number, number]) => (rows[0] + rows[1]) / 2;

  it('a-90 bends upwards (∩): the middle column is high in the canvas, the ends lower; the top edge stays on top', async () => {
    const out = await render(await banner(), 'e-distort-a-90');
    expect(out.height).toBeGreaterThan(50); // the bend needs more height than the flat banner
    const mid = (await opaqueRows(out.data, Math.floor(out.width / 2)))!;
    const end = (await opaqueRows(out.data, 12))!;
    expect(mid[0]).toBeLessThan(2); // touches the top
    expect(mid[1]).toBeLessThan(out.height - 10); // not the bottom
    expect(centre(end)).toBeGreaterThan(centre(mid) + 10); // the ends come down
    // colours: top half on top (red left of the middle, green right of it), blue below
    expect(await at(out.data, Math.floor(out.width / 2) - 5, mid[0] + 3)).toEqual([255, 0, 0, 255]);
    expect(await at(out.data, Math.floor(out.width / 2) + 5, mid[0] + 3)).toEqual([0, 255, 0, 255]);
    expect(await at(out.data, Math.floor(out.width / 2), mid[1] - 3)).toEqual([0, 0, 255, 255]);
  });

  it('a-N90 bends downwards (∪): the mirror image of a-90 top to bottom, with the picture upright', async () => {
    const up = await render(await banner(), 'e-distort-a-90');
    const down = await render(await banner(), 'e-distort-a-N90');
    expect([down.width, down.height]).toEqual([up.width, up.height]);
    const mid = (await opaqueRows(down.data, Math.floor(down.width / 2)))!;
    const end = (await opaqueRows(down.data, 12))!;
    expect(mid[1]).toBeGreaterThan(down.height - 3); // the middle touches the bottom
    expect(mid[0]).toBeGreaterThan(10);
    expect(centre(end)).toBeLessThan(centre(mid) - 10); // the ends go up
    expect(await at(down.data, Math.floor(down.width / 2) - 5, mid[0] + 3)).toEqual([255, 0, 0, 255]);
    expect(await at(down.data, Math.floor(down.width / 2) + 5, mid[0] + 3)).toEqual([0, 255, 0, 255]);
    expect(await at(down.data, Math.floor(down.width / 2), mid[1] - 3)).toEqual([0, 0, 255, 255]);
  });

  it('a-360 wraps the image into a ring: a square canvas, a hole in the middle, opaque around it', async () => {
    const out = await render(await banner(), 'e-distort-a-360');
    expect(Math.abs(out.width - out.height)).toBeLessThanOrEqual(1);
    const c = Math.floor(out.width / 2);
    expect((await at(out.data, c, c))[3]).toBe(0);
    const ring = (await opaqueRows(out.data, c))!;
    expect(ring[0]).toBeLessThan(2);
    expect(ring[1]).toBeGreaterThan(out.height - 3);
  });

  it('a larger angle bends more: a-30 is flatter (less tall) than a-120', async () => {
    const flat = await render(await banner(), 'e-distort-a-30');
    const bent = await render(await banner(), 'e-distort-a-120');
    expect(flat.height).toBeLessThan(bent.height);
    expect(flat.width).toBeGreaterThan(bent.width);
  });
});

describe('bg-gradient_dominant[_2|_4] (pad modes)', () => {
  /** Two halves of different colours, split along the given axis. */
  const halves = (w: number, h: number, vertical: boolean, a: { r: number; g: number; b: number }, b: { r: number; g: number; b: number }) =>
    sharp({ create: { width: w, height: h, channels: 3, background: b } })
      .composite([{ input: { create: { width: vertical ? w : w / 2, height: vertical ? h / 2 : h, channels: 3, background: a } }, left: 0, top: 0 }])
      .png()
      .toBuffer();
  const RED = { r: 255, g: 0, b: 0 };
  const BLUE = { r: 0, g: 0, b: 255 };
  const GREEN = { r: 0, g: 255, b: 0 };
  const near = (p: number[], c: { r: number; g: number; b: number }, tol = 40) => Math.abs(p[0]! - c.r) < tol && Math.abs(p[1]! - c.g) < tol && Math.abs(p[2]! - c.b) < tol;

  it.each<[string, Record<string, unknown>]>([
    ['w-100,h-100,cm-pad_resize,bg-gradient_dominant', { bg: { kind: 'gradient', colors: 2 } }],
    ['w-100,h-100,cm-pad_resize,bg-gradient_dominant_2', { bg: { kind: 'gradient', colors: 2 } }],
    ['w-100,h-100,cm-pad_resize,bg-gradient_dominant_4', { bg: { kind: 'gradient', colors: 4 } }],
  ])('parses %s', (tr, ops) => {
    expect(parseTransformation(tr).steps[0]).toMatchObject(ops);
  });

  it('gradient_dominant_2 is the canonical gradient_dominant; _4 is its own key', () => {
    const key = (tr: string) => canonicalTransformation(parseTransformation(tr));
    expect(key('bg-gradient_dominant_2')).toBe(key('bg-gradient_dominant'));
    expect(key('bg-gradient_dominant_4')).not.toBe(key('bg-gradient_dominant'));
  });

  it.each(['bg-gradient_dominant_3', 'bg-gradient', 'bg-gradient_dominant_2_4'])('%s is a 400 naming bg', (tr) => {
    expect(() => parseTransformation(tr)).toThrow(/bg: expected gradient_dominant, gradient_dominant_2 or gradient_dominant_4/);
  });

  it.each<[string, boolean, [number, number], [number, number], [number, number]]>([
    // tr, image halves split top/bottom?, a pixel at the first colour's edge, one at the second's, one in the padding a third of the way
    ['w-200,h-300,cm-pad_resize,bg-gradient_dominant', true, [100, 2], [100, 297], [100, 99]], // padded above and below
    ['w-400,h-400,cm-pad_resize_no_enlarge,bg-gradient_dominant', true, [200, 2], [200, 397], [200, 149]],
    ['w-300,h-300,cm-pad_extract,bg-gradient_dominant', true, [150, 2], [150, 297], [150, 99]], // more padding above/below than beside
    ['w-600,h-100,cm-pad_resize,bg-gradient_dominant_2', false, [2, 50], [597, 50], [199, 50]], // padded beside
  ])('%s: the padding runs from the dominant colour of the half facing one side to the other', async (tr, vertical, first, second, between) => {
    const input = vertical ? await halves(200, 100, true, RED, BLUE) : await halves(200, 100, false, GREEN, BLUE);
    const out = await render(input, tr);
    const a = vertical ? RED : GREEN;
    expect(near(await at(out.data, ...first), a)).toBe(true);
    expect(near(await at(out.data, ...second), BLUE)).toBe(true);
    const m = await at(out.data, ...between);
    const [ca, cb] = [vertical ? m[0]! : m[1]!, m[2]!];
    expect(ca).toBeGreaterThan(40); // a third of the way: still more of the first colour, some of the second
    expect(ca).toBeLessThan(215);
    expect(cb).toBeGreaterThan(40);
    expect(cb).toBeLessThan(ca);
  });

  it('gradient_dominant_4 pins each quarter\'s dominant colour at its corner of the canvas', async () => {
    const quarters = await sharp({ create: { width: 200, height: 200, channels: 3, background: { r: 255, g: 255, b: 255 } } })
      .composite([
        { input: { create: { width: 100, height: 100, channels: 3, background: RED } }, left: 0, top: 0 },
        { input: { create: { width: 100, height: 100, channels: 3, background: GREEN } }, left: 100, top: 0 },
        { input: { create: { width: 100, height: 100, channels: 3, background: BLUE } }, left: 0, top: 100 },
      ])
      .png()
      .toBuffer();
    const out = await render(quarters, 'w-600,h-200,cm-pad_resize,bg-gradient_dominant_4');
    expect([out.width, out.height]).toEqual([600, 200]);
    expect(near(await at(out.data, 0, 0), RED)).toBe(true);
    expect(near(await at(out.data, 599, 0), GREEN)).toBe(true);
    expect(near(await at(out.data, 0, 199), BLUE)).toBe(true);
    expect(near(await at(out.data, 599, 199), { r: 255, g: 255, b: 255 })).toBe(true);
    // the image itself is untouched in the middle
    expect(near(await at(out.data, 250, 50), RED, 5)).toBe(true);
    expect(near(await at(out.data, 350, 150), { r: 255, g: 255, b: 255 }, 5)).toBe(true);
  });

  it('without padding it changes nothing (the image fills the box)', async () => {
    const input = await halves(200, 100, true, RED, BLUE);
    const out = await render(input, 'w-200,h-100,cm-pad_resize,bg-gradient_dominant');
    expect(near(await at(out.data, 100, 2), RED, 5)).toBe(true);
    expect(near(await at(out.data, 100, 97), BLUE, 5)).toBe(true);
  });
});

describe('pg: one page, ranges (pg-2-4) and lists (pg-1_3_5)', () => {
  const COLOURS: [number, number, number][] = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [255, 255, 0],
  ];
  const frames = () => Promise.all(COLOURS.map(([r, g, b]) => sharp({ create: { width: 40, height: 30, channels: 3, background: { r, g, b } } }).png().toBuffer()));
  const gif = async () => sharp(await frames(), { join: { animated: true } }).gif({ delay: [100, 200, 300, 400], loop: 0 }).toBuffer();
  const tiff = async () => sharp(await frames(), { join: { animated: true } }).tiff().toBuffer();
  /** The centre colour of every frame of an output (pixel statistics per page). */
  async function frameColours(buf: Buffer): Promise<[number, number, number][]> {
    const { pages = 1 } = await sharp(buf).metadata();
    return Promise.all(
      Array.from({ length: pages }, async (_, page) => {
        const { channels } = await sharp(buf, { page }).stats();
        return [channels[0]!.mean, channels[1]!.mean, channels[2]!.mean].map(Math.round) as [number, number, number];
      }),
    );
  }
  const close = (got: [number, number, number][], want: [number, number, number][]) =>
    got.length === want.length && got.every((c, i) => c.every((v, k) => Math.abs(v - want[i]![k]!) < 12));

  it.each<[string, number | number[]]>([
    ['pg-2', 2],
    ['pg-2-4', [2, 3, 4]],
    ['pg-1_3_5', [1, 3, 5]],
    ['pg-4_2', [4, 2]],
    ['pg-3-3', 3],
  ])('parses %s', (tr, page) => {
    expect(parseTransformation(tr).page).toEqual(page);
  });

  it.each([
    ['pg-2_3_4', 'pg-2-4'],
    ['pg-7_7', 'pg-7_7'],
  ])('canonical: %s ≡ %s', (a, b) => {
    expect(canonicalTransformation(parseTransformation(a))).toBe(canonicalTransformation(parseTransformation(b)));
  });

  it.each<[string, RegExp]>([
    ['pg-4-2', /pg: the range "4-2" ends before it starts/],
    ['pg-1-2000', /pg: the range "1-2000" selects 2000 pages; at most 1000/],
    ['pg-name-"layer"', /pg: named layers .* are PSD layers/],
    ['pg-0', /pg: "0" is out of range/],
    ['pg-1-3_5', /pg: expected a page number from 1 to 10000, a range <first>-<last> or a list/],
  ])('%s is a 400 naming pg', (tr, message) => {
    expect(() => parseTransformation(tr)).toThrow(message);
    expect(() => parseTransformation(tr)).toThrow(expect.objectContaining({ status: 400 }));
  });

  it.each<[string, 'gif' | 'tiff', NegotiatedFormat, number[]]>([
    // tr, original, output format, the pages (1-based) expected as frames
    ['pg-2-3', 'gif', 'gif', [2, 3]],
    ['pg-4_1', 'gif', 'webp', [4, 1]],
    ['pg-2-3', 'gif', 'source', [2, 3]], // the GIF's own format animates
    ['pg-1_3_4', 'tiff', 'webp', [1, 3, 4]], // TIFF pages become an animated WebP
    ['pg-2-4', 'tiff', 'png', [2]], // PNG cannot animate: the first selected page
    ['pg-3_1', 'gif', 'jpeg', [3]],
    ['pg-2', 'gif', 'gif', [2]], // one page: a still, even in an animating format
  ])('%s of a 4-page %s as %s → frames %j', async (tr, kind, format, pages) => {
    const out = await render(kind === 'gif' ? await gif() : await tiff(), `w-20,${tr}`, format);
    expect(out.frames).toBe(pages.length);
    expect(out.width).toBe(20);
    expect(close(await frameColours(out.data), pages.map((p) => COLOURS[p - 1]!))).toBe(true);
  });

  it("an animation of selected frames keeps those frames' delays", async () => {
    const out = await render(await gif(), 'pg-4_2', 'gif');
    expect((await sharp(out.data).metadata()).delay).toEqual([400, 200]);
  });

  it('a page beyond the original is a 400 naming it', async () => {
    await expect(render(await gif(), 'pg-3_9', 'gif')).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/pg: page 9 does not exist, the original has 4 pages/) });
  });
});
