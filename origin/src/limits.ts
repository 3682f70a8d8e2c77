/**
 * Limits checked by the region before an original takes a transform slot: the pixel count read
 * from the header only, so a decompression bomb is refused without decoding. The rule and its
 * message are the pipeline's own (./pipeline/input-limits.ts), applied here first so a refused
 * original never waits for a slot.
 */
import type { NegotiatedFormat, TransformPlan } from '../../shared/transform/index.js';
import { oncePerBytes } from './cache/per-bytes.js';
import { assertInputPixels, framesRead } from './pipeline/input-limits.js';
import { readSourceInfo, type SourceInfo } from './pipeline/source.js';
import { checkSvg } from './pipeline/svg-guard.js';

/** The header facts of an original, read once per its bytes (./cache/per-bytes.ts). */
export const sourceInfoOf = oncePerBytes((body) => readSourceInfo(body));

/**
 * The input-pixel limit for a render of `plan` in `format`, from the header. The header is read
 * once per original (sourceInfoOf): the facts returned are the pipeline's own (readSourceInfo), for the cost
 * estimate and for the pipeline itself (RenderOptions.source), which does not read them again.
 * A header the pipeline could not read is its 422 EDECODE, answered here before any slot is taken.
 */
export async function checkInputPixels(body: Buffer, plan: Pick<TransformPlan, 'page' | 'format'>, format: NegotiatedFormat, maxPixels: number): Promise<SourceInfo> {
  const facts = await sourceInfoOf(body);
  // An SVG's canvas is checked by the pipeline; what it embeds (rasters, <use> expansion, filters) here.
  if (facts.format === 'svg') await checkSvg(body, maxPixels);
  else assertInputPixels(facts.rawWidth, facts.rawHeight, framesRead(facts, format, plan), maxPixels);
  return facts;
}
