/**
 * What an SVG asks the rasteriser (librsvg) to do, measured BEFORE it runs, so a small file cannot
 * hide a big input (docs/security.md, "SVG"):
 *
 * - embedded rasters (`<image href="data:…">`, `<feImage>`) are decoded by librsvg at full size:
 *   their pixels, multiplied by how often `<use>` instantiates them, count against the input
 *   pixel limit (nested SVG data URIs are inspected the same way, up to a depth);
 * - `<use>` expansion (a "billion laughs" of references) is counted: total rendered elements are
 *   capped, a reference cycle is refused;
 * - filter primitives and patterns are capped (each is a full-canvas pass / a tiled render);
 * - anything that reads outside the file — an `href` that is not `#fragment` or `data:`,
 *   DOCTYPE/ENTITY declarations, XInclude, `@import`, `url()` to a non-fragment, xml-stylesheet —
 *   is refused (403 EACCES): librsvg would otherwise resolve relative file references.
 *
 * Pure text analysis (a tag tokenizer, not a full XML parser): it errs on the side of refusing.
 * The same check runs on uploads (media library) and before every SVG render.
 */
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { forbidden, limitExceeded, undecodable } from '../../../shared/errors.js';

export interface SvgLimits {
  /** Pixels of embedded rasters (× their use count), and of each nested SVG canvas. */
  maxEmbeddedPixels: number;
  /** Elements librsvg renders once `<use>` is expanded. */
  maxElements: number;
  /** Filter primitives (fe*) in the file. */
  maxFilterPrimitives: number;
  /** `<pattern>` elements in the file. */
  maxPatterns: number;
  /** Decompressed size of an svgz. */
  maxDecompressedBytes: number;
}

export const DEFAULT_SVG_LIMITS: SvgLimits = {
  maxEmbeddedPixels: 100_000_000,
  maxElements: 20_000,
  maxFilterPrimitives: 32,
  maxPatterns: 16,
  maxDecompressedBytes: 10 * 1024 * 1024,
};

export interface SvgFacts {
  elements: number;
  embeddedPixels: number;
  embeddedImages: number;
  filterPrimitives: number;
  patterns: number;
}

const MAX_NESTING = 2;

interface Node {
  name: string;
  id?: string;
  href?: string;
  children: Node[];
  /** Pixels of this element's own embedded raster (image / feImage with a data: URI). */
  ownPixels: number;
}

/** Whether the first `limit` bytes hold "<svg" in any letter case. */
function hasSvgTag(buf: Buffer, limit: number): boolean {
  const head = buf.subarray(0, limit);
  const end = head.length - 3;
  for (let i = head.indexOf(0x3c); i !== -1 && i < end; i = head.indexOf(0x3c, i + 1)) {
    if ((head[i + 1]! | 0x20) === 0x73 && (head[i + 2]! | 0x20) === 0x76 && (head[i + 3]! | 0x20) === 0x67) return true;
  }
  return false;
}

/** Is this buffer (plain or gzip) an SVG document? Cheap sniff on the first bytes. */
export function looksLikeSvg(buf: Buffer): boolean {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return looksLikeSvg(gunzipSync(buf, { maxOutputLength: 64 * 1024 }).subarray(0, 4096));
    } catch (e) {
      // a truncated read of a big svgz throws RangeError: look at what we got is not possible; inspect later
      return (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    }
  }
  // Both patterns below need "<svg" (any case): raster originals (the render path's every cold
  // request) rarely hold those bytes, and finding none costs a byte scan instead of decoding 4 KB
  // of binary as UTF-8 and two regexes over it (≈ 40 µs on the main thread). ASCII bytes decode to
  // themselves whatever surrounds them, so the answer is the same.
  if (!hasSvgTag(buf, 4096)) return false;
  const head = buf.subarray(0, 4096).toString('utf8').replace(/^\uFEFF/, '');
  return /^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s/>]/i.test(head) || /<svg[\s/>]/i.test(head);
}

function svgText(buf: Buffer, limits: SvgLimits): string {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf, { maxOutputLength: limits.maxDecompressedBytes });
    } catch {
      throw limitExceeded(`the SVG is compressed and decompresses to more than ${limits.maxDecompressedBytes} bytes (or is corrupt)`);
    }
  }
  return buf.toString('utf8');
}

