/**
 * The delivery decisions (shared/delivery.ts): what an original is, what is compressed and how,
 * byte ranges, Content-Disposition; and the SVG sanitiser against the hostile corpus.
 */
import { describe, expect, it } from 'vitest';
import {
  attachmentRequest,
  contentDisposition,
  decideDelivery,
  isActiveDocument,
  isCompressible,
  negotiateEncoding,
  parseRange,
  pathClass,
  transformsContent,
  wantsRaster,
} from '../../shared/delivery.js';
import { parseImagePath } from '../../shared/request.js';
import { parseTransformation } from '../../shared/transform/index.js';
import { sanitiseSvg } from '../../origin/src/delivery/svg.js';
import { compress, sniffType } from '../../origin/src/delivery/index.js';
import { activeContent, HOSTILE_SVGS } from '../helpers/svg-corpus.js';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import sharp from 'sharp';

describe('decideDelivery: what an original is', () => {
  it.each([
    // path, declared, sniffed → kind, content type
    ['app.js', 'text/javascript', null, 'file', 'text/javascript'],
    ['app.js', undefined, null, 'file', 'text/javascript'],
    ['app.js', 'application/octet-stream', null, 'file', 'text/javascript'],
    ['style.css', 'binary/octet-stream', null, 'file', 'text/css'],
    ['style.css', 'text/css; charset=utf-8', null, 'file', 'text/css; charset=utf-8'],
    ['font.woff2', undefined, 'font/woff2', 'file', 'font/woff2'],
    ['doc.pdf', 'application/octet-stream', 'application/pdf', 'file', 'application/pdf'],
    ['clip.mp4', undefined, 'video/mp4', 'file', 'video/mp4'],
    ['data.json', 'application/json', null, 'file', 'application/json'],
    ['blob', undefined, null, 'file', 'application/octet-stream'],
    ['blob', 'application/octet-stream', null, 'file', 'application/octet-stream'],
    ['weird.xyz123', undefined, null, 'file', 'application/octet-stream'],
    ['page.html', 'text/html', null, 'file', 'text/html'],
    ['logo.svg', 'image/svg+xml', null, 'svg', 'image/svg+xml'],
    ['logo.svg', undefined, null, 'svg', 'image/svg+xml'],
    ['logo', 'image/svg+xml', null, 'svg', 'image/svg+xml'],
    ['photo.jpg', 'image/jpeg', 'image/jpeg', 'image', 'image/jpeg'],
    // a raster image found in the bytes wins over a name or a generic type
    ['upload.bin', 'application/octet-stream', 'image/png', 'image', 'image/png'],
    ['noext', undefined, 'image/webp', 'image', 'image/webp'],
    // declared or named raster types go to the pipeline, which answers 422 if the bytes are not that image
    ['page.jpg', 'image/jpeg', null, 'image', 'image/jpeg'],
    ['elf.png', 'image/png', 'application/x-elf', 'image', 'image/png'],
    ['data.json', 'application/json', 'image/png', 'image', 'image/png'],
  ])('%s declared %s sniffed %s → %s %s', (path, declared, sniffed, kind, contentType) => {
    expect(decideDelivery({ path, declared, sniffed })).toEqual({ kind, contentType });
  });
});

describe('pathClass: what the edge can tell from the path', () => {
  it.each([
    ['sample.jpg', 'image'],
    ['a/b/photo.webp', 'image'],
    ['x.avif', 'image'],
    ['logo.svg', 'svg'],
    ['site/app.js', 'file'],
    ['style.css', 'file'],
    ['clip.mp4', 'file'],
    ['noext', 'unknown'],
    ['dir.v2/noext', 'unknown'],
  ])('%s → %s', (path, cls) => expect(pathClass(path)).toBe(cls));
});

describe('isCompressible: text-like types yes, compressed formats never', () => {
  it.each([
    ['text/css', true],
    ['text/javascript', true],
    ['text/plain; charset=utf-8', true],
    ['application/json', true],
    ['application/manifest+json', true],
    ['image/svg+xml', true],
    ['application/xml', true],
    ['application/wasm', true],
    ['font/ttf', true],
    ['font/otf', true],
    ['application/vnd.apple.mpegurl', true],
    ['font/woff', false],
    ['font/woff2', false],
    ['image/jpeg', false],
    ['image/png', false],
    ['image/webp', false],
    ['image/avif', false],
    ['video/mp4', false],
    ['application/pdf', false],
    ['application/zip', false],
    ['application/gzip', false],
    ['application/octet-stream', false],
    ['', false],
  ])('%s → %s', (type, expected) => expect(isCompressible(type)).toBe(expected));
});

