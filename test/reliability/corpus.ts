/**
 * The adversarial image corpus, generated in code (sharp + hand-built bytes): nothing binary is
 * committed, every case is reproducible, and each case states which answers are acceptable.
 *
 * An entry is an object key + body + content type as an origin would serve it, and the outcomes
 * allowed for `GET …/tr:<tr>/<key>`: a decodable image (with checks on it), or one of a list of
 * (status, ik-error code) pairs. Anything else — a 5xx, a hang, a crashed process — is a failure.
 */
import { crc32, deflateSync } from 'node:zlib';
import sharp, { type Metadata, type Sharp } from 'sharp';

export interface ErrorOutcome {
  status: number;
  code: string;
}

export interface ImageOutcome {
  /** Output format expected from sharp's metadata (jpeg, png, webp, gif). */
  format?: string;
  width?: number;
  height?: number;
  /** Extra checks on the decoded answer (returns a problem, or null). */
  check?: (meta: Metadata, body: Buffer) => Promise<string | null>;
}

export interface CorpusEntry {
  /** Stable, readable name: the test title and the object key stem. */
  name: string;
  /** Object key (its extension may lie on purpose). */
  key: string;
  contentType: string;
  body: Buffer;
  /** The transformation requested (path form, without "tr:"). */
  tr: string;
  /** A correct image is acceptable (with these checks). */
  image?: ImageOutcome;
  /** These error answers are acceptable. */
  errors?: ErrorOutcome[];
  /** Why these outcomes are the right ones. */
  why: string;
}

const EDECODE: ErrorOutcome = { status: 422, code: 'EDECODE' };
const ELIMIT: ErrorOutcome = { status: 400, code: 'ELIMIT' };
const ELIMIT_413: ErrorOutcome = { status: 413, code: 'ELIMIT' };
/** A transformation on a file that is not an image (served as it is otherwise: docs/transformations.md). */
const EBADTR: ErrorOutcome = { status: 400, code: 'EBADTR' };
/** The SVG render guard refuses references outside the file (origin/src/pipeline/svg-guard.ts). */
const EACCES: ErrorOutcome = { status: 403, code: 'EACCES' };

/* ------------------------------------------------------------------------------------------ */
/* Small deterministic PRNG (mulberry32): the corpus and the fuzzers are reproducible by seed.  */

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(n: number, seed: number): Buffer {
  const r = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/* ------------------------------------------------------------------------------------------ */
/* Hand-built containers                                                                       */

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG whose IHDR claims width × height (8-bit RGB) with a few bytes of real data: a bomb header. */
export function pngWithDeclaredSize(width: number, height: number, opts: { badCrc?: boolean; bitDepth?: number; colourType?: number } = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = opts.bitDepth ?? 8;
  ihdr[9] = opts.colourType ?? 2;
  const ihdrChunk = pngChunk('IHDR', ihdr);
  if (opts.badCrc) ihdrChunk[ihdrChunk.length - 1]! ^= 0xff;
  // One scanline's worth of zeros, deflated: far too little data for the declared size.
  const idat = pngChunk('IDAT', deflateSync(Buffer.alloc(1 + Math.min(width, 4096) * 3)));
  return Buffer.concat([PNG_SIGNATURE, ihdrChunk, idat, pngChunk('IEND', Buffer.alloc(0))]);
}

/** A real, fully valid PNG of w × h grey pixels compressed to almost nothing (a decompression bomb within or beyond limits). */
export function uniformPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0; // greyscale
  const row = Buffer.alloc(1 + width, 0x80);
  row[0] = 0; // filter: none
  const raw = Buffer.alloc(row.length * height);
  for (let y = 0; y < height; y++) row.copy(raw, y * row.length);
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw, { level: 9 })), pngChunk('IEND', Buffer.alloc(0))]);
}

/** Rewrite the first SOFn marker of a JPEG to claim width × height. */
export function jpegWithDeclaredSize(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; ) {
    if (out[i] !== 0xff) throw new Error('not a marker');
    const marker = out[i + 1]!;
    const len = out.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker');
}

