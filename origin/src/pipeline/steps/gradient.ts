/**
 * Step "gradient" (`e-gradient`): a linear gradient drawn over the image, as an SVG rasterised at
 * the image's size (our own markup: two stops, no external references) and composited over it.
 */
import sharp from 'sharp';
import type { Color, Gradient } from '../../../../shared/transform/index.js';
import { budget, materialise, type RenderState } from '../context.js';

/** The gradient line for a CSS angle over a w×h box: start and end points (CSS gradient-line length). */
export function gradientLine(angle: number, w: number, h: number): { x1: number; y1: number; x2: number; y2: number; length: number } {
  const a = (angle * Math.PI) / 180;
  const dx = Math.sin(a);
  const dy = -Math.cos(a);
  const length = Math.abs(w * dx) + Math.abs(h * dy);
  const [cx, cy] = [w / 2, h / 2];
  return { x1: cx - (dx * length) / 2, y1: cy - (dy * length) / 2, x2: cx + (dx * length) / 2, y2: cy + (dy * length) / 2, length };
}

const stopColor = (c: Color, offset: number) =>
  `<stop offset="${offset.toFixed(4)}" stop-color="#${c.hex.slice(0, 6)}" stop-opacity="${c.alpha}"/>`;

export function gradientSvg(g: Gradient & { stop: number }, w: number, h: number): string {
  const line = gradientLine(g.angle, w, h);
  const at = g.stop === 1 ? 1 : g.stop < 1 ? g.stop : Math.min(1, g.stop / line.length);
  // CSS interpolates premultiplied: a fully transparent stop takes the other stop's colour (no grey fringe)
  const from = g.from.alpha === 0 ? { ...g.to, alpha: 0 } : g.from;
  const to = g.to.alpha === 0 ? { ...g.from, alpha: 0 } : g.to;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><linearGradient id="g" gradientUnits="userSpaceOnUse" ` +
    `x1="${line.x1}" y1="${line.y1}" x2="${line.x2}" y2="${line.y2}">${stopColor(from, 0)}${stopColor(to, at)}</linearGradient></defs>` +
    `<rect width="${w}" height="${h}" fill="url(#g)"/></svg>`
  );
}

export async function gradient(ctx: RenderState): Promise<void> {
  const g = ctx.ops.gradient;
  if (!g) return;
  await materialise(ctx);
  const { width: w, height: h } = ctx;
  const overlay = await sharp(Buffer.from(gradientSvg(g, w, h))).timeout(budget(ctx)).raw().toBuffer({ resolveWithObject: true });
  const opaque = !ctx.hasAlpha;
  ctx.img = ctx.img.composite([{ input: overlay.data, raw: { width: overlay.info.width, height: overlay.info.height, channels: overlay.info.channels as 4 } }]);
  if (opaque) ctx.img = ctx.img.removeAlpha();
  await materialise(ctx);
}
