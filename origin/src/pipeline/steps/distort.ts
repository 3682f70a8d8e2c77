/**
 * Step "distort". Both forms map every output pixel back to a source position (an inverse map)
 * and sample it bilinearly (`remap`); output pixels that map outside the image are transparent.
 *
 * - Perspective (`e-distort-p-x1_y1_x2_y2_x3_y3_x4_y4`): the image's corners (clockwise from the
 *   top-left) move to the four points on a canvas of the image's size; the inverse map is the
 *   homography from those points back to the corners.
 * - Arc (`e-distort-a-<degrees>`, ImageKit / ImageMagick "arc"): the image is bent around a circle
 *   over `|degrees|`: its horizontal centre line becomes an arc of radius width ÷ angle (so the
 *   centre line keeps its length), its top and bottom edges arcs half the height outside/inside
 *   it. Positive degrees bend it upwards (the middle highest, ∩: the top edge on the outer arc),
 *   negative downwards (∪: the circle's centre above, the top edge on the inner arc). The output
 *   is the bounding box of the bent shape (so its size changes), transparent outside it.
 */
import sharp from 'sharp';
import { badTransformation } from '../../../../shared/errors.js';
import { budget, checkOutputSize, exactDims, materialise, type RenderState } from '../context.js';

const MAX_PIXELS = 25_000_000;

/** The 3×3 homography (row-major, h33 = 1) taking each `from` point to its `to` point; undefined when degenerate. Pure. */
export function homography(from: readonly number[], to: readonly number[]): number[] | undefined {
  // 8 equations a·x = b for h11..h32
  const a: number[][] = [];
  const b: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y, u, v] = [from[2 * i]!, from[2 * i + 1]!, to[2 * i]!, to[2 * i + 1]!];
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    b.push(u);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    b.push(v);
  }
  // Gaussian elimination with partial pivoting
  for (let c = 0; c < 8; c++) {
    let p = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    if (Math.abs(a[p]![c]!) < 1e-12) return undefined;
    [a[c], a[p]] = [a[p]!, a[c]!];
    [b[c], b[p]] = [b[p]!, b[c]!];
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / a[c]![c]!;
      for (let k = c; k < 8; k++) a[r]![k]! -= f * a[c]![k]!;
      b[r]! -= f * b[c]!;
    }
  }
  return [...b.map((v, i) => v / a[i]![i]!), 1];
}

/** Inverse map: output pixel centre (x + 0.5, y + 0.5) → source position in pixel-centre coordinates, or undefined (transparent). */
type InverseMap = (cx: number, cy: number) => [number, number] | undefined;

/** An output canvas of `ow`×`oh` RGBA pixels, each sampled bilinearly from `src` (RGBA, w×h) through `map`. */
export function remap(src: Buffer, w: number, h: number, ow: number, oh: number, map: InverseMap): Buffer {
  const out = Buffer.alloc(ow * oh * 4);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const at = map(x + 0.5, y + 0.5);
      if (!at) continue;
      const sx = at[0] - 0.5;
      const sy = at[1] - 0.5;
      if (!(sx > -0.5 && sy > -0.5 && sx < w - 0.5 && sy < h - 0.5)) continue;
      const x0 = Math.max(0, Math.floor(sx));
      const y0 = Math.max(0, Math.floor(sy));
      const x1 = Math.min(w - 1, x0 + 1);
      const y1 = Math.min(h - 1, y0 + 1);
      const fx = Math.min(1, Math.max(0, sx - x0));
      const fy = Math.min(1, Math.max(0, sy - y0));
      const o = (y * ow + x) * 4;
      for (let k = 0; k < 4; k++) {
        const top = src[(y0 * w + x0) * 4 + k]! * (1 - fx) + src[(y0 * w + x1) * 4 + k]! * fx;
        const bot = src[(y1 * w + x0) * 4 + k]! * (1 - fx) + src[(y1 * w + x1) * 4 + k]! * fx;
        out[o + k] = Math.round(top * (1 - fy) + bot * fy);
      }
    }
  }
  return out;
}