/** A GIF header + logical screen + one image descriptor claiming w × h, with a token of LZW data. */
export function gifWithDeclaredSize(width: number, height: number): Buffer {
  const head = Buffer.from('GIF89a', 'latin1');
  const lsd = Buffer.alloc(7);
  lsd.writeUInt16LE(width, 0);
  lsd.writeUInt16LE(height, 2);
  lsd[4] = 0x80; // global colour table, 2 entries
  const gct = Buffer.from([0, 0, 0, 255, 255, 255]);
  const desc = Buffer.alloc(10);
  desc[0] = 0x2c;
  desc.writeUInt16LE(width, 5);
  desc.writeUInt16LE(height, 7);
  const lzw = Buffer.from([0x02, 0x02, 0x44, 0x01, 0x00]); // min code size 2, one tiny sub-block, terminator
  return Buffer.concat([head, lsd, gct, desc, lzw, Buffer.from([0x3b])]);
}

/** A lossless WebP with a VP8X header claiming a canvas of w × h (≤ 16384 each) around a tiny bitstream. */
export async function webpWithDeclaredSize(width: number, height: number): Promise<Buffer> {
  const small = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).webp({ lossless: true }).toBuffer();
  // RIFF <size> WEBP VP8L … → RIFF <size> WEBP VP8X(canvas) VP8L …
  const inner = small.subarray(12);
  const vp8x = Buffer.alloc(18);
  vp8x.write('VP8X', 0, 'latin1');
  vp8x.writeUInt32LE(10, 4);
  vp8x[8] = 0;
  vp8x.writeUIntLE(width - 1, 12, 3);
  vp8x.writeUIntLE(height - 1, 15, 3);
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), vp8x, inner]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/* ------------------------------------------------------------------------------------------ */
/* Images drawn with sharp                                                                     */

/** A 300 × 200 picture whose top-left quadrant is pure red and the rest blue: orientation is visible. */
export async function markedImage(width = 300, height = 200): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="#0000ff"/><rect width="${width / 2}" height="${height / 2}" fill="#ff0000"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

const ORIENT_CANDIDATES: ((s: Sharp) => Sharp)[] = [
  (s) => s,
  (s) => s.flop(),
  (s) => s.rotate(180),
  (s) => s.flip(),
  (s) => s.rotate(90).flop(),
  (s) => s.rotate(90),
  (s) => s.rotate(270).flop(),
  (s) => s.rotate(270),
];

/** Is the top-left pixel region red (and the bottom-right blue)? Orientation check on a marked image. */
export async function redTopLeft(img: Buffer): Promise<boolean> {
  const { data, info } = await sharp(img).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const px = (x: number, y: number) => {
    const i = (y * info.width + x) * info.channels;
    return [data[i]!, data[i + 1]!, data[i + 2]!] as const;
  };
  const tl = px(Math.floor(info.width * 0.1), Math.floor(info.height * 0.1));
  const br = px(Math.floor(info.width * 0.9), Math.floor(info.height * 0.9));
  return tl[0] > 180 && tl[2] < 80 && br[2] > 180 && br[0] < 80;
}

/**
 * A JPEG whose stored pixels are the marked picture transformed so that a viewer honouring EXIF
 * orientation `o` shows it upright. The right inverse is found by trial with sharp's own
 * autoOrient, so the fixture does not depend on remembering the EXIF table correctly.
 */
export async function orientedJpeg(o: number): Promise<Buffer> {
  const upright = await markedImage();
  for (const t of ORIENT_CANDIDATES) {
    const stored = await t(sharp(upright)).jpeg({ quality: 92 }).withMetadata({ orientation: o }).toBuffer();
    const shown = await sharp(stored).autoOrient().png().toBuffer();
    const meta = await sharp(shown).metadata();
    if (meta.width === 300 && meta.height === 200 && (await redTopLeft(shown))) return stored;
  }
  throw new Error(`no transform gives an upright picture for orientation ${o}`);
}

