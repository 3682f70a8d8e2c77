/**
 * ImageKit's image metadata (files.metadata.get / getFromURL; upload responseFields "metadata" and
 * "embeddedMetadata"), read with sharp, plus three placeholders beyond ImageKit:
 *
 *   width, height, size, format, hasColorProfile, quality (JPEG, estimated from the luminance
 *   quantisation table), density, hasTransparency, exif { image, exif, gps, interoperability,
 *   thumbnail } (exif-reader, tag names as ImageKit spells them), pHash (64-bit DCT hash as 16 hex
 *   digits, sharp-phash), blurHash (Wolt's blurhash), thumbHash (evanw's thumbhash, base64) and
 *   dominantColor ("#rrggbb", sharp's stats().dominant).
 *
 * The decode work is bounded: placeholders and the hash are computed from a ≤ 64 px thumbnail.
 */
import exifReader from 'exif-reader';
import { encode as blurhashEncode } from 'blurhash';
import { createRequire } from 'node:module';
import sharp, { type Metadata, type SharpOptions } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';

export interface ImageMetadata {
  width?: number;
  height?: number;
  size: number;
  format: string;
  hasColorProfile?: boolean;
  quality?: number;
  density?: number;
  hasTransparency?: boolean;
  exif?: Record<string, Record<string, unknown>>;
  pHash?: string;
  blurHash?: string;
  thumbHash?: string;
  dominantColor?: string;
}

// sharp-phash is CommonJS (module.exports = fn), its typings say "export default": load it as what it is.
const phash = createRequire(import.meta.url)('sharp-phash') as (input: Buffer, options?: SharpOptions) => Promise<string>;

const FORMAT: Record<string, string> = { jpeg: 'jpg', heif: 'heif', svg: 'svg', png: 'png', webp: 'webp', gif: 'gif', avif: 'avif', tiff: 'tiff' };

/** exif-reader's names → ImageKit's (exiftool's) where they differ. */
const RENAME: Record<string, string> = {
  DateTime: 'ModifyDate',
  DateTimeDigitized: 'CreateDate',
  ExposureBiasValue: 'ExposureCompensation',
  ISOSpeedRatings: 'ISO',
  PhotographicSensitivity: 'ISO',
  PixelXDimension: 'ExifImageWidth',
  PixelYDimension: 'ExifImageHeight',
  ExifTag: 'ExifOffset',
  GPSTag: 'GPSInfo',
  FocalLengthIn35mmFilm: 'FocalLengthIn35mmFormat',
  InteroperabilityIndex: 'InteropIndex',
  InteroperabilityVersion: 'InteropVersion',
  JPEGInterchangeFormat: 'ThumbnailOffset',
  JPEGInterchangeFormatLength: 'ThumbnailLength',
};

const exifDate = (d: Date) => d.toISOString().replace(/^(\d+)-(\d+)-(\d+)T(\d+:\d+:\d+).*$/, '$1:$2:$3 $4');

function exifValue(v: unknown): unknown {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : exifDate(v);
  if (Buffer.isBuffer(v)) return v.length <= 64 ? v.toString('latin1').replace(/\0+$/, '') : undefined;
  if (Array.isArray(v)) return v.map(exifValue);
  return v;
}

function group(tags: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!tags) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tags)) {
    const value = exifValue(v);
    if (value !== undefined) out[RENAME[k] ?? k] = value;
  }
  return out;
}

/** EXIF groups in ImageKit's layout, or undefined when the image carries none (or an unreadable block). */
export function exifGroups(raw: Buffer | undefined): ImageMetadata['exif'] {
  if (!raw) return undefined;
  let parsed: ReturnType<typeof exifReader>;
  try {
    parsed = exifReader(raw);
  } catch {
    return undefined;
  }
  const out: Record<string, Record<string, unknown>> = {};
  const put = (name: string, tags: Record<string, unknown> | undefined) => {
    const g = group(tags);
    if (g && Object.keys(g).length) out[name] = g;
  };
  put('image', parsed.Image);
  put('thumbnail', parsed.Thumbnail);
  put('exif', parsed.Photo);
  put('gps', parsed.GPSInfo);
  put('interoperability', parsed.Iop);
  return out;
}

/** The IJG luminance table at quality 50 (JPEG standard, Annex K). */
const STD_LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103,
  77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/** JPEG quality (1–100) estimated from the first quantisation table, inverting the IJG scaling; undefined if none. */
export function jpegQuality(buf: Buffer): number | undefined {
  if (buf[0] !== 0xff || buf[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 4 <= buf.length) {
    if (buf[at] !== 0xff) return undefined;
    const marker = buf[at + 1]!;
    const len = buf.readUInt16BE(at + 2);
    if (marker === 0xdb) {
      const pq = buf[at + 4]! >> 4; // 0: 8-bit values, 1: 16-bit
      const values: number[] = [];
      for (let i = 0; i < 64; i++) values.push(pq ? buf.readUInt16BE(at + 5 + i * 2) : buf[at + 5 + i]!);
      // Sums only, so the zig-zag order of the stored table does not matter.
      const scale = (values.reduce((a, b) => a + b, 0) * 100) / STD_LUMA.reduce((a, b) => a + b, 0);
      const q = scale <= 100 ? (200 - scale) / 2 : 5000 / scale;
      return Math.max(1, Math.min(100, Math.round(q)));
    }
    if (marker === 0xda) return undefined;
    at += 2 + len;
  }
  return undefined;
}

const hex2 = (n: number) => Math.round(n).toString(16).padStart(2, '0');

/** The full metadata of one file's bytes (images; other files get size and format only). */
export async function analyse(bytes: Buffer, extension = ''): Promise<ImageMetadata> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: 100_000_000 }).metadata();
  } catch {
    return { size: bytes.length, format: extension.toLowerCase() };
  }
  const format = FORMAT[meta.format ?? ''] ?? meta.format ?? extension;
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  const out: ImageMetadata = {
    height,
    width,
    size: bytes.length,
    format,
    hasColorProfile: Boolean(meta.icc),
    quality: format === 'jpg' ? (jpegQuality(bytes) ?? 0) : 0,
    density: meta.density ?? 72,
    hasTransparency: false,
  };
  const exif = exifGroups(meta.exif);
  if (exif) out.exif = exif;
  // Placeholders and the hash from one small decode.
  const small = sharp(bytes, { limitInputPixels: 100_000_000 }).rotate().resize(64, 64, { fit: 'inside' }).ensureAlpha();
  const { data, info } = await small.raw().toBuffer({ resolveWithObject: true });
  const stats = await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).stats();
  out.hasTransparency = Boolean(meta.hasAlpha) && !stats.isOpaque;
  out.pHash = BigInt(`0b${await phash(data, { raw: { width: info.width, height: info.height, channels: 4 } })}`).toString(16).padStart(16, '0');
  out.blurHash = blurhashEncode(new Uint8ClampedArray(data), info.width, info.height, 4, 3);
  out.thumbHash = Buffer.from(rgbaToThumbHash(info.width, info.height, data)).toString('base64');
  out.dominantColor = `#${hex2(stats.dominant.r)}${hex2(stats.dominant.g)}${hex2(stats.dominant.b)}`;
  return out;
}

/** Upload responseFields "embeddedMetadata": the EXIF tags flattened into one object (ImageKit's shape). */
export function embeddedMetadata(m: ImageMetadata): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const g of Object.values(m.exif ?? {})) Object.assign(flat, g);
  if (m.width !== undefined) flat.ImageWidth = m.width;
  if (m.height !== undefined) flat.ImageHeight = m.height;
  return flat;
}
