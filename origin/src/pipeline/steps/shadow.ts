/**
 * Step "shadow" (`e-shadow`): a blurred, darkened copy of the alpha channel, offset by x/y % of
 * the width, composited under the image (dest-over). The canvas keeps its size. ImageKit allows it
 * up to 2 MP only; so do we (a 400 that says to resize first).
 */
import sharp from 'sharp';
import { badTransformation } from '../../../../shared/errors.js';
import { budget, materialise, type RenderState } from '../context.js';

export const SHADOW_MAX_PIXELS = 2_000_000;

export async function shadow(ctx: RenderState): Promise<void> {
  const s = ctx.ops.shadow;
  if (!s) return;
  await materialise(ctx);
  const { width: w, height: h } = ctx;
  if (w * h > SHADOW_MAX_PIXELS)
    throw badTransformation(`e-shadow: only for images up to 2 MP, this step's image is ${w}×${h}; resize first (e.g. w-500,e-shadow)`);
  let alpha = ctx.img.clone().ensureAlpha().extractChannel(3);
  if (s.blur > 0) alpha = alpha.blur(Math.max(0.3, s.blur));
  const a = await alpha.timeout(budget(ctx)).raw().toBuffer();
  const dx = Math.round((s.x / 100) * w);
  const dy = Math.round((s.y / 100) * w);
  const strength = s.saturation / 100;
  const layer = Buffer.alloc(w * h * 4); // black, alpha from the shifted mask
  for (let y = Math.max(0, dy); y < Math.min(h, h + dy); y++) {
    const src = (y - dy) * w;
    const dst = y * w;
    for (let x = Math.max(0, dx); x < Math.min(w, w + dx); x++) layer[(dst + x) * 4 + 3] = Math.round(a[src + x - dx]! * strength);
  }
  ctx.img = ctx.img.ensureAlpha().composite([{ input: layer, raw: { width: w, height: h, channels: 4 }, blend: 'dest-over' }]);
  const out = await ctx.img.timeout(budget(ctx)).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  ctx.img = sharp(out.data, { raw: { width: w, height: h, channels: out.info.channels as 4 } });
  ctx.hasAlpha = true;
  ctx.phase = -1;
  ctx.materialisations++;
}
