/**
 * Step "background" (`bg-<colour>` outside padding): transparent pixels are flattened onto an
 * opaque bg colour; `bg-dominant` uses the image's dominant colour.
 */
import { PHASE, usePhase, type RenderState } from '../context.js';
import { stepColor } from './util.js';

export async function background(ctx: RenderState): Promise<void> {
  const bg = ctx.ops.bg;
  if (!bg || bg.kind === 'blurred' || !ctx.hasAlpha) return;
  const color = await stepColor(ctx);
  if (!color || color.alpha < 1) return;
  await usePhase(ctx, PHASE.flatten);
  ctx.img = ctx.img.flatten({ background: { r: color.r, g: color.g, b: color.b } });
  ctx.hasAlpha = false;
}
