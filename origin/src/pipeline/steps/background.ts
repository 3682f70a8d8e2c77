/**
 * Step "background" (`bg-<colour>` outside padding): transparent pixels are flattened onto an
 * opaque bg colour; `bg-dominant` uses the image's dominant colour.
 */
import { materialise, PHASE, usePhase, type Ctx } from '../context.js';

export async function background(ctx: Ctx): Promise<void> {
  const bg = ctx.ops.bg;
  if (!bg || bg.kind === 'blurred' || !ctx.hasAlpha) return;
  let color: { r: number; g: number; b: number };
  if (bg.kind === 'dominant') {
    await materialise(ctx);
    const { dominant } = await ctx.img.stats();
    color = dominant;
  } else {
    if (bg.color.alpha < 1) return;
    color = bg.color;
  }
  await usePhase(ctx, PHASE.flatten);
  ctx.img = ctx.img.flatten({ background: { r: color.r, g: color.g, b: color.b } });
  ctx.hasAlpha = false;
}
