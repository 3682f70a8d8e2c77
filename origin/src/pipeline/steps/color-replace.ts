/**
 * Step "colour replace" (`cr-<to>[_<tolerance>[_<from>]]`): pixels near `from` (default: the
 * dominant colour) are moved to `to`, keeping their difference from `from` (shading survives).
 */
import sharp from 'sharp';
import type { Color } from '../../../../shared/transform/index.js';
import { budget, materialise, type RenderState } from '../context.js';

const DIAGONAL = Math.sqrt(3 * 255 * 255);

/** Replace in place; `channels` 3 or 4 (alpha kept). Pure on the buffer. */
export function replaceColour(data: Buffer, channels: number, from: Color, to: Color, tolerance: number): number {
  const limit = (tolerance / 100) * DIAGONAL;
  const limit2 = limit * limit;
  const [dr, dg, db] = [to.r - from.r, to.g - from.g, to.b - from.b];
  let n = 0;
  for (let i = 0; i + 2 < data.length; i += channels) {
    const r = data[i]! - from.r;
    const g = data[i + 1]! - from.g;
    const b = data[i + 2]! - from.b;
    if (r * r + g * g + b * b > limit2) continue;
    data[i] = Math.max(0, Math.min(255, data[i]! + dr));
    data[i + 1] = Math.max(0, Math.min(255, data[i + 1]! + dg));
    data[i + 2] = Math.max(0, Math.min(255, data[i + 2]! + db));
    n++;
  }
  return n;
}

export async function colorReplace(ctx: RenderState): Promise<void> {
  const cr = ctx.ops.cr;
  if (!cr) return;
  await materialise(ctx);
  let from = cr.from;
  if (!from) {
    const { dominant } = await ctx.img.stats();
    from = { ...dominant, alpha: 1, hex: '' };
  }
  const img = ctx.hasAlpha ? ctx.img.ensureAlpha() : ctx.img.removeAlpha().toColourspace('srgb');
  const { data, info } = await img.timeout(budget(ctx)).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  replaceColour(data, info.channels, from, cr.to, cr.tolerance);
  ctx.img = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels as 3 | 4 } });
  ctx.phase = -1;
}
