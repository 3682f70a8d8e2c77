/**
 * Step "distort" (`e-distort-p-x1_y1_x2_y2_x3_y3_x4_y4`): perspective. The image's corners
 * (clockwise from the top-left) move to the four points on a canvas of the image's size; every
 * canvas pixel is mapped back through the inverse homography and sampled bilinearly; pixels
 * outside the quadrilateral are transparent.
 */
import sharp from 'sharp';
import { badTransformation } from '../../../../shared/errors.js';
import { budget, exactDims, materialise, type RenderState } from '../context.js';

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

export async function distort(ctx: RenderState): Promise<void> {
  const d = ctx.ops.distort;
  if (!d) return;
  const { width: w, height: h } = await exactDims(ctx);
  if (w * h > MAX_PIXELS) throw badTransformation(`e-distort: the image is ${w}×${h} at that step; at most ${MAX_PIXELS / 1e6} MP (resize first)`);
  // canvas pixel → source pixel: the homography from the target corners to the image's corners
  const inv = homography(d.corners, [0, 0, w, 0, w, h, 0, h]);
  if (!inv) throw badTransformation('e-distort: the four points do not form a quadrilateral (three of them are on one line)');
  await materialise(ctx);
  const { data: src } = await ctx.img.ensureAlpha().timeout(budget(ctx)).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const out = Buffer.alloc(w * h * 4);
  const [a, b, c, e, f, g, p, q] = inv as [number, number, number, number, number, number, number, number];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const cx = x + 0.5;
      const cy = y + 0.5;
      const den = p * cx + q * cy + 1;
      const sx = (a * cx + b * cy + c) / den - 0.5;
      const sy = (e * cx + f * cy + g) / den - 0.5;
      if (!(sx > -0.5 && sy > -0.5 && sx < w - 0.5 && sy < h - 0.5)) continue;
      const x0 = Math.max(0, Math.floor(sx));
      const y0 = Math.max(0, Math.floor(sy));
      const x1 = Math.min(w - 1, x0 + 1);
      const y1 = Math.min(h - 1, y0 + 1);
      const fx = Math.min(1, Math.max(0, sx - x0));
      const fy = Math.min(1, Math.max(0, sy - y0));
      const o = (y * w + x) * 4;
      for (let k = 0; k < 4; k++) {
        const top = src[(y0 * w + x0) * 4 + k]! * (1 - fx) + src[(y0 * w + x1) * 4 + k]! * fx;
        const bot = src[(y1 * w + x0) * 4 + k]! * (1 - fx) + src[(y1 * w + x1) * 4 + k]! * fx;
        out[o + k] = Math.round(top * (1 - fy) + bot * fy);
      }
    }
  }
  ctx.img = sharp(out, { raw: { width: w, height: h, channels: 4 } });
  ctx.hasAlpha = true;
  ctx.phase = -1;
}
