/**
 * Generators of hostile URLs for the grammar fuzzers (in-process and through the real edge).
 * Seeded: a failing case is reproduced by its seed and index, printed by the tests.
 */
import { prng } from './corpus.js';

/** Valid tokens, one per parameter: the pool reorderings and mutations start from. */
export const VALID_TOKENS = [
  'w-100', 'h-200', 'ar-4-3', 'c-at_max', 'cm-pad_resize', 'fo-top', 'x-10', 'y-10', 'z-0.5', 'dpr-2', 'bl-5',
  'e-grayscale', 'e-contrast', 'e-sharpen-10', 'e-usm-2-2-0.8-0.024', 't-true', 'b-5_FF0000', 'r-20', 'rt-90', 'fl-h',
  'bg-FF0000', 'o-50', 'q-75', 'f-webp', 'pr-true', 'lo-true', 'cp-true', 'md-true',
];

const KEYS = [...new Set(VALID_TOKENS.map((t) => (t.startsWith('e-') ? t.split('-').slice(0, 2).join('-') : t.split('-')[0]!))), 'n', 'l', 'if', 'di', 'orig', 'ik', 'tr', 'oi', 'ot', 'lx', 'ly', 'raw'];

const NASTY_VALUES = [
  '', '-', '0', '-1', 'N1', 'N0', '1e309', '1e-309', 'NaN', 'Infinity', '-Infinity', '0x10', '0b1', '1_2_3', '99999999999999999999', '4294967296',
  '65536', '16384', '0.0000001', '.5', '5.', '1..2', 'auto', 'true', 'false', 'null', 'undefined', '__proto__', 'constructor', 'toString',
  'bw_mul_2', 'iw_div_0', 'ih_mod_0', 'iw_pow_999', 'w_add_N1', '%00', '\u0000', '%', '%%', '%ZZ', '%25', '%2e%2e', '%252e%252e', '..', '../..',
  '\u202e', '\uffff', '\ud800', '😀', 'ſ', 'İ', 'ⅷ', '１２３', '<script>', '"', "'", '`', '\\', '/', '?', '#', '&', '=', ';', ' ', '\t', '\n', '\r\n',
  'FF0000', 'ZZZZZZ', 'FF000000', 'rgb(0,0,0)', 'a'.repeat(300), '9'.repeat(300),
];

const SEPARATORS = [',', ':', '-', '_', '', '::', ',,', ':,', ',:'];

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** A random tr string from parameter keys, nasty values and separators. */
export function randomTr(r: () => number): string {
  const steps = 1 + Math.floor(r() * 4);
  const out: string[] = [];
  for (let s = 0; s < steps; s++) {
    const n = 1 + Math.floor(r() * 5);
    const params: string[] = [];
    for (let i = 0; i < n; i++) {
      const roll = r();
      if (roll < 0.5) params.push(`${pick(r, KEYS)}-${pick(r, NASTY_VALUES)}`);
      else if (roll < 0.7) params.push(pick(r, VALID_TOKENS));
      else if (roll < 0.85) params.push(`${pick(r, KEYS)}${pick(r, SEPARATORS)}${pick(r, NASTY_VALUES)}${pick(r, SEPARATORS)}${pick(r, NASTY_VALUES)}`);
      else params.push(pick(r, NASTY_VALUES));
    }
    out.push(params.join(pick(r, [',', ',', ',', ':', '_'])));
  }
  return out.join(':');
}

/** Mutate a valid tr string: insert, delete, duplicate, swap or replace characters and chunks. */
export function mutateTr(r: () => number, base: string): string {
  let s = base;
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 6)) {
      case 0:
        s = s.slice(0, at) + pick(r, NASTY_VALUES) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 3));
        break;
      case 2:
        s = s.slice(0, at) + s.slice(at, at + 6) + s.slice(at);
        break;
      case 3:
        s = s.slice(0, at) + pick(r, SEPARATORS) + s.slice(at);
        break;
      case 4:
        s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 0x3000)) + s.slice(at + 1);
        break;
      default:
        s = s.slice(at) + s.slice(0, at);
    }
  }
  return s;
}

/** Path segments that try to escape, smuggle or confuse. */
export const NASTY_PATHS = [
  '../etc/passwd', '..', '.', './x.jpg', 'a/../../b.jpg', '%2e%2e/%2e%2e/etc/passwd', '%2E%2E/secret.jpg', '%252e%252e/x.jpg', '..%2f..%2fetc%2fpasswd',
  '..%5c..%5cwindows', 'a%00.jpg', 'a\u0000b.jpg', '%00', '%ff%fe.jpg', '%c0%ae%c0%ae/x.jpg', '%', '%%', '%zz.jpg', 'x.jpg%', 'é/ü/ß.jpg', '😀.png',
  '\u202egpj.exe', 'a//b.jpg', '//x.jpg', 'x.jpg?', 'x.jpg#frag', 'tr:w-100', 'tr:', 'tr:w-100/tr:h-100/x.jpg', 'CON', 'x'.repeat(1000) + '.jpg',
  'a/'.repeat(500) + 'x.jpg', 'file:///etc/passwd', 'http://127.0.0.1/x.jpg', 'javascript:alert(1)', 'data:image/png;base64,AAAA', '_health', 'internal/render',
];

