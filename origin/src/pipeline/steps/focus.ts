/**
 * The focus box of `fo-face` (detected faces) and `fo-custom` (the file's customCoordinates), in
 * the pixels of the image entering the step — read by the resize step. Face detection runs on a
 * downscaled probe of the current image (origin/src/pipeline/faces.ts bounds it); its cost is
 * counted in the render's stats (Server-Timing `face`, the `face` stage histogram).
 */
import { busy } from '../../../../shared/errors.js';
import { detectFaces, FACE_TIMEOUT_MS, PROBE_MAX, unionBox, type Box } from '../faces.js';
import { budget, exactDims, materialise, type RenderState } from '../context.js';

/** The faces (their union) or the custom area in current pixels; undefined: none (the caller falls back to the centre). */
export async function focusBox(ctx: RenderState): Promise<Box | undefined> {
  const fo = ctx.ops.fo;
  if (fo === 'custom') return customBox(ctx);
  if (fo !== 'face') return undefined;
  if (ctx.phase !== -1) await materialise(ctx); // probe what the step sees, not the queued-but-unrun pipeline twice
  const { width: cw, height: ch } = await exactDims(ctx);
  const t0 = performance.now();
  const { data, info } = await ctx.img
    .clone()
    .resize({ width: PROBE_MAX, height: PROBE_MAX, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha()
    .timeout(budget(ctx))
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const found = await detectFaces(data, info.width, info.height, Math.max(1, Math.min(FACE_TIMEOUT_MS, ctx.deadline - Date.now())));
  if (found.skipped) throw busy(`fo-face: ${found.skipped}`, 1, 503);
  const stats = ctx.layerStats;
  if (stats && !found.cached) {
    stats.faceDetections++;
    stats.faceMs += performance.now() - t0;
  }
  const union = unionBox(found.faces);
  if (!union) return undefined;
  const sx = cw / info.width;
  const sy = ch / info.height;
  return { x: union.x * sx, y: union.y * sy, w: union.w * sx, h: union.h * sy };
}

/**
 * customCoordinates are saved in the original's pixels (ImageKit: x,y,width,height of the
 * uploaded image): scaled to the current image (earlier chain steps may have resized it), and
 * clipped to it. A box outside the image counts as none.
 */
async function customBox(ctx: RenderState): Promise<Box | undefined> {
  const area = ctx.opts.focusArea;
  if (!area || area.w <= 0 || area.h <= 0) return undefined;
  const { width: cw, height: ch } = await exactDims(ctx);
  const sx = cw / ctx.source.width;
  const sy = ch / ctx.source.height;
  const x = Math.max(0, area.x * sx);
  const y = Math.max(0, area.y * sy);
  const w = Math.min(cw, (area.x + area.w) * sx) - x;
  const h = Math.min(ch, (area.y + area.h) * sy) - y;
  return w > 0 && h > 0 ? { x, y, w, h } : undefined;
}
