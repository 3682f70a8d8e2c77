/**
 * Limits checked by the region before an original takes a transform slot: the pixel count read
 * from the header only (w × h × frames), so a decompression bomb is refused without decoding.
 * The pipeline enforces its own limits while rendering; this is the cheap first line.
 */
import sharp from 'sharp';
import { limitExceeded } from '../../shared/errors.js';
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

/** Refuses an original over the pixel limit; returns the header facts it read (read once per render: the cost estimate uses them too). */
export async function checkInputPixels(body: Buffer, maxPixels: number): Promise<HeaderFacts | null> {
  const facts = await readHeader(body);
  if (!facts?.width || !facts.height) return facts;
  // An SVG's canvas is checked by the pipeline; what it embeds (rasters, <use> expansion, filters) here.
  if (facts.format === 'svg') {
    await checkSvg(body, maxPixels);
    return facts;
  }
  const pixels = facts.width * facts.height * Math.max(1, facts.pages);
  if (pixels > maxPixels)
    throw limitExceeded(`the original is ${facts.width}×${facts.height}${facts.pages > 1 ? `×${facts.pages} frames` : ''} = ${pixels} pixels, over the ${maxPixels}-pixel limit`);
  return facts;
}
