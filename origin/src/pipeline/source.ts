/** Cheap facts about an original, read from its header only (no pixel decoding). */
import sharp, { type Metadata } from 'sharp';
import { undecodable } from '../../../shared/errors.js';

export type SourceFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'heif' | 'gif' | 'tiff' | 'svg';
export const SOURCE_FORMATS: readonly SourceFormat[] = ['jpeg', 'png', 'webp', 'avif', 'heif', 'gif', 'tiff', 'svg'];

export interface SourceInfo {
  format: SourceFormat;
  /** Display width/height, after EXIF orientation. */
  width: number;
  height: number;
  /** Stored width/height, before orientation. */
  rawWidth: number;
  rawHeight: number;
  hasAlpha: boolean;
  /** Frames/pages (1 for still images). */
  pages: number;
  /** EXIF orientation 1–8 (1 when absent). */
  orientation: number;
  /** libvips interpretation, e.g. srgb, cmyk, b-w. */
  space: string;
  /** Whether an ICC profile is embedded. */
  hasProfile: boolean;
  bytes: number;
  /** Animation timing (animated originals only). */
  loop?: number;
  delay?: number[];
}

/** Read the header; an unreadable or unsupported file is a 422 EDECODE, never a raw sharp error. */
export async function readSourceInfo(input: Buffer, page = 0): Promise<SourceInfo> {
  let m: Metadata;
  try {
    m = await sharp(input, { limitInputPixels: false, page }).metadata();
  } catch {
    throw undecodable('the original is not a decodable image');
  }
  let format = m.format as string | undefined;
  if (format === 'heif') format = m.compression === 'av1' ? 'avif' : 'heif';
  if (!format || !(SOURCE_FORMATS as readonly string[]).includes(format) || !m.width || !m.height)
    throw undecodable(`the original's format (${format ?? 'unknown'}) is not supported`);
  const orientation = m.orientation ?? 1;
  const swap = orientation >= 5 && orientation <= 8;
  return {
    format: format as SourceFormat,
    width: swap ? m.height : m.width,
    height: swap ? m.width : m.height,
    rawWidth: m.width,
    rawHeight: m.pageHeight && (m.pages ?? 1) > 1 ? m.pageHeight : m.height,
    hasAlpha: Boolean(m.hasAlpha),
    pages: m.pages ?? 1,
    orientation,
    space: m.space ?? 'srgb',
    hasProfile: Boolean(m.hasProfile),
    bytes: input.length,
    loop: m.loop,
    delay: m.delay,
  };
}
