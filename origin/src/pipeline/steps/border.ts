/** Step "border" (`b-<w>_<colour>`): the same width on every side. */
import { PHASE, setDims, usePhase, type RenderState } from '../context.js';
import { sharpColor } from './util.js';

export async function border(ctx: RenderState): Promise<void> {
  const b = ctx.ops.border;
  if (!b) return;
  await usePhase(ctx, PHASE.extend);
  if (ctx.dimsKnown) setDims(ctx, ctx.width + 2 * b.width, ctx.height + 2 * b.width, 'b');
  ctx.img = ctx.img.extend({ top: b.width, bottom: b.width, left: b.width, right: b.width, background: sharpColor(b.color) });
  if (b.color.alpha < 1) ctx.hasAlpha = true;
}
