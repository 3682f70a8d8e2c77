/**
 * The origin's side of delivering files other than raster images: what an original is (its
 * declared type, the bytes sniffed with `file-type`, the extension through shared/delivery.ts),
 * SVG sanitising (./svg.ts) and compression (br / gzip, Node's zlib, off the event loop). The
 * decisions are the pure functions of shared/delivery.ts; this module only does the work.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { fileTypeFromBuffer } from 'file-type';
import { oncePerBytes } from '../cache/per-bytes.js';
import { decideDelivery, essence, type DeliveryType, type Encoding } from '../../../shared/delivery.js';

export { sanitiseSvg, SVG_SANITISE_MAX_BYTES } from './svg.js';

/** file-type reads magic numbers from the first few KB only. */
const SNIFF_BYTES = 4100;

/** The type found in the bytes, or null (text formats — CSS, JS, JSON, SVG — have no magic number). */
export const sniffType: (body: Buffer) => Promise<string | null> = oncePerBytes(sniff);

async function sniff(body: Buffer): Promise<string | null> {
  if (body.length === 0) return null;
  try {
    return (await fileTypeFromBuffer(body.subarray(0, SNIFF_BYTES)))?.mime ?? null;
  } catch {
    return null;
  }
}

/** What an original is and the Content-Type to serve it with. */
export async function resolveDelivery(path: string, body: Buffer, declared: string | undefined): Promise<DeliveryType> {
  return decideDelivery({ path, declared, sniffed: await sniffType(body) });
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/** Brotli quality: the best (11) for files up to 1 MiB, a faster level above (computed once per region, then cached). */
export function brotliQuality(bytes: number): number {
  return bytes <= 1024 * 1024 ? 11 : 6;
}

/** The body in the given encoding; null when compressing would not make it smaller. */
export async function compress(body: Buffer, encoding: Exclude<Encoding, 'identity'>, contentType: string): Promise<Buffer | null> {
  const text = essence(contentType).startsWith('text/') || /json|javascript|xml|svg/.test(essence(contentType));
  const out =
    encoding === 'br'
      ? await brotli(body, {
          params: {
            [zlib.constants.BROTLI_PARAM_QUALITY]: brotliQuality(body.length),
            [zlib.constants.BROTLI_PARAM_MODE]: text ? zlib.constants.BROTLI_MODE_TEXT : zlib.constants.BROTLI_MODE_GENERIC,
            [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length,
          },
        })
      : await gzip(body, { level: 9 });
  return out.length < body.length ? out : null;
}
