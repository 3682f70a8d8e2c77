/**
 * How a file is delivered: its media type and kind (a raster image for the pipeline, an SVG, or a
 * file served as it is), whether it is compressed and how, byte ranges and Content-Disposition.
 * Pure decisions, shared by the edge (workerd) and the origins (Node); the table of media types is
 * the `mime` package (the maintained mime-db data), content sniffing happens at the origin
 * (`file-type`) and is passed in here. docs/transformations.md "Files other than images".
 */
import mime from 'mime';
import { badRequest, badTransformation } from './errors.js';
import type { TransformPlan } from './transform/types.js';

/** Raster formats the sharp pipeline decodes (an SVG is rasterised only on request). */
const RASTER_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/avif', 'image/gif', 'image/tiff', 'image/heif', 'image/heic']);
export const SVG_TYPE = 'image/svg+xml';
export const OCTET_STREAM = 'application/octet-stream';
/** Types a browser would run as a document with scripts: never served inline (docs/security.md). */
const ACTIVE_DOCUMENT_TYPES = new Set(['text/html', 'application/xhtml+xml', 'application/xml', 'text/xml', 'application/xslt+xml', 'text/xsl', 'application/mathml+xml']);
/** Types an origin sends when it does not know: the file is sniffed / typed by its extension instead. */
const GENERIC_TYPES = new Set(['', OCTET_STREAM, 'binary/octet-stream', 'application/unknown', 'application/binary', 'application/x-unknown']);

/** The media type without parameters, lower-cased ("text/css; charset=utf-8" → "text/css"). */
export function essence(contentType: string | null | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The type the path's extension names (mime-db), or null when it has none or an unknown one. */
export function typeFromPath(path: string): string | null {
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (!last.includes('.')) return null;
  return mime.getType(last);
}

export type DeliveryKind = 'image' | 'svg' | 'file';

export interface DeliveryType {
  kind: DeliveryKind;
  /** The Content-Type to serve (files: as declared when specific, else sniffed, else from the extension). */
  contentType: string;
}

/**
 * Decide what an original is. `declared`: the origin's Content-Type; `sniffed`: the type found in
 * the bytes (file-type), when any. A raster type (declared, by extension, or found in the bytes)
 * goes to the pipeline, which answers 422 EDECODE if the bytes are not that image; an SVG is an
 * SVG; anything else is a file served as it is. With neither a useful declared type, a sniffed
 * type nor a known extension, the type is application/octet-stream.
 */
export function decideDelivery(input: { path: string; declared?: string | null; sniffed?: string | null }): DeliveryType {
  const declared = essence(input.declared);
  const specific = GENERIC_TYPES.has(declared) ? null : declared;
  const sniffed = input.sniffed ? essence(input.sniffed) : null;
  const byPath = typeFromPath(input.path);
  if (sniffed && RASTER_TYPES.has(sniffed)) return { kind: 'image', contentType: sniffed };
  const named = specific ?? byPath;
  if (named && RASTER_TYPES.has(named)) return { kind: 'image', contentType: named };
  if (named === SVG_TYPE) return { kind: 'svg', contentType: SVG_TYPE };
  return { kind: 'file', contentType: (specific ? input.declared!.trim() : null) ?? sniffed ?? byPath ?? OCTET_STREAM };
}

/** What the edge can tell from the path alone: its cache key and Accept negotiation depend on it. */
export type PathClass = 'image' | 'svg' | 'file' | 'unknown';

export function pathClass(path: string): PathClass {
  const t = typeFromPath(path);
  if (!t) return 'unknown';
  if (RASTER_TYPES.has(t)) return 'image';
  return t === SVG_TYPE ? 'svg' : 'file';
}

/** HTML, XHTML and XML documents are served as attachments only (stored XSS from the image domain). */
export function isActiveDocument(contentType: string): boolean {
  return ACTIVE_DOCUMENT_TYPES.has(essence(contentType));
}

/**
 * Whether compressing the type pays: text, scripts, JSON, XML, SVG, wasm and the uncompressed font
 * formats. Raster images, video, audio, archives, PDF and WOFF/WOFF2 are compressed already.
 */
export function isCompressible(contentType: string | null | undefined): boolean {
  const t = essence(contentType);
  if (!t) return false;
  if (t.startsWith('text/')) return true;
  if (t.endsWith('+json') || t.endsWith('+xml')) return true; // image/svg+xml, application/manifest+json, …
  return COMPRESSIBLE.has(t);
}
const COMPRESSIBLE = new Set([
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/json',
  'application/xml',
  'application/wasm',
  'application/vnd.apple.mpegurl',
  'application/x-mpegurl',
  'application/dash+xml',
  'application/vnd.ms-fontobject',
  'application/x-font-ttf',
  'application/x-font-otf',
  'font/ttf',
  'font/otf',
  'font/collection',
  'image/vnd.microsoft.icon',
  'image/x-icon',
  'image/bmp',
]);

export type Encoding = 'br' | 'gzip' | 'identity';
export const ENCODINGS: readonly Encoding[] = ['br', 'gzip', 'identity'];

/**
 * The best encoding the client accepts: br, else gzip, else identity (RFC 9110 §12.5.3 q-values;
 * `*` stands for any encoding not named; identity is acceptable unless refused explicitly).
 */
export function negotiateEncoding(acceptEncoding: string | null | undefined): Encoding {
  const q = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').toLowerCase().split(',')) {
    const [name, ...params] = part.split(';').map((s) => s.trim());
    if (!name) continue;
    const qp = params.find((p) => p.startsWith('q='));
    const value = qp === undefined ? 1 : Number(qp.slice(2));
    q.set(name, Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0);
  }
  const weight = (name: string) => q.get(name) ?? (name === 'x-gzip' ? undefined : q.get('*')) ?? (name === 'gzip' ? q.get('x-gzip') : undefined) ?? 0;
  const candidates = (['br', 'gzip'] as const).map((e) => ({ e, w: weight(e) })).filter((c) => c.w > 0);
  if (!candidates.length) return 'identity';
  // The highest q wins; on a tie, br (the smaller) before gzip.
  candidates.sort((a, b) => b.w - a.w);
  return candidates[0]!.e;
}

