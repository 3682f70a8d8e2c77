/**
 * Step "rotate" (`rt`): clockwise degrees. Multiples of 90 swap the sides; other angles grow the
 * canvas and fill the corners with `bg` (transparent without one). `rt-auto` (EXIF) is applied
 * by the decode step.
 */
import { checkOutputSize, PHASE, setDims, usePhase, type RenderState } from '../context.js';
import { sharpColor, stepColor, TRANSPARENT } from './util.js';

export async function rotate(ctx: RenderState): Promise<void> {
  const deg = ctx.ops.rt;
  if (!deg) return;
  const fill = deg % 90 === 0 ? undefined : await stepColor(ctx); // may read pixels: before queuing
  if (deg % 90 === 0) {
    await usePhase(ctx, PHASE.rotate90);
    ctx.img = ctx.img.rotate(deg);
    if (deg !== 180 && ctx.dimsKnown) setDims(ctx, ctx.height, ctx.width, 'rt');
    return;
  }
  const bg = fill ?? TRANSPARENT;
  await usePhase(ctx, PHASE.rotateAny);
  if (ctx.dimsKnown) {
    const rad = (deg * Math.PI) / 180;
    const w = Math.ceil(Math.abs(ctx.width * Math.cos(rad)) + Math.abs(ctx.height * Math.sin(rad)));
    const h = Math.ceil(Math.abs(ctx.width * Math.sin(rad)) + Math.abs(ctx.height * Math.cos(rad)));
    checkOutputSize(ctx.config, w, h, 'rt'); // the exact size is sharp's: dimsKnown becomes false below
  }
  ctx.img = ctx.img.rotate(deg, { background: sharpColor(bg) });
  if (bg.alpha < 1) ctx.hasAlpha = true;
  ctx.dimsKnown = false;
}
