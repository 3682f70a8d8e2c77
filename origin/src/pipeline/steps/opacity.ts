/** Step "opacity" (`o-0..100`): multiplies the alpha channel (adding one when missing). */
import { exactDims, PHASE, usePhase, type RenderState } from '../context.js';

export async function opacity(ctx: RenderState): Promise<void> {
  const o = ctx.ops.o;
  if (o === undefined || o === 100) return;
  const { width, height } = await exactDims(ctx);
  await usePhase(ctx, PHASE.composite);
  ctx.img = ctx.img.ensureAlpha().composite([
    { input: { create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: o / 100 } } }, blend: 'dest-in' },
  ]);
  ctx.hasAlpha = true;
}