export function isEncoding(value: string | null | undefined): value is Encoding {
  return value === 'br' || value === 'gzip' || value === 'identity';
}

/** A single byte range resolved against a size: inclusive start/end. */
export type RangeDecision = { kind: 'none' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * `Range: bytes=a-b | a- | -n` against a body of `size` bytes (RFC 9110 §14). Anything that is not
 * one well-formed byte range (other units, several ranges, garbage) is ignored: the whole body
 * (200) is a valid answer to those. A range that starts past the end is unsatisfiable (416).
 */
export function parseRange(header: string | null | undefined, size: number): RangeDecision {
  if (!header) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'none' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  return { kind: 'range', start, end: Math.min(end, size - 1) };
}

/**
 * Content-Disposition (RFC 6266): an ASCII `filename` fallback (non-ASCII, quotes, backslashes and
 * controls replaced) and, when the name is not plain ASCII, `filename*` in UTF-8 (RFC 8187).
 */
export function contentDisposition(type: 'attachment' | 'inline', fileName: string): string {
  const name = fileName.replace(/[\\/]/g, '_').replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 200) || 'download';
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/"/g, "'").replace(/%/g, '_');
  let header = `${type}; filename="${fallback}"`;
  if (fallback !== name) {
    const ext = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    header += `; filename*=UTF-8''${ext}`;
  }
  return header;
}

/** `?ik-attachment=true[&ik-attachment-filename=<name>]`: the download name, or null for inline. */
export function attachmentRequest(query: Iterable<[string, string]>, path: string): { fileName: string } | null {
  let on = false;
  let name: string | undefined;
  for (const [k, v] of query) {
    if (k === 'ik-attachment') {
      if (v !== 'true' && v !== 'false') throw badRequest(`ik-attachment must be "true" or "false", not "${v.slice(0, 20)}"`);
      on = v === 'true';
    } else if (k === 'ik-attachment-filename') name = v;
  }
  if (!on) return null;
  return { fileName: name || path.slice(path.lastIndexOf('/') + 1) || 'download' };
}

/** Query parameters that change how a response is delivered, not what it holds (not in cache keys, not sent to origins). */
export const DELIVERY_QUERY = new Set(['ik-attachment', 'ik-attachment-filename']);

/** The plan without what a file served as is may carry (f-auto, f-orig, orig-true, di-): is anything left? */
export function transformsContent(plan: TransformPlan): boolean {
  if (plan.original) return false;
  return (
    plan.steps.length > 0 ||
    Object.entries(plan).some(([k, v]) => v !== undefined && !['steps', 'original', 'format', 'defaultImage'].includes(k)) ||
    (plan.format !== undefined && plan.format !== 'orig')
  );
}

/** SVG is rasterised only when a raster format is asked for explicitly (f-png, f-jpg, f-webp, f-avif). */
export function wantsRaster(plan: TransformPlan): boolean {
  return plan.format !== undefined && plan.format !== 'orig' && !plan.original;
}

/** The 400 for a transformation on a file that is not an image (ImageKit serves those files as they are). */
export function refuseTransformation(kind: 'svg' | 'file', contentType: string): never {
  if (kind === 'svg') throw badTransformation('an SVG is served as SVG: transforming it needs an explicit raster format (f-png, f-jpg, f-webp or f-avif)');
  throw badTransformation(`the file is ${essence(contentType) || OCTET_STREAM}, not an image: transformations apply to images only (remove tr)`);
}
