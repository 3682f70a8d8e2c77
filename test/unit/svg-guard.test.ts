/**
 * The SVG guard (origin/src/pipeline/svg-guard.ts): what an SVG makes librsvg decode or expand is
 * measured and refused before rasterising. PNG headers claiming huge sizes stand in for the
 * embedded bombs: the guard reads headers only, like the attack's victim (librsvg) would not.
 */
import { crc32, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { isPixmeshError } from '../../shared/errors.js';
import { DEFAULT_SVG_LIMITS, inspectSvg, looksLikeSvg } from '../../origin/src/pipeline/svg-guard.js';
import { sniffUpload } from '../../origin/src/media/upload.js';
import { checkInputPixels } from '../../origin/src/limits.js';

/** A PNG whose IHDR claims width×height (the pixel data is a tiny valid stream for 1×1). */
export function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.from([0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1])), chunk('IEND', Buffer.alloc(0))]);
}

const dataUri = (buf: Buffer, type = 'image/png') => `data:${type};base64,${buf.toString('base64')}`;
const svg = (body: string, size = 100) => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${size}" height="${size}">${body}</svg>`);
const useBomb = (levels: number, fan: number) => {
  let s = '<defs><rect id="l0" width="1" height="1"/>';
  for (let l = 1; l <= levels; l++) s += `<g id="l${l}">${Array.from({ length: fan }, () => `<use href="#l${l - 1}"/>`).join('')}</g>`;
  return svg(`${s}</defs><use href="#l${levels}"/>`);
};

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return isPixmeshError(e) ? `${e.status} ${e.code}` : `crash ${String(e)}`;
  }
}