/** Split a GIF into its head (header, screen, global table) and its first frame (GCE + descriptor + data). */
function gifParts(gif: Buffer): { head: Buffer; frame: Buffer } {
  let i = 13;
  const flags = gif[10]!;
  if (flags & 0x80) i += 3 * 2 ** ((flags & 7) + 1);
  const head = gif.subarray(0, i);
  const skipSubBlocks = (at: number) => {
    while (gif[at]! !== 0) at += gif[at]! + 1;
    return at + 1;
  };
  let frameStart = -1;
  while (i < gif.length) {
    const b = gif[i]!;
    if (b === 0x21) {
      const label = gif[i + 1]!;
      if (label === 0xf9 && frameStart < 0) frameStart = i;
      i = skipSubBlocks(i + 2);
    } else if (b === 0x2c) {
      if (frameStart < 0) frameStart = i;
      const lflags = gif[i + 9]!;
      let j = i + 10;
      if (lflags & 0x80) j += 3 * 2 ** ((lflags & 7) + 1);
      j = skipSubBlocks(j + 1); // LZW minimum code size, then the data sub-blocks
      return { head, frame: gif.subarray(frameStart, j) };
    } else throw new Error(`unexpected GIF block 0x${b.toString(16)}`);
  }
  throw new Error('no frame in the GIF');
}

/**
 * An animated GIF of `frames` copies of one width × height frame, built by repeating the
 * encoded frame bytes (cheap: no encoder runs over frames × pixels).
 */
export async function animatedGif(frames: number, width: number, height: number): Promise<Buffer> {
  const one = await sharp({ create: { width, height, channels: 3, background: '#c04080' } }).gif().toBuffer();
  const { head, frame } = gifParts(one);
  const loop = Buffer.from([0x21, 0xff, 0x0b, ...Buffer.from('NETSCAPE2.0', 'latin1'), 0x03, 0x01, 0x00, 0x00, 0x00]);
  return Buffer.concat([head, loop, ...new Array<Buffer>(frames).fill(frame), Buffer.from([0x3b])]);
}

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY a "lollollollollollollollollollol">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
  <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
  <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
  <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
  <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
  <!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">
]>
<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><text x="0" y="50">&i;</text></svg>`;

const xxeSvg = `<?xml version="1.0"?>
<!DOCTYPE svg [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="200" height="100" fill="#0f0"/><text x="0" y="50">&xxe;</text></svg>`;

function scriptSvg(): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80" onload="alert(1)">
  <script>alert(document.cookie)</script>
  <a href="javascript:alert(2)"><rect width="120" height="80" fill="#00ff00"/></a>
  <foreignObject width="10" height="10"><iframe xmlns="http://www.w3.org/1999/xhtml" src="javascript:alert(3)"/></foreignObject>
</svg>`;
}