describe('negotiateEncoding: br, else gzip, else identity', () => {
  it.each([
    ['gzip, deflate, br', 'br'],
    ['br', 'br'],
    ['gzip', 'gzip'],
    ['gzip;q=1, br;q=0.5', 'gzip'],
    ['br;q=0, gzip', 'gzip'],
    ['br;q=0.8, gzip;q=0.8', 'br'],
    ['*', 'br'],
    ['*;q=0.5, br;q=0', 'gzip'],
    ['deflate', 'identity'],
    ['identity', 'identity'],
    ['', 'identity'],
    [null, 'identity'],
    ['x-gzip', 'gzip'],
    ['gzip;q=0', 'identity'],
    ['gzip;q=abc', 'identity'],
  ])('Accept-Encoding %s → %s', (header, expected) => expect(negotiateEncoding(header)).toBe(expected));
});

describe('parseRange: one byte range against the size', () => {
  it.each([
    ['bytes=0-99', 1000, { kind: 'range', start: 0, end: 99 }],
    ['bytes=100-', 1000, { kind: 'range', start: 100, end: 999 }],
    ['bytes=-100', 1000, { kind: 'range', start: 900, end: 999 }],
    ['bytes=-5000', 1000, { kind: 'range', start: 0, end: 999 }],
    ['bytes=500-5000', 1000, { kind: 'range', start: 500, end: 999 }],
    ['bytes=999-999', 1000, { kind: 'range', start: 999, end: 999 }],
    ['bytes=1000-', 1000, { kind: 'unsatisfiable' }],
    ['bytes=2000-3000', 1000, { kind: 'unsatisfiable' }],
    ['bytes=-0', 1000, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=5-2', 1000, { kind: 'none' }],
    ['bytes=0-1,5-6', 1000, { kind: 'none' }],
    ['items=0-5', 1000, { kind: 'none' }],
    ['bytes=-', 1000, { kind: 'none' }],
    ['garbage', 1000, { kind: 'none' }],
    [null, 1000, { kind: 'none' }],
  ])('%s of %i bytes → %o', (header, size, expected) => expect(parseRange(header, size)).toEqual(expected));
});

describe('contentDisposition (RFC 6266)', () => {
  it.each([
    ['report.pdf', 'attachment; filename="report.pdf"'],
    ['my file.css', 'attachment; filename="my file.css"'],
    ['résumé.pdf', `attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`],
    ['a"b.txt', `attachment; filename="a'b.txt"; filename*=UTF-8''a%22b.txt`],
    ['../../etc/passwd', 'attachment; filename=".._.._etc_passwd"'],
    ['line\r\nbreak.txt', 'attachment; filename="linebreak.txt"'],
    ['100%.txt', `attachment; filename="100_.txt"; filename*=UTF-8''100%25.txt`],
    ['', 'attachment; filename="download"'],
  ])('%j → %s', (name, header) => expect(contentDisposition('attachment', name)).toBe(header));
});

describe('attachmentRequest: ?ik-attachment', () => {
  it.each([
    [[['ik-attachment', 'true']], 'css/site.css', { fileName: 'site.css' }],
    [[['ik-attachment', 'true'], ['ik-attachment-filename', 'nice name.css']], 'css/site.css', { fileName: 'nice name.css' }],
    [[['ik-attachment', 'false']], 'a.css', null],
    [[['ik-attachment-filename', 'x.css']], 'a.css', null],
    [[], 'a.css', null],
  ] as [[string, string][], string, unknown][])('%j on %s → %o', (query, path, expected) => expect(attachmentRequest(query, path)).toEqual(expected));

  it('refuses a value other than true/false with 400 EBADREQ', () => {
    expect(() => attachmentRequest([['ik-attachment', 'yes']], 'a.css')).toThrow(expect.objectContaining({ status: 400, code: 'EBADREQ' }));
  });

  it('keeps ik-attachment out of the identity (extraQuery) and in the request', () => {
    const account = { id: 'a', endpoints: [{ prefix: '', origins: [{ type: 'media' }] }] } as never;
    const req = parseImagePath(account, '/site.css', '?v=2&ik-attachment=true&ik-attachment-filename=x.css');
    expect(req.extraQuery).toEqual([['v', '2']]);
    expect(req.attachment).toEqual({ fileName: 'x.css' });
  });
});

describe('isActiveDocument: HTML and XML are never served inline', () => {
  it.each([
    ['text/html', true],
    ['text/html; charset=utf-8', true],
    ['application/xhtml+xml', true],
    ['application/xml', true],
    ['text/xml', true],
    ['image/svg+xml', false],
    ['text/css', false],
    ['text/plain', false],
  ])('%s → %s', (type, expected) => expect(isActiveDocument(type)).toBe(expected));
});

describe('transformsContent / wantsRaster: what a file served as is may carry', () => {
  const plan = (tr: string) => parseTransformation(tr, { namedTransforms: {} });
  it.each([
    ['', false, false],
    ['f-auto', false, false],
    ['f-orig', false, false],
    ['orig-true', false, false],
    ['orig-true,w-100', false, false],
    ['di-missing.png', false, false],
    ['w-100', true, false],
    ['q-50', true, false],
    ['f-png', true, true],
    ['f-webp,w-200', true, true],
    ['f-jpg', true, true],
  ])('tr %j → transforms %s, raster %s', (tr, transforms, raster) => {
    expect(transformsContent(plan(tr))).toBe(transforms);
    expect(wantsRaster(plan(tr))).toBe(raster);
  });
});

describe('sanitiseSvg against the hostile corpus', () => {
  it.each(HOSTILE_SVGS.map((c) => [c.name, c] as const))('%s: active content removed, the rest kept and still renderable', async (_name, c) => {
    const out = sanitiseSvg(Buffer.from(c.svg)).toString('utf8');
    expect(activeContent(c.svg).length, 'the corpus entry must contain active content to begin with').toBeGreaterThan(0);
    expect(activeContent(out)).toEqual([]);
    expect(out).toContain(c.keep);
    expect((await sharp(Buffer.from(out)).metadata()).format).toBe('svg');
  });

  it.each([
    ['not XML', 'hello'],
    ['unclosed root', '<svg xmlns="http://www.w3.org/2000/svg"><rect'],
    ['an external entity', '<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>'],
    ['an HTML document', '<html><body><script>alert(1)</script></body></html>'],
  ])('refuses %s with 422 EDECODE', (_name, svg) => {
    expect(() => sanitiseSvg(Buffer.from(svg))).toThrow(expect.objectContaining({ status: 422, code: 'EDECODE' }));
  });
});

describe('origin delivery helpers', () => {
  const text = Buffer.from('body { color: red; }\n'.repeat(200));
  it.each(['br', 'gzip'] as const)('compress(%s) is smaller and decodes to the original', async (enc) => {
    const out = await compress(text, enc, 'text/css');
    expect(out).not.toBeNull();
    expect(out!.length).toBeLessThan(text.length / 5);
    expect((enc === 'br' ? brotliDecompressSync(out!) : gunzipSync(out!)).equals(text)).toBe(true);
  });

  it('compress gives null when the result would not be smaller (random bytes)', async () => {
    const random = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 7919 + 13) % 256));
    expect(await compress(random, 'gzip', 'text/plain')).toBeNull();
  });

  it.each([
    ['PDF', Buffer.from('%PDF-1.7\n1 0 obj<<>>endobj\n'), 'application/pdf'],
    ['PNG', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), 'image/png'],
    ['WOFF2', Buffer.concat([Buffer.from('wOF2'), Buffer.from('00010000', 'hex'), Buffer.alloc(60)]), 'font/woff2'],
    ['CSS (no magic number)', Buffer.from('body{}'), null],
    ['nothing', Buffer.alloc(0), null],
  ])('sniffType finds %s', async (_name, body, expected) => {
    expect(await sniffType(body)).toBe(expected);
  });
});