const ATTR_RE = /([^\s=/>]+)\s*=\s*("([^"]*)"|'([^']*)')/g;
const TAG_RE = /<(\/?)([A-Za-z_][\w:.-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/g;

function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);?/gi, (_, h: string) => String.fromCodePoint(Math.min(0x10ffff, parseInt(h, 16))))
    .replace(/&#(\d+);?/g, (_, d: string) => String.fromCodePoint(Math.min(0x10ffff, Number(d))))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function localName(name: string): string {
  const i = name.indexOf(':');
  return (i >= 0 ? name.slice(i + 1) : name).toLowerCase();
}

/** Pixel count of a data: URI's image (a nested SVG is inspected recursively). */
async function dataUriPixels(uri: string, limits: SvgLimits, depth: number): Promise<number> {
  const m = /^data:([^,]*?),(.*)$/is.exec(uri.trim());
  if (!m) throw undecodable('the SVG embeds a malformed data: URI');
  const meta = m[1]!;
  const payload = m[2]!.replace(/\s+/g, '');
  let bytes: Buffer;
  try {
    bytes = /;base64$/i.test(meta) ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'utf8');
  } catch {
    throw undecodable('the SVG embeds a malformed data: URI');
  }
  if (looksLikeSvg(bytes)) {
    if (depth >= MAX_NESTING) throw limitExceeded(`the SVG nests SVG images more than ${MAX_NESTING} deep`);
    const inner = await inspectSvg(bytes, limits, depth + 1);
    let canvas = 0;
    try {
      const md = await sharp(bytes, { limitInputPixels: false }).metadata();
      canvas = (md.width ?? 0) * (md.height ?? 0);
    } catch {
      /* librsvg could not read it: it will not render either */
    }
    return canvas + inner.embeddedPixels;
  }
  try {
    const md = await sharp(bytes, { limitInputPixels: false }).metadata();
    return (md.width ?? 0) * (md.pageHeight ?? md.height ?? 0) * Math.max(1, md.pages ?? 1);
  } catch {
    return 0; // not an image librsvg can decode either: it draws nothing
  }
}

