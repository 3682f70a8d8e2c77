/**
 * fo-face (a real detector: face-api's TinyFaceDetector on tfjs-wasm), z and fo-custom through the
 * real sharp pipeline. The face photo (test/fixtures/faces, public domain) is placed off-centre on
 * a larger pure-green canvas with a 6×6 magenta dot on the nose (hand-labelled); assertions read
 * pixels of the output: where the dot is, how large it is, whether canvas green got in.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { parseTransformation } from '../../shared/transform/index.js';
import { renderImage, type RenderOptions, type RenderResult } from '../../origin/src/pipeline/index.js';
import { detectFaces, focusRegion, unionBox } from '../../origin/src/pipeline/faces.js';

const FACE = readFileSync(new URL('../fixtures/faces/astronaut.png', import.meta.url));
/** Where the photo sits on the 1400×700 canvas (the centre square crop x 350–1050 misses the face), and the hand-labelled nose / face box in photo pixels. */
const AT = { left: 880, top: 90 };
const NOSE = { x: 222, y: 125 };
const FACE_BOX = { x: 180, y: 75, w: 85, h: 100 };

let scene: Buffer;
let noFaces: Buffer;
beforeAll(async () => {
  const dot = await sharp({ create: { width: 6, height: 6, channels: 3, background: { r: 255, g: 0, b: 255 } } }).png().toBuffer();
  const marked = await sharp(FACE).removeAlpha().composite([{ input: dot, left: NOSE.x - 3, top: NOSE.y - 3 }]).png().toBuffer();
  scene = await sharp({ create: { width: 1400, height: 700, channels: 3, background: { r: 0, g: 255, b: 0 } } })
    .composite([{ input: marked, ...AT }])
    .png()
    .toBuffer();
  // no face: a smooth two-colour gradient
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="500"><defs><linearGradient id="g"><stop offset="0" stop-color="#2040a0"/><stop offset="1" stop-color="#e0c040"/></linearGradient></defs><rect width="800" height="500" fill="url(#g)"/></svg>`;
  noFaces = await sharp(Buffer.from(svg)).png().toBuffer();
}, 60_000);

const render = (input: Buffer, tr: string, extra: Partial<RenderOptions> = {}) =>
  renderImage(input, parseTransformation(tr), { format: 'png', defaults: DEFAULT_ACCOUNT_DEFAULTS, ...extra });

async function stats(r: RenderResult) {
  const { data, info } = await sharp(r.data).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let magenta = 0;
  let green = 0;
  let [sx, sy] = [0, 0];
  for (let i = 0, p = 0; i < data.length; i += 3, p++) {
    const [R, G, B] = [data[i]!, data[i + 1]!, data[i + 2]!];
    if (R > 200 && G < 80 && B > 200) {
      magenta++;
      sx += p % info.width;
      sy += Math.floor(p / info.width);
    }
    if (G > 220 && R < 40 && B < 40) green++;
  }
  return { width: info.width, height: info.height, magenta, green, dot: magenta ? { x: sx / magenta / info.width, y: sy / magenta / info.height } : undefined };
}

describe('the face detector (face-api TinyFaceDetector, weights from the npm package, tfjs-wasm)', () => {
  it('finds the face in the photo where it was labelled by hand, and none in a gradient', async () => {
    const { data, info } = await sharp(FACE).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const found = await detectFaces(data, info.width, info.height, 60_000);
    expect(found.skipped).toBeUndefined();
    expect(found.faces).toHaveLength(1);
    const f = found.faces[0]!;
    // the detected box holds the labelled face centre and overlaps the labelled box by most of it
    const cx = FACE_BOX.x + FACE_BOX.w / 2;
    const cy = FACE_BOX.y + FACE_BOX.h / 2;
    expect(f.x).toBeLessThan(cx);
    expect(f.x + f.w).toBeGreaterThan(cx);
    expect(f.y).toBeLessThan(cy);
    expect(f.y + f.h).toBeGreaterThan(cy);
    const ix = Math.min(f.x + f.w, FACE_BOX.x + FACE_BOX.w) - Math.max(f.x, FACE_BOX.x);
    const iy = Math.min(f.y + f.h, FACE_BOX.y + FACE_BOX.h) - Math.max(f.y, FACE_BOX.y);
    expect((ix * iy) / (FACE_BOX.w * FACE_BOX.h)).toBeGreaterThan(0.7);
    expect(f.w * f.h).toBeLessThan(4 * FACE_BOX.w * FACE_BOX.h);

    const plain = await sharp(noFaces).removeAlpha().resize(512).raw().toBuffer({ resolveWithObject: true });
    expect((await detectFaces(plain.data, plain.info.width, plain.info.height, 60_000)).faces).toEqual([]);
  }, 60_000);

  it('answers a second identical probe from its cache', async () => {
    const { data, info } = await sharp(FACE).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    await detectFaces(data, info.width, info.height, 60_000);
    const again = await detectFaces(data, info.width, info.height, 60_000);
    expect(again.cached).toBe(true);
    expect(again.faces).toHaveLength(1);
  }, 60_000);
});

describe('focusRegion (pure)', () => {
  it.each([
    // focus box, image, aspect, zoom → region
    ['square output around a tall box', { x: 100, y: 100, w: 50, h: 100 }, [1000, 1000], 1, 1, { x: 75, y: 100, w: 100, h: 100 }],
    ['zoom out doubles it', { x: 100, y: 100, w: 50, h: 100 }, [1000, 1000], 1, 0.5, { x: 25, y: 50, w: 200, h: 200 }],
    ['zoom in halves it', { x: 100, y: 100, w: 50, h: 100 }, [1000, 1000], 1, 2, { x: 100, y: 125, w: 50, h: 50 }],
    ['kept inside the image', { x: 0, y: 0, w: 40, h: 40 }, [1000, 1000], 1, 0.5, { x: 0, y: 0, w: 80, h: 80 }],
    ['shrunk to fit, aspect kept', { x: 400, y: 100, w: 200, h: 100 }, [1000, 300], 2, 0.25, { x: 200, y: 0, w: 600, h: 300 }],
    ['no aspect: the box itself', { x: 10, y: 20, w: 30, h: 40 }, [100, 100], undefined, 1, { x: 10, y: 20, w: 30, h: 40 }],
  ] as const)('%s', (_t, box, [cw, ch], aspect, zoom, want) => {
    expect(focusRegion(box, cw, ch, aspect, zoom)).toEqual(want);
  });
  it('unionBox holds every face', () => {
    expect(unionBox([{ x: 10, y: 10, w: 10, h: 10 }, { x: 50, y: 5, w: 10, h: 30 }])).toEqual({ x: 10, y: 5, w: 50, h: 30 });
    expect(unionBox([])).toBeUndefined();
  });
});

describe('renderImage: fo-face, z, fo-custom', () => {
  it('w-200,h-200,fo-face crops around the face (nose near the centre, no canvas); fo-center misses it', async () => {
    const face = await stats(await render(scene, 'w-200,h-200,fo-face'));
    expect([face.width, face.height]).toEqual([200, 200]);
    expect(face.magenta).toBeGreaterThan(0);
    expect(Math.abs(face.dot!.x - 0.5)).toBeLessThan(0.2);
    expect(Math.abs(face.dot!.y - 0.5)).toBeLessThan(0.25);
    expect(face.green / (200 * 200)).toBeLessThan(0.02);
    const centre = await stats(await render(scene, 'w-200,h-200'));
    expect(centre.magenta).toBe(0);
  }, 60_000);

  it('z-0.5 keeps more around the face (smaller dot), z-2 crops into it (larger dot)', async () => {
    const z1 = await stats(await render(scene, 'w-200,h-200,fo-face'));
    const out = await stats(await render(scene, 'w-200,h-200,fo-face,z-0.5'));
    const inn = await stats(await render(scene, 'w-200,h-200,fo-face,z-2'));
    expect(out.magenta).toBeGreaterThan(0);
    expect(inn.magenta).toBeGreaterThan(0);
    expect(out.magenta).toBeLessThan(z1.magenta * 0.5);
    expect(inn.magenta).toBeGreaterThan(z1.magenta * 2);
  }, 60_000);

  it('fo-face without a size crops to the face box; cm-extract centres its region on the face', async () => {
    const tight = await stats(await render(scene, 'fo-face'));
    expect(tight.width).toBeLessThan(300);
    expect(tight.width).toBeGreaterThan(60);
    expect(tight.magenta).toBeGreaterThan(0);
    expect(tight.green).toBe(0);
    const ex = await stats(await render(scene, 'w-150,h-150,cm-extract,fo-face'));
    expect([ex.width, ex.height]).toEqual([150, 150]);
    expect(Math.abs(ex.dot!.x - 0.5)).toBeLessThan(0.15);
    expect(Math.abs(ex.dot!.y - 0.5)).toBeLessThan(0.2);
  }, 60_000);

  it('an image without faces falls back to the centre (the same pixels as fo-center); detection time is counted', async () => {
    const a = await render(noFaces, 'w-120,h-120,fo-face');
    const b = await render(noFaces, 'w-120,h-120');
    const [pa, pb] = await Promise.all([a, b].map((r) => sharp(r.data).raw().toBuffer()));
    let diff = 0;
    for (let i = 0; i < pa!.length; i++) diff += Math.abs(pa![i]! - pb![i]!);
    expect(diff / pa!.length).toBeLessThan(0.5);
    const unchanged = await render(noFaces, 'fo-face');
    expect([unchanged.width, unchanged.height]).toEqual([800, 500]);
    const fresh = await render(await sharp(noFaces).rotate(180).png().toBuffer(), 'w-100,h-100,fo-face');
    expect(fresh.layers?.faceDetections).toBe(1);
    expect(fresh.layers?.faceMs).toBeGreaterThan(0);
  }, 60_000);

  describe('z with the extract modes: the (w÷z)×(h÷z) region around the focus point, scaled to w×h', () => {
    // blue 400×300, a red 40×40 block at (300,200): the custom area
    const AREA = { x: 300, y: 200, w: 40, h: 40 };
    let blocky: Buffer;
    beforeAll(async () => {
      blocky = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#0000ff' } })
        .composite([{ input: { create: { width: 40, height: 40, channels: 3, background: '#ff0000' } }, left: 300, top: 200 }])
        .png()
        .toBuffer();
    });
    const redShare = async (r: RenderResult) => {
      const { data } = await sharp(r.data).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      let red = 0;
      for (let i = 0; i < data.length; i += 3) if (data[i]! > 180 && data[i + 2]! < 80) red++;
      return red / (data.length / 3);
    };

    it.each<[string, number, number]>([
      // tr, red share from, to (the region 80/z around the block's centre, kept inside the image)
      ['w-80,h-80,cm-extract,fo-custom,z-2', 0.9, 1], // a 40×40 region: the block alone, shown twice as large
      ['w-80,h-80,cm-extract,fo-custom', 0.2, 0.3], // 80×80: the block is a quarter
      ['w-80,h-80,cm-extract,fo-custom,z-0.5', 0.04, 0.09], // 160×160 (kept inside): a sixteenth
      ['w-80,h-80,cm-pad_extract,fo-custom,z-2', 0.9, 1],
      ['w-80,h-80,cm-extract,z-2', 0, 0.01], // no focus point: z has no effect (the centre, no red)
    ])('%s: 80×80 with a red share in [%s, %s]', async (tr, lo, hi) => {
      const r = await render(blocky, tr, { focusArea: AREA });
      expect([r.width, r.height]).toEqual([80, 80]);
      const share = await redShare(r);
      expect(share).toBeGreaterThanOrEqual(lo);
      expect(share).toBeLessThanOrEqual(hi);
    });

    it('cm-extract,fo-face,z-2 zooms into the face: a larger face dot than z-1 at the same output size', async () => {
      const z1 = await stats(await render(scene, 'w-150,h-150,cm-extract,fo-face'));
      const z2 = await stats(await render(scene, 'w-150,h-150,cm-extract,fo-face,z-2'));
      expect([z2.width, z2.height]).toEqual([150, 150]);
      expect(z2.magenta).toBeGreaterThan(z1.magenta * 2);
      expect(Math.abs(z2.dot!.x - 0.5)).toBeLessThan(0.2);
    }, 60_000);
  });

  it('fo-custom crops to the saved custom area (scaled with the image); without one it is the centre', async () => {
    const area = { x: AT.left + FACE_BOX.x, y: AT.top + FACE_BOX.y, w: FACE_BOX.w, h: FACE_BOX.h };
    const tight = await stats(await render(scene, 'fo-custom', { focusArea: area }));
    expect([tight.width, tight.height]).toEqual([FACE_BOX.w, FACE_BOX.h]);
    expect(tight.magenta).toBeGreaterThan(0);
    // after a first step halves the image, the area is found at half the coordinates
    const chained = await stats(await render(scene, 'w-800:w-100,h-100,fo-custom', { focusArea: area }));
    expect(chained.magenta).toBeGreaterThan(0);
    expect(chained.green).toBe(0);
    const none = await stats(await render(scene, 'w-200,h-200,fo-custom'));
    expect(none.magenta).toBe(0);
  }, 60_000);
});
