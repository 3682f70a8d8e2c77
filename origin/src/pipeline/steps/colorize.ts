/**
 * Step "colorize" (`e-colorize[-co-<colour>][_in-<0–100>]`): the image tinted with `co` (libvips
 * tint: lightness kept, hue and saturation from the colour, in Lab) and mixed with the original
 * at `in` %. Alpha is kept (the tinted copy is laid `atop`, so transparent pixels stay transparent).
 */
import sharp from 'sharp';
import { budget, materialise, type RenderState } from '../context.js';

export async function colorize(ctx: RenderState): Promise<void> {
  const c = ctx.ops.colorize;
  if (!c || c.intensity === 0) return;
  await materialise(ctx);
  const { data, info } = await ctx.img.clone().removeAlpha().tint({ r: c.color.r, g: c.color.g, b: c.color.b }).toColourspace('srgb').timeout(budget(ctx)).raw().toBuffer({ resolveWithObject: true });
  const tinted = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels as 3 } }).ensureAlpha(c.intensity / 100);
  const overlay = await tinted.raw().toBuffer();
  ctx.img = ctx.img.composite([{ input: overlay, raw: { width: info.width, height: info.height, channels: 4 }, blend: 'atop' }]);
  if (!ctx.hasAlpha) ctx.img = ctx.img.removeAlpha();
  await materialise(ctx);
}
