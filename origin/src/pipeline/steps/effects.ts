/** Steps for the pixel effects: blur (`bl`), sharpen (`e-sharpen`, `e-usm`), grayscale, contrast. */
import { PHASE, usePhase, type RenderState } from '../context.js';

/** `bl-<radius>` → Gaussian sigma radius ÷ 2 (sharp's minimum sigma is 0.3). */
export async function blur(ctx: RenderState): Promise<void> {
  const bl = ctx.ops.bl;
  if (!bl) return;
  await usePhase(ctx, PHASE.blur);
  ctx.img = ctx.img.blur(Math.max(0.3, bl / 2));
}

export async function sharpen(ctx: RenderState): Promise<void> {
  const { sharpen: amount, usm } = ctx.ops;
  if (amount) {
    await usePhase(ctx, PHASE.sharpen);
    ctx.img = ctx.img.sharpen({ sigma: 0.5 + amount / 50 });
  }
  if (usm) {
    await usePhase(ctx, PHASE.sharpen);
    // libvips sharpen: sigma of the mask, m1/m2 = gain in flat/jagged areas, x1 = threshold (L 0–100)
    ctx.img = ctx.img.sharpen({
      sigma: usm.sigma,
      m1: Math.min(1000, usm.amount),
      m2: Math.min(1000, usm.amount * 2),
      x1: Math.min(100, usm.threshold * 100),
    });
  }
}

/**
 * Runs at sharp's own position (before resize). From there on the step's image is single-band,
 * so its padding, rotation fill, border and `bg` come out gray too: e-grayscale grays the step's
 * whole output. Registering the phase also keeps a later flatten from being reordered before it.
 */
export async function grayscale(ctx: RenderState): Promise<void> {
  if (!ctx.ops.grayscale) return;
  await usePhase(ctx, PHASE.greyscale);
  ctx.img = ctx.img.grayscale();
}

export async function contrast(ctx: RenderState): Promise<void> {
  if (!ctx.ops.contrast) return;
  await usePhase(ctx, PHASE.normalise);
  ctx.img = ctx.img.normalise();
}