/** An SVG pulling images and styles from elsewhere: the canary URL must never be fetched. */
export function externalRefSvg(canaryUrl: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="120" height="80">
  <style>@import url("${canaryUrl}/style.css");</style>
  <rect width="120" height="80" fill="#00ff00"/>
  <image x="0" y="0" width="60" height="40" href="${canaryUrl}/pixel.png"/>
  <image x="60" y="40" width="60" height="40" xlink:href="file:///etc/hostname"/>
  <use href="${canaryUrl}/sprite.svg#a"/>
  <rect width="10" height="10" fill="url(${canaryUrl}/pattern.svg#p)"/>
</svg>`;
}

/* ------------------------------------------------------------------------------------------ */
/* The corpus                                                                                  */

const isFormat = (format: string): ImageOutcome => ({ format });

/**
 * Every adversarial input. `canaryUrl` is a loopback server the SVG cases reference; the test
 * asserts it received nothing. `maxInputBytes` is the origin's configured input limit.
 */
export async function buildCorpus(opts: { canaryUrl: string; maxInputBytes: number }): Promise<CorpusEntry[]> {
  const photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#3366cc', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .jpeg({ quality: 85 })
    .toBuffer();
  const png = await sharp(photo).png().toBuffer();
  const webp = await sharp(photo).webp({ quality: 80 }).toBuffer();
  const gif = await sharp(photo).resize(160).gif().toBuffer();
  const half = (b: Buffer) => b.subarray(0, Math.floor(b.length / 2));
  const entries: CorpusEntry[] = [];
  const add = (e: CorpusEntry) => entries.push(e);

  // Controls: the same bytes, intact.
  add({ name: 'control-jpeg', key: 'ok/photo.jpg', contentType: 'image/jpeg', body: photo, tr: 'w-100', image: { format: 'jpeg', width: 100, height: 75 }, why: 'control' });
  add({ name: 'control-png', key: 'ok/photo.png', contentType: 'image/png', body: png, tr: 'w-100', image: { format: 'png', width: 100, height: 75 }, why: 'control' });
  add({ name: 'control-webp', key: 'ok/photo.webp', contentType: 'image/webp', body: webp, tr: 'w-100,f-webp', image: { format: 'webp', width: 100 }, why: 'control' });
  add({ name: 'control-gif', key: 'ok/photo.gif', contentType: 'image/gif', body: gif, tr: 'w-100', image: { format: 'gif', width: 100 }, why: 'control' });

  // Truncated files: the header reads, the pixels run out. libvips with failOn=error refuses them.
  const truncated: [string, Buffer, string, string][] = [
    ['jpeg', half(photo), 'image/jpeg', 'jpg'],
    ['png', half(png), 'image/png', 'png'],
    ['webp', half(webp), 'image/webp', 'webp'],
    ['gif', half(gif), 'image/gif', 'gif'],
    ['jpeg-header-only', photo.subarray(0, 200), 'image/jpeg', 'jpg'],
    ['png-signature-only', PNG_SIGNATURE, 'image/png', 'png'],
  ];
  for (const [what, body, ct, ext] of truncated)
    add({
      name: `truncated-${what}`,
      key: `bad/truncated-${what}.${ext}`,
      contentType: ct,
      body,
      tr: 'w-100',
      errors: [EDECODE],
      why: 'pixel data ends early: 422 EDECODE (the pipeline decodes with failOn: error), never a best-effort image or a 5xx',
    });

  // Corrupt headers.
  add({ name: 'png-bad-ihdr-crc', key: 'bad/crc.png', contentType: 'image/png', body: pngWithDeclaredSize(64, 64, { badCrc: true }), tr: 'w-50', errors: [EDECODE], why: 'IHDR CRC mismatch' });
  add({ name: 'png-bad-bit-depth', key: 'bad/depth.png', contentType: 'image/png', body: pngWithDeclaredSize(64, 64, { bitDepth: 7 }), tr: 'w-50', errors: [EDECODE], why: 'invalid IHDR bit depth' });
  add({ name: 'png-zero-width', key: 'bad/zero-width.png', contentType: 'image/png', body: pngWithDeclaredSize(0, 64), tr: 'w-50', errors: [EDECODE], why: 'IHDR width 0' });
  const garbledJpeg = Buffer.from(photo);
  randomBytes(400, 7).copy(garbledJpeg, 20);
  add({ name: 'jpeg-garbled-tables', key: 'bad/garbled.jpg', contentType: 'image/jpeg', body: garbledJpeg, tr: 'w-100', errors: [EDECODE], why: 'quantisation/huffman tables overwritten' });
  add({ name: 'jpeg-soi-then-noise', key: 'bad/soi-noise.jpg', contentType: 'image/jpeg', body: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(4000, 11)]), tr: 'w-100', errors: [EDECODE], why: 'JPEG magic, then noise' });
  add({ name: 'png-signature-then-noise', key: 'bad/sig-noise.png', contentType: 'image/png', body: Buffer.concat([PNG_SIGNATURE, randomBytes(4000, 12)]), tr: 'w-100', errors: [EDECODE], why: 'PNG magic, then noise' });
  add({ name: 'gif-magic-then-noise', key: 'bad/noise.gif', contentType: 'image/gif', body: Buffer.concat([Buffer.from('GIF89a', 'latin1'), randomBytes(2000, 13)]), tr: 'w-100', errors: [EDECODE], why: 'GIF magic, then noise' });
  add({ name: 'webp-riff-then-noise', key: 'bad/noise.webp', contentType: 'image/webp', body: Buffer.concat([Buffer.from('RIFF\x00\x10\x00\x00WEBPVP8 ', 'latin1'), randomBytes(2000, 14)]), tr: 'w-100', errors: [EDECODE], why: 'WebP magic, then noise' });

  // Zero bytes and non-images.
  add({ name: 'zero-bytes', key: 'bad/empty.jpg', contentType: 'image/jpeg', body: Buffer.alloc(0), tr: 'w-100', errors: [EDECODE], why: 'an empty object is not an image' });
  add({ name: 'html-as-jpeg', key: 'bad/page.jpg', contentType: 'image/jpeg', body: Buffer.from('<!doctype html><html><body><script>alert(1)</script></body></html>'), tr: 'w-100', errors: [EDECODE], why: 'HTML is not an image, whatever the extension says' });
  add({ name: 'json', key: 'bad/data.json', contentType: 'application/json', body: Buffer.from('{"hello":"world"}'), tr: 'w-100', errors: [EBADTR], why: 'JSON is a file, not an image: a transformation on it is refused' });
  add({ name: 'pdf-header', key: 'bad/doc.pdf', contentType: 'application/pdf', body: Buffer.from('%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF'), tr: 'w-100', errors: [EBADTR], why: 'PDF is a file served as it is (no poppler loader in use): a transformation on it is refused' });
  add({ name: 'random-bytes', key: 'bad/random.bin', contentType: 'application/octet-stream', body: randomBytes(10_000, 21), tr: 'w-100', errors: [EBADTR], why: 'noise is an application/octet-stream file: a transformation on it is refused' });
  add({ name: 'elf-binary-as-png', key: 'bad/elf.png', contentType: 'image/png', body: Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), randomBytes(1000, 22)]), tr: 'w-100', errors: [EDECODE], why: 'an executable named .png' });
  add({ name: 'text-plain', key: 'bad/readme.txt', contentType: 'text/plain', body: Buffer.from('just some text\n'.repeat(50)), tr: 'w-100', errors: [EBADTR], why: 'text is a file, not an image: a transformation on it is refused' });
  add({ name: 'tr-original-on-html', key: 'bad/page2.jpg', contentType: 'image/jpeg', body: Buffer.from('<html>x</html>'), tr: 'w-100,q-50', errors: [EDECODE], why: 'a second variant of a non-image, same answer' });

  // Wrong extension / content type: the bytes decide.
  add({ name: 'png-named-jpg', key: 'lie/png-as.jpg', contentType: 'image/jpeg', body: png, tr: 'w-100', image: { width: 100 }, why: 'magic bytes, not the extension' });
  add({ name: 'jpeg-named-png-octet-stream', key: 'lie/jpeg-as.png', contentType: 'application/octet-stream', body: photo, tr: 'w-100', image: { width: 100 }, why: 'magic bytes, not the content type' });
  add({ name: 'webp-named-gif-text-html', key: 'lie/webp-as.gif', contentType: 'text/html', body: webp, tr: 'w-100', image: { width: 100 }, why: 'magic bytes, not the content type' });

  // Declared-size bombs: tiny files claiming enormous canvases. Refused from the header (ELIMIT), never decoded.
  add({ name: 'png-bomb-100000x100000', key: 'bomb/png-100k.png', contentType: 'image/png', body: pngWithDeclaredSize(100_000, 100_000), tr: 'w-100', errors: [ELIMIT], why: '10^10 pixels declared' });
  add({ name: 'png-bomb-1x2000000000', key: 'bomb/png-tall.png', contentType: 'image/png', body: pngWithDeclaredSize(1, 2_000_000_000), tr: 'w-100', errors: [ELIMIT, EDECODE], why: '2·10^9 pixels declared (beyond libpng’s own height limit, so EDECODE is also fair)' });
  add({ name: 'png-bomb-16bit-rgba', key: 'bomb/png-16.png', contentType: 'image/png', body: pngWithDeclaredSize(50_000, 50_000, { bitDepth: 16, colourType: 6 }), tr: 'w-100', errors: [ELIMIT], why: '2.5·10^9 16-bit RGBA pixels declared' });
  add({ name: 'jpeg-bomb-65500x65500', key: 'bomb/jpeg-65500.jpg', contentType: 'image/jpeg', body: jpegWithDeclaredSize(photo, 65500, 65500), tr: 'w-100', errors: [ELIMIT], why: 'SOF claims 65500×65500' });
  add({ name: 'gif-bomb-65535x65535', key: 'bomb/gif-65535.gif', contentType: 'image/gif', body: gifWithDeclaredSize(65535, 65535), tr: 'w-100', errors: [ELIMIT, EDECODE], why: 'logical screen 65535×65535 with no real data' });
  add({ name: 'webp-bomb-16384x16384', key: 'bomb/webp-16k.webp', contentType: 'image/webp', body: await webpWithDeclaredSize(16384, 16384), tr: 'w-100', errors: [ELIMIT, EDECODE], why: 'VP8X canvas 16384² = 268 MP' });
  add({ name: 'svg-bomb-100000x100000', key: 'bomb/huge.svg', contentType: 'image/svg+xml', body: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100%" height="100%" fill="red"/></svg>'), tr: 'f-png,w-100', errors: [ELIMIT], image: { width: 100 }, why: 'a vector may be rasterised at the requested size; rasterising 10^10 px is a limit' });
  // A real decompression bomb: a valid 10001×10001 PNG of ~100 kB (just over the 100 MP limit).
  add({ name: 'png-real-bomb-10001x10001', key: 'bomb/real-10001.png', contentType: 'image/png', body: uniformPng(10_001, 10_001), tr: 'w-100', errors: [ELIMIT], why: 'valid pixels, 100.02 MP > 100 MP' });
  // Within the limit: a 6000×6000 valid PNG of a few kB must render, with RSS bounded.
  add({ name: 'png-large-allowed-6000x6000', key: 'bomb/allowed-6000.png', contentType: 'image/png', body: uniformPng(6000, 6000), tr: 'w-100', image: { width: 100, height: 100 }, why: '36 MP, under the limit: a correct image' });

  // Oversized input (bytes): the origin's configured limit + 1.
  add({ name: 'input-over-byte-limit', key: 'bomb/too-big.jpg', contentType: 'image/jpeg', body: Buffer.concat([photo, randomBytes(opts.maxInputBytes + 1 - photo.length, 31)]), tr: 'w-100', errors: [ELIMIT_413, ELIMIT], why: 'one byte over PIXMESH_MAX_INPUT_BYTES' });

  // Animation.
  const manyFrames = await animatedGif(1000, 16, 16);
  add({ name: 'gif-1000-frames-as-gif', key: 'anim/many.gif', contentType: 'image/gif', body: manyFrames, tr: 'w-16,f-gif', errors: [ELIMIT], why: '1000 frames kept animated > PIXMESH_MAX_FRAMES (100): 400 ELIMIT' });
  add({ name: 'gif-1000-frames-as-jpeg', key: 'anim/many.gif', contentType: 'image/gif', body: manyFrames, tr: 'w-16,f-jpg', image: { format: 'jpeg', width: 16 }, why: 'a still output reads the first frame only (1000 × 16 × 16 px is far under the pixel limit)' });
  const bigFrames = await animatedGif(120, 1000, 1000);
  add({ name: 'gif-120-frames-of-1000x1000', key: 'anim/big-frames.gif', contentType: 'image/gif', body: bigFrames, tr: 'w-100', errors: [ELIMIT], why: '120 frames > PIXMESH_MAX_FRAMES and 120 MP over all frames: 400 ELIMIT' });

  // Colour and depth.
  add({
    name: 'cmyk-jpeg',
    key: 'colour/cmyk.jpg',
    contentType: 'image/jpeg',
    body: await sharp(photo).toColourspace('cmyk').jpeg().toBuffer(),
    tr: 'w-100',
    image: {
      format: 'jpeg',
      width: 100,
      check: async (m) => (m.channels === 3 && m.space === 'srgb' ? null : `expected 3-channel sRGB output, got ${m.channels} channels in ${m.space}`),
    },
    why: 'CMYK in, sRGB out',
  });
  add({
    name: 'png-16-bit',
    key: 'colour/16bit.png',
    contentType: 'image/png',
    body: await sharp(photo).toColourspace('rgb16').png().toBuffer(),
    tr: 'w-100',
    image: { format: 'png', width: 100 },
    why: '16-bit PNG decodes',
  });
  add({
    name: 'png-grey-alpha',
    key: 'colour/grey-alpha.png',
    contentType: 'image/png',
    body: await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 128, g: 128, b: 128, alpha: 0.5 } } }).toColourspace('b-w').png().toBuffer(),
    tr: 'w-32',
    image: { width: 32 },
    why: 'grey + alpha',
  });

  // EXIF orientations 1–8: always shown upright (account autoRotate default true).
  for (let o = 1; o <= 8; o++)
    add({
      name: `exif-orientation-${o}`,
      key: `exif/orientation-${o}.jpg`,
      contentType: 'image/jpeg',
      body: await orientedJpeg(o),
      tr: 'w-150',
      image: {
        format: 'jpeg',
        width: 150,
        height: 100,
        check: async (_m, body) => ((await redTopLeft(body)) ? null : 'the picture is not upright (red quadrant not top-left)'),
      },
      why: 'auto-rotation from EXIF',
    });

  // SVG, rasterised (an explicit raster format; without one an SVG is served sanitised: test/e2e/static.test.ts).
  add({ name: 'svg-script-and-handlers', key: 'svg/script.svg', contentType: 'image/svg+xml', body: Buffer.from(scriptSvg()), tr: 'f-png,w-60', errors: [EACCES], why: 'rasterising an SVG with a javascript: link is refused by the SVG guard (served as SVG it is sanitised instead: test/e2e/static.test.ts)' });
  add({ name: 'svg-external-references', key: 'svg/external.svg', contentType: 'image/svg+xml', body: Buffer.from(externalRefSvg(opts.canaryUrl)), tr: 'f-png,w-60', errors: [EACCES], why: 'external references (@import, remote href) are refused by the SVG guard before anything is fetched' });
  add({ name: 'svg-billion-laughs', key: 'svg/laughs.svg', contentType: 'image/svg+xml', body: Buffer.from(billionLaughs), tr: 'f-png,w-60', errors: [EDECODE], image: { format: 'png' }, why: 'entity expansion is capped by libxml2: refused or rendered, bounded in time and memory' });
  add({ name: 'svg-xxe-file', key: 'svg/xxe.svg', contentType: 'image/svg+xml', body: Buffer.from(xxeSvg), tr: 'f-png,w-60', errors: [EDECODE], image: { format: 'png' }, why: 'external entities are not loaded' });
  add({ name: 'svg-not-xml', key: 'svg/broken.svg', contentType: 'image/svg+xml', body: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect'), tr: 'f-png,w-60', errors: [EDECODE], why: 'broken XML' });
  add({
    name: 'svg-deep-nesting',
    key: 'svg/deep.svg',
    contentType: 'image/svg+xml',
    body: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50">${'<g>'.repeat(5000)}<rect width="50" height="50"/>${'</g>'.repeat(5000)}</svg>`),
    tr: 'f-png,w-50',
    errors: [EDECODE],
    image: { format: 'png' },
    why: '5000 nested groups: bounded recursion',
  });
  return entries;
}

/** Check a 200 answer against an image outcome; returns the problems found (empty = fine). */
export async function checkImage(outcome: ImageOutcome, body: Buffer): Promise<string[]> {
  let meta: Metadata;
  try {
    meta = await sharp(body).metadata();
  } catch (e) {
    return [`the 200 answer is not a decodable image (${(e as Error).message})`];
  }
  const problems: string[] = [];
  if (outcome.format && meta.format !== outcome.format) problems.push(`format ${meta.format}, expected ${outcome.format}`);
  if (outcome.width !== undefined && meta.width !== outcome.width) problems.push(`width ${meta.width}, expected ${outcome.width}`);
  if (outcome.height !== undefined && (meta.pageHeight ?? meta.height) !== outcome.height) problems.push(`height ${meta.pageHeight ?? meta.height}, expected ${outcome.height}`);
  if (meta.format === 'svg') problems.push('an SVG was served as-is');
  if (outcome.check) {
    const p = await outcome.check(meta, body);
    if (p) problems.push(p);
  }
  return problems;
}
