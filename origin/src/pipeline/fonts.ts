/**
 * Fonts for text layers. Built-in fonts ship inside npm packages (no system fonts needed):
 * Open Sans from `open-sans-fonts` (Apache-2.0) and DejaVu Sans / Serif / Sans Mono from
 * `dejavu-fonts-ttf` (Bitstream Vera licence + public domain); licences in docs/fonts.md.
 * Custom fonts are TTF/OTF files of the account's media library: written once to a temp folder
 * (keyed by content hash) because libvips/fontconfig load fonts from files, and their family
 * name is read from the font's `name` table (pango selects fonts by family).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { badTransformation } from '../../../shared/errors.js';
import { BUILTIN_FONTS } from '../../../shared/transform/index.js';

export interface FontChoice {
  /** The family pango selects. */
  family: string;
  /** The file registered with fontconfig for this face. */
  file: string;
}

type Face = 'regular' | 'bold' | 'italic' | 'boldItalic';
const require = createRequire(import.meta.url);
const pkgDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

const OPEN_SANS = (face: string, file: string) => join(pkgDir('open-sans-fonts'), 'open-sans', face, file);
const DEJAVU = (file: string) => join(pkgDir('dejavu-fonts-ttf'), 'ttf', file);

const BUILTIN_FILES: Record<string, Record<Face, string>> = {
  opensans: {
    regular: OPEN_SANS('Regular', 'OpenSans-Regular.ttf'),
    bold: OPEN_SANS('Bold', 'OpenSans-Bold.ttf'),
    italic: OPEN_SANS('Italic', 'OpenSans-Italic.ttf'),
    boldItalic: OPEN_SANS('BoldItalic', 'OpenSans-BoldItalic.ttf'),
  },
  dejavusans: {
    regular: DEJAVU('DejaVuSans.ttf'),
    bold: DEJAVU('DejaVuSans-Bold.ttf'),
    italic: DEJAVU('DejaVuSans-Oblique.ttf'),
    boldItalic: DEJAVU('DejaVuSans-BoldOblique.ttf'),
  },
  dejavuserif: {
    regular: DEJAVU('DejaVuSerif.ttf'),
    bold: DEJAVU('DejaVuSerif-Bold.ttf'),
    italic: DEJAVU('DejaVuSerif-Italic.ttf'),
    boldItalic: DEJAVU('DejaVuSerif-BoldItalic.ttf'),
  },
  dejavusansmono: {
    regular: DEJAVU('DejaVuSansMono.ttf'),
    bold: DEJAVU('DejaVuSansMono-Bold.ttf'),
    italic: DEJAVU('DejaVuSansMono-Oblique.ttf'),
    boldItalic: DEJAVU('DejaVuSansMono-BoldOblique.ttf'),
  },
};

export function builtinFont(id: string, bold: boolean, italic: boolean): FontChoice {
  const files = BUILTIN_FILES[id];
  const family = BUILTIN_FONTS[id];
  if (!files || !family) throw badTransformation(`ff: unknown built-in font ${JSON.stringify(id)}`);
  const face: Face = bold && italic ? 'boldItalic' : bold ? 'bold' : italic ? 'italic' : 'regular';
  return { family, file: files[face] };
}

/** Every built-in font file (for the startup check and tests). */
export function builtinFontFiles(): string[] {
  return Object.values(BUILTIN_FILES).flatMap((f) => Object.values(f));
}

/** Largest custom font file accepted. */
export const MAX_FONT_BYTES = 10 * 1024 * 1024;
const FONT_DIR = join(tmpdir(), `pixmesh-fonts-${process.pid}`);
const custom = new Map<string, FontChoice>();

/** The family name (name ID 1, or 16 when present) from a TrueType/OpenType `name` table. */
export function fontFamilyName(buf: Buffer): string | undefined {
  if (buf.length < 12) return undefined;
  const numTables = buf.readUInt16BE(4);
  for (let t = 0; t < numTables; t++) {
    const rec = 12 + t * 16;
    if (rec + 16 > buf.length) return undefined;
    if (buf.toString('latin1', rec, rec + 4) !== 'name') continue;
    const off = buf.readUInt32BE(rec + 8);
    if (off + 6 > buf.length) return undefined;
    const count = buf.readUInt16BE(off + 2);
    const strings = off + buf.readUInt16BE(off + 4);
    const found: Record<number, string> = {};
    for (let i = 0; i < count; i++) {
      const r = off + 6 + i * 12;
      if (r + 12 > buf.length) break;
      const platform = buf.readUInt16BE(r);
      const nameId = buf.readUInt16BE(r + 6);
      const len = buf.readUInt16BE(r + 8);
      const start = strings + buf.readUInt16BE(r + 10);
      if ((nameId !== 1 && nameId !== 16) || start + len > buf.length) continue;
      let s: string;
      if (platform === 3 || platform === 0) {
        const chars: number[] = [];
        for (let k = 0; k + 1 < len; k += 2) chars.push(buf.readUInt16BE(start + k));
        s = String.fromCharCode(...chars);
      } else s = buf.toString('latin1', start, start + len);
      if (s && !found[nameId]) found[nameId] = s;
    }
    return (found[16] ?? found[1])?.replace(/[^\p{L}\p{N} _.-]/gu, '').trim() || undefined;
  }
  return undefined;
}

/** Register a custom font file (TTF/OTF bytes) once; its family for pango. */
export function customFont(path: string, bytes: Buffer): FontChoice {
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 32);
  const known = custom.get(hash);
  if (known) return known;
  if (bytes.length > MAX_FONT_BYTES) throw badTransformation(`ff: the font file "${path}" is larger than ${MAX_FONT_BYTES} bytes`);
  const magic = bytes.subarray(0, 4).toString('latin1');
  const sfnt = magic === '\x00\x01\x00\x00' || magic === 'OTTO' || magic === 'true';
  if (!sfnt) throw badTransformation(`ff: "${path}" is not a TrueType or OpenType font (.ttf / .otf)`);
  const family = fontFamilyName(bytes);
  if (!family) throw badTransformation(`ff: "${path}" has no readable family name`);
  mkdirSync(FONT_DIR, { recursive: true });
  const file = join(FONT_DIR, `${hash}${magic === 'OTTO' ? '.otf' : '.ttf'}`);
  if (!existsSync(file)) writeFileSync(file, bytes);
  const choice = { family, file };
  if (custom.size > 200) custom.clear();
  custom.set(hash, choice);
  return choice;
}
