/** Step "flip" (`fl`): h mirrors left-right, v upside-down, h_v both. */
import { PHASE, usePhase, type RenderState } from '../context.js';

export async function flip(ctx: RenderState): Promise<void> {
  const fl = ctx.ops.fl;
  if (!fl) return;
  await usePhase(ctx, PHASE.flip);
  if (fl === 'h' || fl === 'h_v') ctx.img = ctx.img.flop();
  if (fl === 'v' || fl === 'h_v') ctx.img = ctx.img.flip();
}
