/**
 * Steps "format" and "encode". The format comes from the edge (x-pixmesh-format); `source` keeps
 * the original's family: GIF stays GIF, PNG and anything transparent becomes PNG, the rest JPEG.
 * Metadata and the ICC profile are stripped (sRGB output) unless md-true / cp-true.
 */
import { allOps, type OutputFormat } from '../../../../shared/transform/index.js';
import { budget, PHASE, usePhase, type RenderState } from '../context.js';
import type { SourceInfo } from '../source.js';
import { DEFAULT_FLATTEN, sharpColor, solid } from './util.js';

export function sourceFamily(source: SourceInfo, transparent: boolean, exact: boolean, animated = false): OutputFormat {
  if (animated && (source.format === 'gif' || source.format === 'webp')) return source.format; // keep the animation
  if (exact && (source.format === 'jpeg' || source.format === 'png' || source.format === 'webp' || source.format === 'avif' || source.format === 'gif'))
    return source.format;
  if (source.format === 'gif') return 'gif';
  if (source.format === 'png' || source.format === 'svg' || source.hasAlpha || transparent) return 'png';
  return 'jpeg';
}

export async function chooseFormat(ctx: RenderState): Promise<void> {
  const requested = ctx.opts.format;
  const format: OutputFormat =
    ctx.plan.format === 'orig' || requested === 'source' ? sourceFamily(ctx.source, ctx.hasAlpha, ctx.plan.format === 'orig', ctx.frames > 1) : requested;
  ctx.format = format;
  if (format === 'jpeg' && ctx.hasAlpha) {
    // JPEG has no alpha: flatten onto bg (or white) rather than letting transparency turn black
    const lastBg = allOps(ctx.plan).reverse().map((ops) => solid(ops.bg)).find(Boolean);
    await usePhase(ctx, PHASE.flatten);
    const c = sharpColor(lastBg ?? DEFAULT_FLATTEN);
    ctx.img = ctx.img.flatten({ background: { r: c.r, g: c.g, b: c.b } });
    ctx.hasAlpha = false;
  }
}

export const CONTENT_TYPES: Record<OutputFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  avif: 'image/avif',
  gif: 'image/gif',
};

/** AVIF's quality scale is harsher than JPEG's: q × 0.625 (80 → 50, sharp's default). */
export const avifQuality = (q: number) => Math.max(1, Math.min(100, Math.round(q * 0.625)));

export function encode(ctx: RenderState): void {
  const { plan, config } = ctx;
  const q = plan.quality ?? ctx.opts.defaults.quality;
  let img = ctx.img.timeout(budget(ctx));
  if (plan.metadata) img = img.keepMetadata();
  else if (plan.colorProfile) img = img.keepIccProfile();
  switch (ctx.format!) {
    case 'jpeg':
      img = img.jpeg({ quality: q, progressive: Boolean(plan.progressive), mozjpeg: false });
      break;
    case 'png':
      img = img.png({ progressive: Boolean(plan.progressive), compressionLevel: 6, adaptiveFiltering: false });
      break;
    case 'webp':
      img = img.webp({ quality: q, lossless: Boolean(plan.lossless), effort: config.webpEffort, ...ctx.animation });
      break;
    case 'avif':
      img = img.avif({ quality: avifQuality(q), lossless: Boolean(plan.lossless), effort: config.avifEffort, tune: config.avifTune });
      break;
    case 'gif':
      img = img.gif({ progressive: Boolean(plan.progressive), ...ctx.animation });
      break;
  }
  ctx.img = img;
}