/** Query strings: duplicated tr, hostile signature parameters, encodings. */
export const NASTY_QUERIES = [
  '', '?', '?tr=', '?tr=w-100&tr=h-100', '?tr=%00', '?tr=w-100%2Ch-100', '?tr=w%2D100', '?tr=%25', '?ik-s=', '?ik-s=zz', '?ik-t=abc', '?ik-t=99999999999',
  '?ik-s=' + 'a'.repeat(40) + '&ik-s=' + 'b'.repeat(40), '?tr=w-100&ik-t=1', '?a=%ff', '?' + 'x=1&'.repeat(500), '?tr=' + 'w-1,'.repeat(2000), '?tr=w-100#x',
  '?__proto__=1', '?constructor[prototype][x]=1', '?tr=n-__proto__', '?tr=n-constructor', '?tr=n-toString', '?tr=n-hasOwnProperty',
];

export interface FuzzCase {
  /** Path after the account segment, starting with "/" (percent-encoding as sent on the wire). */
  path: string;
  /** Query string, "" or starting with "?". */
  search: string;
  label: string;
}

/** Percent-encode (lone surrogates, which no client can send as UTF-8, become U+FFFD first). */
const wellFormed = (s: string) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
const enc = (s: string) => encodeURIComponent(wellFormed(s)).replace(/%3A/gi, ':').replace(/%2C/gi, ',');

/** `count` cases from `seed`: random and mutated tr strings in both positions, nasty paths and queries. */
export function fuzzCases(seed: number, count: number): FuzzCase[] {
  const r = prng(seed);
  const cases: FuzzCase[] = [];
  for (let i = 0; i < count; i++) {
    const kind = Math.floor(r() * 6);
    const valid = Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(r, VALID_TOKENS)).join(',');
    const tr = kind === 0 ? randomTr(r) : kind === 1 ? mutateTr(r, valid) : kind === 2 ? mutateTr(r, `${valid}:${pick(r, VALID_TOKENS)}`) : valid;
    const rawPath = kind >= 3 ? pick(r, NASTY_PATHS) : 'photo.jpg';
    // Sometimes raw (unencoded) characters, sometimes encoded once or twice.
    const encoding = Math.floor(r() * 3);
    const trText = encoding === 0 ? tr : encoding === 1 ? enc(tr) : enc(enc(tr));
    const pathText = kind === 4 ? enc(rawPath) : rawPath;
    const query = kind === 5 ? pick(r, NASTY_QUERIES) : '';
    if (r() < 0.5) cases.push({ path: `/tr:${trText}/${pathText}`, search: query, label: `#${i} path-tr` });
    else cases.push({ path: `/${pathText}`, search: `?tr=${enc(tr)}${query.replace(/^\?/, '&')}`, label: `#${i} query-tr` });
  }
  // Fixed hostile cases, always present.
  for (const p of NASTY_PATHS) cases.push({ path: `/tr:w-100/${p}`, search: '', label: `path ${JSON.stringify(p.slice(0, 40))}` });
  for (const q of NASTY_QUERIES) cases.push({ path: '/photo.jpg', search: q, label: `query ${JSON.stringify(q.slice(0, 40))}` });
  cases.push({ path: `/tr:${'w-1,'.repeat(3000)}w-2/photo.jpg`, search: '', label: 'overlong tr (12 kB)' });
  cases.push({ path: `/${'a'.repeat(9000)}.jpg`, search: '', label: 'overlong path (9 kB)' });
  cases.push({ path: `/tr:${Array.from({ length: 50 }, () => 'w-10').join(':')}/photo.jpg`, search: '', label: '50 chained steps' });
  cases.push({ path: `/tr:${'('.repeat(2000)}/photo.jpg`, search: '', label: 'parentheses' });
  cases.push({ path: `/tr:w-${'iw_mul_'.repeat(500)}2/photo.jpg`, search: '', label: 'long arithmetic expression' });
  cases.push({ path: `/tr:l-image,i-${'x'.repeat(100)},${'l-image,'.repeat(200)}l-end/photo.jpg`, search: '', label: 'nested layers' });
  cases.push({ path: `/tr:${'if-w_gt_1,'.repeat(100)}w-1,if-end/photo.jpg`, search: '', label: 'nested ifs' });
  return cases;
}

/** Every permutation-free shuffle of an array (Fisher–Yates with the given PRNG). */
export function shuffle<T>(r: () => number, xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