function checkExternalText(text: string): void {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw forbidden('SVG: DOCTYPE / ENTITY declarations are not allowed');
  if (/<\?xml-stylesheet/i.test(text)) throw forbidden('SVG: xml-stylesheet is not allowed');
  if (/@import/i.test(text)) throw forbidden('SVG: CSS @import is not allowed');
  // url(...) in attributes or CSS: only fragment references (url(#id)) are allowed
  for (const m of text.matchAll(/url\(\s*(['"]?)([^)'"]*)\1\s*\)/gi)) {
    const target = m[2]!.trim();
    if (!target.startsWith('#') && !/^data:/i.test(target)) throw forbidden(`SVG: url(${target.slice(0, 60)}) references an external resource`);
    if (/^data:/i.test(target)) throw forbidden('SVG: data: URIs are allowed only in <image href>, not in url()');
  }
}

/**
 * Inspect an SVG; throws 400 ELIMIT (over a limit), 403 EACCES (external reference) or 422
 * EDECODE (malformed). Returns the measured facts.
 */
export async function inspectSvg(buf: Buffer, limits: SvgLimits = DEFAULT_SVG_LIMITS, depth = 0): Promise<SvgFacts> {
  const raw = svgText(buf, limits);
  // comments cannot hide tags from librsvg, but they could hide them from us if we kept them
  const text = raw.replace(/<!--[\s\S]*?(-->|$)/g, '').replace(/<!\[CDATA\[([\s\S]*?)(\]\]>|$)/g, (_, body: string) => body.replace(/</g, ' '));
  checkExternalText(text);

  const root: Node = { name: '#root', children: [], ownPixels: 0 };
  const stack: Node[] = [root];
  const byId = new Map<string, Node>();
  let filterPrimitives = 0;
  let patterns = 0;
  let embeddedImages = 0;
  let tags = 0;
  const pending: Promise<void>[] = [];
  for (const m of text.matchAll(TAG_RE)) {
    if (++tags > limits.maxElements * 4) throw limitExceeded(`the SVG has more than ${limits.maxElements * 4} tags`);
    const closing = m[1] === '/';
    const name = localName(m[2]!);
    const attrText = m[3] ?? '';
    if (closing) {
      // pop to the matching open element (tolerates sloppy nesting)
      for (let i = stack.length - 1; i > 0; i--) {
        if (stack[i]!.name === name) {
          stack.length = i;
          break;
        }
      }
      continue;
    }
    const node: Node = { name, children: [], ownPixels: 0 };
    for (const a of attrText.matchAll(ATTR_RE)) {
      const attr = a[1]!.toLowerCase();
      const value = decodeEntities(a[3] ?? a[4] ?? '');
      if (attr === 'id') node.id = value;
      else if (attr === 'href' || attr.endsWith(':href')) node.href = value.trim();
      else if (attr === 'style') checkExternalText(value);
    }
    if (name === 'include') throw forbidden('SVG: XInclude is not allowed');
    if (name === 'script' || name === 'foreignobject') {
      /* librsvg ignores scripts and foreignObject; the "static" sanitiser handles SVG served as SVG */
    }
    if (name.startsWith('fe')) filterPrimitives++;
    if (name === 'pattern') patterns++;
    if (node.href !== undefined && node.href !== '') {
      const href = node.href;
      if (/^data:/i.test(href)) {
        if (name !== 'image' && name !== 'feimage') throw forbidden(`SVG: <${name}> may not reference a data: URI`);
        embeddedImages++;
        pending.push(
          dataUriPixels(href, limits, depth).then((px) => {
            node.ownPixels = px;
          }),
        );
      } else if (!href.startsWith('#')) {
        throw forbidden(`SVG: <${name}> references "${href.slice(0, 60)}" outside the file; only #fragment and data: references are allowed`);
      }
    }
    if (node.id !== undefined && !byId.has(node.id)) byId.set(node.id, node);
    stack[stack.length - 1]!.children.push(node);
    if (!/\/\s*$/.test(attrText)) stack.push(node);
  }
  if (filterPrimitives > limits.maxFilterPrimitives)
    throw limitExceeded(`the SVG has ${filterPrimitives} filter primitives; at most ${limits.maxFilterPrimitives} are allowed`);
  if (patterns > limits.maxPatterns) throw limitExceeded(`the SVG has ${patterns} patterns; at most ${limits.maxPatterns} are allowed`);
  await Promise.all(pending);

  // Expansion: elements rendered and raster pixels decoded, counting each <use> as a copy of its target.
  const memo = new Map<Node, { elements: number; pixels: number }>();
  const visiting = new Set<Node>();
  const cost = (n: Node): { elements: number; pixels: number } => {
    const known = memo.get(n);
    if (known) return known;
    if (visiting.has(n)) throw limitExceeded('the SVG has a <use> reference cycle');
    visiting.add(n);
    let elements = 1;
    let pixels = n.ownPixels;
    for (const c of n.children) {
      const s = cost(c);
      elements += s.elements;
      pixels += s.pixels;
    }
    if (n.name === 'use' && n.href?.startsWith('#')) {
      const target = byId.get(n.href.slice(1));
      if (target) {
        const s = cost(target);
        elements += s.elements;
        pixels += s.pixels;
      }
    }
    visiting.delete(n);
    const out = { elements: Math.min(elements, Number.MAX_SAFE_INTEGER), pixels: Math.min(pixels, Number.MAX_SAFE_INTEGER) };
    memo.set(n, out);
    if (out.elements > limits.maxElements)
      throw limitExceeded(`the SVG expands (with <use>) to more than ${limits.maxElements} elements`);
    if (out.pixels > limits.maxEmbeddedPixels)
      throw limitExceeded(`the SVG's embedded images come to ${out.pixels} pixels; at most ${limits.maxEmbeddedPixels} are allowed`);
    return out;
  };
  // Deep documents: walk children before parents so recursion depth stays bounded by reference chains.
  const order: Node[] = [];
  const walk: Node[] = [root];
  while (walk.length) {
    const n = walk.pop()!;
    order.push(n);
    walk.push(...n.children);
  }
  for (let i = order.length - 1; i >= 0; i--) cost(order[i]!);
  const total = cost(root);
  return { elements: total.elements - 1, embeddedPixels: total.pixels, embeddedImages, filterPrimitives, patterns };
}

/** The guard with the embedded-pixel limit set to the region's input pixel limit. */
export function checkSvg(buf: Buffer, maxInputPixels: number): Promise<SvgFacts> {
  return inspectSvg(buf, { ...DEFAULT_SVG_LIMITS, maxEmbeddedPixels: maxInputPixels });
}
