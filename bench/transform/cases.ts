/**
 * The transform-throughput cases, shared by the runner and the in-process raw sharp worker, so
 * all three engines do the same work with the same encoder settings as the origin's pipeline
 * (origin/src/pipeline: JPEG q80 baseline without mozjpeg, WebP q80 effort 2, AVIF q50 effort 2
 * tune ssim; libvips 1 thread per image, operation cache off, UV_THREADPOOL_SIZE 4).
 */
import sharp from 'sharp';

export type OutFormat = 'jpeg' | 'webp' | 'avif';

export interface Case {
  id: string;
  format: OutFormat;
  /** Nominal output width; variants spread around it. */
  width: number;
}

export const CASES: Case[] = [
  { id: 'jpeg-720', format: 'jpeg', width: 720 },
  { id: 'jpeg-320', format: 'jpeg', width: 320 },
  { id: 'webp-720', format: 'webp', width: 720 },
  { id: 'webp-320', format: 'webp', width: 320 },
  { id: 'avif-720', format: 'avif', width: 720 },
  { id: 'avif-320', format: 'avif', width: 320 },
];

/** The encoder settings the origin uses for its defaults (q80 account default). */
export const ENCODER = {
  jpeg: { quality: 80, progressive: false, mozjpeg: false },
  webp: { quality: 80, effort: 2 },
  avif: { quality: 50, effort: 2, tune: 'ssim' as const },
};

/** Raw sharp: the same decode (auto-orient on load, as origin/src/pipeline/steps/input.ts) → resize → encode the origin runs. */
export function rawTransform(input: Buffer, format: OutFormat, width: number): Promise<Buffer> {
  let p = sharp(input, { autoOrient: true }).resize({ width });
  if (format === 'jpeg') p = p.jpeg(ENCODER.jpeg);
  else if (format === 'webp') p = p.webp(ENCODER.webp);
  else p = p.avif(ENCODER.avif);
  return p.toBuffer();
}

/** ImageKit-dialect tr for the origin. */
export const originTr = (format: OutFormat, width: number) => `w-${width},f-${format === 'jpeg' ? 'jpg' : format}`;

/** ipx modifiers for the same work (AVIF quality given as the origin's mapped value). */
export const ipxModifiers = (format: OutFormat, width: number) => `w_${width},f_${format},q_${format === 'avif' ? ENCODER.avif.quality : 80}`;

/** ipx passes only `quality` to the encoder; the rest goes through sharp's option object (see ipx-server.ts). */
export const IPX_SHARP_OPTIONS = { jpegProgressive: false, webpEffort: ENCODER.webp.effort, heifEffort: ENCODER.avif.effort };
