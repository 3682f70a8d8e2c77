/**
 * The sharp pipeline. PLACEHOLDER (width/height/quality/format only); the transformation-engine
 * work replaces it with one module per step. `renderImage` is the contract the origin calls.
 */
import sharp from 'sharp';
import type { AccountDefaults } from '../../../shared/accounts.js';
import type { NegotiatedFormat, OutputFormat, TransformPlan } from '../../../shared/transform/index.js';

export interface RenderOptions {
  /** From the edge: a concrete format or "source" (keep the source's family). */
  format: NegotiatedFormat;
  /** Client hints forwarded by the edge (Sec-CH-DPR, Sec-CH-Width). */
  dpr?: number;
  widthHint?: number;
  defaults: AccountDefaults;
}

export interface RenderResult {
  data: Buffer;
  format: OutputFormat;
  width: number;
  height: number;
  contentType: string;
}

export async function renderImage(input: Buffer, plan: TransformPlan, opts: RenderOptions): Promise<RenderResult> {
  let img = sharp(input, { failOn: 'error' }).rotate();
  let quality = opts.defaults.quality;
  for (const step of plan.steps) {
    const w = typeof step.w === 'number' ? step.w : undefined;
    const h = typeof step.h === 'number' ? step.h : undefined;
    if (w || h) img = sharp(await img.toBuffer()).resize({ width: w, height: h, fit: w && h ? 'cover' : 'inside' });
    if (typeof step.q === 'number') quality = step.q;
  }
  const meta = await sharp(input).metadata();
  const source: OutputFormat = meta.format === 'png' ? 'png' : meta.format === 'gif' ? 'gif' : meta.format === 'webp' ? 'webp' : 'jpeg';
  const format: OutputFormat = opts.format === 'source' ? source : opts.format;
  const { data, info } = await img.toFormat(format, { quality }).toBuffer({ resolveWithObject: true });
  return { data, format, width: info.width, height: info.height, contentType: `image/${format}` };
}