describe('SVG guard: refused before rasterising', () => {
  const small = pngClaiming(100, 100);
  const huge = pngClaiming(20000, 20000);
  const fourMp = pngClaiming(2000, 2000);
  it.each<[string, string, Buffer]>([
    ['a plain drawing', 'ok', svg('<rect width="50" height="50" fill="red"/><circle cx="5" cy="5" r="3" fill="url(#g)"/><linearGradient id="g"/>')],
    ['a small embedded PNG', 'ok', svg(`<image width="10" height="10" href="${dataUri(small)}"/>`)],
    ['a 100×100 SVG carrying a data: PNG of 20000×20000', '400 ELIMIT', svg(`<image width="10" height="10" href="${dataUri(huge)}"/>`)],
    ['the same via xlink:href', '400 ELIMIT', svg(`<image width="10" height="10" xlink:href="${dataUri(huge)}"/>`)],
    ['the same as a filter input (feImage)', '400 ELIMIT', svg(`<filter id="f"><feImage href="${dataUri(huge)}"/></filter><rect filter="url(#f)" width="9" height="9"/>`)],
    ['a 4 MP image instantiated 30 times by <use> (120 MP)', '400 ELIMIT', svg(`<defs><image id="i" href="${dataUri(fourMp)}"/></defs>${'<use href="#i"/>'.repeat(30)}`)],
    ['a 4 MP image used 3 times (12 MP)', 'ok', svg(`<defs><image id="i" href="${dataUri(fourMp)}"/></defs>${'<use href="#i"/>'.repeat(3)}`)],
    ['an SVG data: URI nesting the huge PNG', '400 ELIMIT', svg(`<image href="${dataUri(svg(`<image href="${dataUri(huge)}"/>`), 'image/svg+xml')}"/>`)],
    ['a <use> bomb: 8 levels × 10 (10^8 elements)', '400 ELIMIT', useBomb(8, 10)],
    ['a small <use> tree: 2 levels × 10', 'ok', useBomb(2, 10)],
    ['a <use> reference cycle', '400 ELIMIT', svg('<g id="a"><use href="#b"/></g><g id="b"><use href="#a"/></g>')],
    ['40 filter primitives', '400 ELIMIT', svg(`<filter id="f">${'<feGaussianBlur stdDeviation="50"/>'.repeat(40)}</filter><rect filter="url(#f)" width="9" height="9"/>`)],
    ['20 patterns', '400 ELIMIT', svg('<pattern id="p" width="1" height="1"/>'.repeat(20))],
    ['<image> pointing at a local file', '403 EACCES', svg('<image href="file:///etc/passwd"/>')],
    ['<image> with a relative reference', '403 EACCES', svg('<image href="secret.png"/>')],
    ['<use> of another document', '403 EACCES', svg('<use href="other.svg#x"/>')],
    ['<image> fetching a URL', '403 EACCES', svg('<image href="http://169.254.169.254/latest/meta-data"/>')],
    ['an entity declaration', '403 EACCES', Buffer.from('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>')],
    ['XInclude', '403 EACCES', svg('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd" parse="text"/>')],
    ['CSS @import', '403 EACCES', svg('<style>@import url(http://example.com/x.css);</style>')],
    ['a style attribute with an external url()', '403 EACCES', svg('<rect style="fill: url(http://x/y)" width="1" height="1"/>')],
    ['an xml-stylesheet instruction', '403 EACCES', Buffer.from('<?xml-stylesheet href="http://x/s.css"?><svg xmlns="http://www.w3.org/2000/svg"/>')],
    ['the huge PNG hidden in an svgz', '400 ELIMIT', gzipSync(svg(`<image href="${dataUri(huge)}"/>`))],
    ['a comment does not hide an external reference from the count', '403 EACCES', svg('<!-- x --><image href="/etc/hosts"/>')],
    ['a zip bomb svgz (over 10 MB decompressed)', '400 ELIMIT', gzipSync(Buffer.concat([svg(''), Buffer.alloc(11 * 1024 * 1024, 32)]))],
  ])('%s → %s', async (_name, expected, input) => {
    expect(await outcome(inspectSvg(input, DEFAULT_SVG_LIMITS))).toBe(expected);
  });

  it('counts what it measured: elements, embedded pixels, filters', async () => {
    const facts = await inspectSvg(svg(`<defs><image id="i" href="${dataUri(small)}"/></defs><use href="#i"/><use href="#i"/><filter id="f"><feFlood/></filter>`));
    expect(facts.embeddedPixels).toBe(3 * 100 * 100); // the definition plus two uses
    expect(facts.filterPrimitives).toBe(1);
    expect(facts.embeddedImages).toBe(1);
  });

  it('sniffs SVG (plain, with prolog, gzip) and not PNG', () => {
    expect(looksLikeSvg(svg(''))).toBe(true);
    expect(looksLikeSvg(Buffer.from('<?xml version="1.0"?>\n<!-- c -->\n<svg/>'))).toBe(true);
    expect(looksLikeSvg(gzipSync(svg('')))).toBe(true);
    expect(looksLikeSvg(pngClaiming(1, 1))).toBe(false);
  });

  // The sniff's answer for bytes around the tag: binary before it, any letter case, the 4 KB window's edge.
  const noise = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => [0xff, 0xd8, 0x80, 0xc3, 0x3c, 0x20, 0x00][i % 7]!));
  it.each<[string, Buffer, boolean]>([
    ['JPEG-like binary, no tag', Buffer.concat([noise(800_000)]), false],
    ['"<svg " after binary in the first 4 KB', Buffer.concat([noise(3000), Buffer.from('<svg width="1">')]), true],
    ['"<SvG>" in upper and mixed case', Buffer.concat([noise(10), Buffer.from('<SvG>')]), true],
    ['"<svg" ending the 4 KB window without its next character', Buffer.concat([noise(4092), Buffer.from('<svg ')]), false],
    ['"<svg/" fully inside the window by one byte', Buffer.concat([noise(4091), Buffer.from('<svg/')]), true],
    ['"<svg " after the first 4 KB', Buffer.concat([noise(5000), Buffer.from('<svg width="1">')]), false],
    ['"<svgx" is no svg tag', Buffer.from('<svgx>'), false],
  ])('sniffs %s → %s', (_name, buf, expected) => {
    expect(looksLikeSvg(buf)).toBe(expected);
  });

  it('the region refuses such an SVG before it takes a transform slot, and uploads refuse it too', async () => {
    const bomb = svg(`<image width="10" height="10" href="${dataUri(huge)}"/>`);
    expect(await outcome(checkInputPixels(bomb, {}, 'png', 100_000_000))).toBe('400 ELIMIT');
    expect(await outcome(sniffUpload(bomb, 'bomb.svg', 100_000_000, () => Infinity))).toBe('400 ELIMIT');
    expect(await outcome(sniffUpload(svg('<rect width="1" height="1"/>'), 'ok.svg', 100_000_000, () => Infinity))).toBe('ok');
    // sanity: sharp itself takes the bomb for a 100×100 SVG (that is the bypass being closed)
    const md = await sharp(bomb).metadata();
    expect([md.format, md.width, md.height]).toEqual(['svg', 100, 100]);
  });
});
