/**
 * Limits checked by the region before an original takes a transform slot: the pixel count read
 * from the header only, so a decompression bomb is refused without decoding. The rule and its
 * message are the pipeline's own (./pipeline/input-limits.ts), applied here first so a refused
 * original never waits for a slot.
 */
import sharp from 'sharp';
import type { NegotiatedFormat, TransformPlan } from '../../shared/transform/index.js';
import { assertInputPixels, framesRead } from './pipeline/input-limits.js';
import { checkSvg } from './pipeline/svg-guard.js';

export interface HeaderFacts {
  width?: number;
  height?: number;
  pages: number;
  format?: string;
}

/** Header facts, or null when sharp cannot read the header (the pipeline then answers EDECODE). */
export async function readHeader(body: Buffer): Promise<HeaderFacts | null> {
  try {
    const m = await sharp(body, { limitInputPixels: false }).metadata();
    return { width: m.width, height: m.pageHeight ?? m.height, pages: m.pages ?? 1, format: m.format };
  } catch {
    return null;
  }
}

/**
 * The input-pixel limit for a render of `plan` in `format`, from the header (read once: the
 * facts are returned for the cost estimate); null facts when sharp cannot read the header.
 */
export async function checkInputPixels(body: Buffer, plan: Pick<TransformPlan, 'page' | 'format'>, format: NegotiatedFormat, maxPixels: number): Promise<HeaderFacts | null> {
  const facts = await readHeader(body);
  if (!facts?.width || !facts.height) return facts;
  // An SVG's canvas is checked by the pipeline; what it embeds (rasters, <use> expansion, filters) here.
  if (facts.format === 'svg') await checkSvg(body, maxPixels);
  else assertInputPixels(facts.width, facts.height, framesRead(facts, format, plan), maxPixels);
  return facts;
}