export interface ArcGeometry {
  /** Output size (the bent shape's bounding box). */
  width: number;
  height: number;
  map: InverseMap;
}

/**
 * The arc's output size and inverse map for a `w`×`h` image bent over `degrees` (−360…360, not 0). Pure.
 * In the circle's frame (origin at its centre, `up` towards the image's outer edge for ∩), a point
 * at radius r and angle φ from the vertical (−θ/2…θ/2, left to right) comes from source column
 * (φ + θ/2) ÷ θ × w and row (outer radius − r) for ∩, (r − inner radius) for ∪.
 */
export function arcGeometry(w: number, h: number, degrees: number): ArcGeometry {
  const theta = (Math.abs(degrees) * Math.PI) / 180;
  const mid = w / theta; // the centre line's radius: its length stays w
  const outer = mid + h / 2;
  const inner = Math.max(0, mid - h / 2);
  const half = theta / 2;
  // bounding box of the annular sector, in the frame with "up" towards φ = 0
  const xMax = half >= Math.PI / 2 ? outer : outer * Math.sin(half);
  const yTop = outer;
  const yBottom = half >= Math.PI ? -outer : Math.min(inner * Math.cos(half), outer * Math.cos(half));
  const width = Math.max(1, Math.ceil(2 * xMax - 1e-9));
  const height = Math.max(1, Math.ceil(yTop - yBottom - 1e-9));
  const up = degrees > 0; // ∩: the circle's centre below the image
  const map: InverseMap = (cx, cy) => {
    const dx = cx - width / 2;
    // distance along "up" from the circle's centre
    const du = up ? yTop - cy : cy - (height - yTop);
    const r = Math.hypot(dx, du);
    if (r > outer || r < inner) return undefined;
    const phi = Math.atan2(dx, du);
    if (phi < -half || phi > half) return undefined;
    // ∪ is ∩ mirrored top to bottom: left stays left, the top edge is the inner arc
    const u = ((phi + half) / theta) * w;
    const v = up ? outer - r : r - (outer - h);
    return [u, v];
  };
  return { width, height, map };
}

export async function distort(ctx: RenderState): Promise<void> {
  const d = ctx.ops.distort;
  if (!d) return;
  const { width: w, height: h } = await exactDims(ctx);
  if (w * h > MAX_PIXELS) throw badTransformation(`e-distort: the image is ${w}×${h} at that step; at most ${MAX_PIXELS / 1e6} MP (resize first)`);
  let ow = w;
  let oh = h;
  let map: InverseMap;
  if ('arc' in d) {
    const arc = arcGeometry(w, h, d.arc);
    if (arc.width * arc.height > MAX_PIXELS) throw badTransformation(`e-distort: the arc would be ${arc.width}×${arc.height}; at most ${MAX_PIXELS / 1e6} MP (resize first)`);
    checkOutputSize(ctx.config, arc.width, arc.height, 'e-distort');
    [ow, oh, map] = [arc.width, arc.height, arc.map];
  } else {
    // canvas pixel → source pixel: the homography from the target corners to the image's corners
    const inv = homography(d.corners, [0, 0, w, 0, w, h, 0, h]);
    if (!inv) throw badTransformation('e-distort: the four points do not form a quadrilateral (three of them are on one line)');
    const [a, b, c, e, f, g, p, q] = inv as [number, number, number, number, number, number, number, number];
    map = (cx, cy) => {
      const den = p * cx + q * cy + 1;
      return [(a * cx + b * cy + c) / den, (e * cx + f * cy + g) / den];
    };
  }
  await materialise(ctx);
  const { data: src } = await ctx.img.ensureAlpha().timeout(budget(ctx)).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  ctx.img = sharp(remap(src, w, h, ow, oh, map), { raw: { width: ow, height: oh, channels: 4 } });
  ctx.width = ow;
  ctx.height = oh;
  ctx.dimsKnown = true;
  ctx.hasAlpha = true;
  ctx.phase = -1;
}
