/**
 * The input-pixel limit, as one rule with one message: width × height × the frames a render
 * reads, against the pipeline config's maxInputPixels (PIXMESH_MAX_INPUT_PIXELS). The region
 * applies it from the header before a transform slot is taken (origin/src/limits.ts), and the
 * pipeline's limits step applies the same function when it runs on its own.
 */
import { limitExceeded } from '../../../shared/errors.js';
import type { NegotiatedFormat, TransformPlan } from '../../../shared/transform/index.js';

export interface AnimationFacts {
  /** Frames (pages) in the original. */
  pages: number;
  /** The original's format as sharp names it (gif, webp, …). */
  format?: string;
}

/**
 * An animated original (GIF, WebP) stays animated when the output can animate: an explicit
 * gif/webp, or the source's own format (`source` / `f-orig`). Otherwise the first frame is used.
 * A `pg-` range or list (any multi-page original, TIFF too) is animated by the same rule, with
 * its pages as the frames; one `pg-<n>` is always a still.
 */
export function keepsAnimationOf(source: AnimationFacts, outFormat: NegotiatedFormat, plan: Pick<TransformPlan, 'page' | 'format'>): boolean {
  const animatable = source.format === 'gif' || source.format === 'webp';
  const ownFormat = plan.format === 'orig' || outFormat === 'source';
  if (Array.isArray(plan.page)) return plan.page.length > 1 && (outFormat === 'gif' || outFormat === 'webp' || (ownFormat && animatable));
  if (plan.page !== undefined || source.pages <= 1 || !animatable) return false;
  if (ownFormat) return true;
  return outFormat === 'gif' || outFormat === 'webp';
}

/** Frames a render of this original reads: all of an animation it keeps (the selected pages of a `pg-` list), otherwise one. */
export const framesRead = (source: AnimationFacts, outFormat: NegotiatedFormat, plan: Pick<TransformPlan, 'page' | 'format'>): number =>
  keepsAnimationOf(source, outFormat, plan) ? (Array.isArray(plan.page) ? plan.page.length : source.pages) : 1;

/** 400 ELIMIT when width × height × frames is over `maxPixels`. */
export function assertInputPixels(width: number, height: number, frames: number, maxPixels: number): void {
  const pixels = width * height * Math.max(1, frames);
  if (pixels > maxPixels)
    throw limitExceeded(`the original is ${width}×${height}${frames > 1 ? `×${frames} frames` : ''} = ${pixels} pixels, over the ${maxPixels}-pixel limit`);
}
