/** Step "trim" (`t`): remove a solid border, colour taken from the top-left pixel. */
import { PHASE, usePhase, type RenderState } from '../context.js';

export async function trim(ctx: RenderState): Promise<void> {
  const t = ctx.ops.t;
  if (!t) return;
  await usePhase(ctx, PHASE.trim);
  ctx.img = ctx.img.trim({ threshold: t });
  ctx.dimsKnown = false;
}
