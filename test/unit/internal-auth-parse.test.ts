/**
 * The signature check's field checks without regular expressions (shared/internal-auth.ts charsIn,
 * round 8) and the verifier as a whole: they accept and refuse exactly what the four expressions
 * (`/^\d{1,16}$/` t, `/^[0-9a-f]{16,64}$/` n, `/^[0-9a-f]{64}$/` s and the body digest) and the
 * verifier written with them did, on a table and on random inputs — answers and reasons alike.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_HEADER, authFields, charsIn, CONTENT_SHA256_HEADER, DEFAULT_WINDOW_MS, EMPTY_SHA256, SIGNED_HEADERS, useHmac, verifyInternalRequestNow, type InternalAuthResult } from '../../shared/internal-auth.js';

const SECRET = 'parse-test-secret';
const hmac = (data: string) => createHmac('sha256', SECRET).update(data, 'utf8').digest('hex');

/** A seeded xorshift32: rand(n) is an integer in [0, n). */
const xorshift = (seed: number) => (n: number) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

/** Characters next to the accepted ranges and ones a sloppy check would let through. */
const ALPHABET = ['0', '1', '5', '9', 'a', 'c', 'f', '/', ':', '`', 'g', 'A', 'F', 'z', ' ', '\n', '-', '+', '.', 'e', '٣', '０', '\u0000', 'ä', '\ud800', '𝟙'];
const randomString = (rand: (n: number) => number, maxLen: number) => {
  let s = '';
  const len = rand(maxLen + 1);
  // Mostly accepted characters, so that lengths near the bounds come up often.
  for (let i = 0; i < len; i++) s += rand(4) === 0 ? ALPHABET[rand(ALPHABET.length)]! : '0123456789abcdef'[rand(16)]!;
  return s;
};

const EXPRESSIONS: [string, RegExp, number, number, boolean][] = [
  ['t', /^\d{1,16}$/, 1, 16, false],
  ['n', /^[0-9a-f]{16,64}$/, 16, 64, true],
  ['s and the body digest', /^[0-9a-f]{64}$/, 64, 64, true],
];

describe('charsIn tests what the signature check\'s regular expressions tested', () => {
  const TABLE = ['', '0', '9', '0123456789012345', '01234567890123456', 'a', 'f', 'g', 'A', 'F', '12a', ' 1', '1 ', '1\n', '\n1', '٣', '０', '-1', '+1', '1.5', '1e3', 'abcdef0123456789', 'abcdef012345678', 'abcdef0123456789'.repeat(4), `${'abcdef0123456789'.repeat(4)}0`, `${'a'.repeat(63)}A`, `${'a'.repeat(63)}\n`, 'ä', '\ud800'];
  for (const [name, re, min, max, hex] of EXPRESSIONS) {
    it.each(TABLE.map((s) => [JSON.stringify(s), s] as const))(`${name}: %s as ${re}`, (_shown, s) => {
      expect(charsIn(s, min, max, hex)).toBe(re.test(s));
    });
    it(`${name}: 20,000 random strings as ${re}`, () => {
      const rand = xorshift(0x5eed + min);
      for (let i = 0; i < 20_000; i++) {
        const s = randomString(rand, max + 4);
        expect(charsIn(s, min, max, hex), JSON.stringify(s)).toBe(re.test(s));
      }
    });
  }
});

/** The verifier as it was written with the expressions (the reference; its HMAC createHmac's). */
type Bag = { get(name: string): string | undefined };
function reference(request: { method: string; pathAndQuery: string; headers: Bag; region: string }, now: number): InternalAuthResult {
  const value = request.headers.get(AUTH_HEADER);
  if (!value) return { ok: false, reason: 'missing internal signature' };
  const { t, n, s } = authFields(value);
  const bodySha = request.headers.get(CONTENT_SHA256_HEADER) ?? '';
  if (!/^\d{1,16}$/.test(t) || !/^[0-9a-f]{16,64}$/.test(n) || !/^[0-9a-f]{64}$/.test(s) || !/^[0-9a-f]{64}$/.test(bodySha)) return { ok: false, reason: 'malformed internal signature' };
  const ts = Number(t);
  if (Math.abs(now - ts) > DEFAULT_WINDOW_MS) return { ok: false, reason: 'internal signature outside the time window' };
  let toSign = `${t}\n${n}\n${request.region}\n${request.method.toUpperCase()}\n${request.pathAndQuery}\n${bodySha}`;
  for (const h of SIGNED_HEADERS) toSign += `\n${h}:${request.headers.get(h) ?? ''}`;
  return hmac(toSign) === s ? { ok: true, nonce: n, timestamp: ts, bodySha256: bodySha } : { ok: false, reason: 'bad internal signature (or addressed to another region)' };
}

describe('verifyInternalRequestNow answers as the verifier written with the expressions', () => {
  beforeAll(() => useHmac((secret, data, hash) => createHmac(hash === 'SHA-1' ? 'sha1' : 'sha256', secret).update(data).digest('hex')));
  afterAll(() => useHmac(undefined));
  const NOW = 1_764_000_000_000;
  const PATH = '/internal/render/acme/tr:w-720/a.jpg?bench=hit';
  const call = (t: string, n: string, sig: (toSign: string) => string, body: string, extra: Record<string, string> = {}) => {
    // A header bag as the hit path's (any string: random values need not be ByteStrings, as Headers' must).
    const values = new Map<string, string>(Object.entries({ 'x-pixmesh-format': 'jpeg', 'x-pixmesh-request-id': 'r-1', ...extra, [CONTENT_SHA256_HEADER]: body }));
    const headers: Bag & { set(k: string, v: string): void } = { get: (k) => values.get(k), set: (k, v) => void values.set(k, v) };
    let toSign = `${t}\n${n}\neu-central-1\nGET\n${PATH}\n${body}`;
    for (const h of SIGNED_HEADERS) toSign += `\n${h}:${headers.get(h) ?? ''}`;
    headers.set(AUTH_HEADER, `t=${t},n=${n},s=${sig(toSign)}`);
    return { method: 'GET', pathAndQuery: PATH, headers, region: 'eu-central-1' };
  };
  const nonce = '0123456789abcdef0123456789abcdef';
  it.each([
    ['a valid call', call(String(NOW), nonce, hmac, EMPTY_SHA256)],
    ['a 16-digit nonce', call(String(NOW), nonce.slice(0, 16), hmac, EMPTY_SHA256)],
    ['a 64-digit nonce', call(String(NOW), nonce + nonce, hmac, EMPTY_SHA256)],
    ['a 15-digit nonce', call(String(NOW), nonce.slice(0, 15), hmac, EMPTY_SHA256)],
    ['an upper-case nonce', call(String(NOW), nonce.toUpperCase(), hmac, EMPTY_SHA256)],
    ['an upper-case signature', call(String(NOW), nonce, (x) => hmac(x).toUpperCase(), EMPTY_SHA256)],
    ['a signature one digit short', call(String(NOW), nonce, (x) => hmac(x).slice(1), EMPTY_SHA256)],
    ['a wrong signature', call(String(NOW), nonce, (x) => hmac(`${x}!`), EMPTY_SHA256)],
    ['a time with a sign', call(`+${NOW}`, nonce, hmac, EMPTY_SHA256)],
    ['a time in Arabic-Indic digits', call('١٧٦٤', nonce, hmac, EMPTY_SHA256)],
    ['a 17-digit time', call(`0${String(NOW).padStart(16, '0')}`, nonce, hmac, EMPTY_SHA256)],
    ['a time outside the window', call(String(NOW - DEFAULT_WINDOW_MS - 1), nonce, hmac, EMPTY_SHA256)],
    ['a time at the edge of the window', call(String(NOW + DEFAULT_WINDOW_MS), nonce, hmac, EMPTY_SHA256)],
    ['an upper-case body digest', call(String(NOW), nonce, hmac, EMPTY_SHA256.toUpperCase())],
    ['a body digest with a newline', call(String(NOW), nonce, hmac, `${EMPTY_SHA256.slice(1)}\n`)],
    ['a signed header that is set', call(String(NOW), nonce, hmac, EMPTY_SHA256, { 'x-pixmesh-hop': '1' })],
  ])('%s', (_name, request) => {
    expect(verifyInternalRequestNow(SECRET, request, NOW)).toEqual(reference(request, NOW));
  });

  it('2,000 random auth values and body digests (valid, malformed, near the bounds): the same answer and reason', () => {
    const rand = xorshift(0xa11ce);
    let ok = 0;
    for (let i = 0; i < 2_000; i++) {
      const t = rand(3) === 0 ? randomString(rand, 18) : String(NOW - DEFAULT_WINDOW_MS - 2 + rand(2 * DEFAULT_WINDOW_MS + 4));
      const n = rand(3) === 0 ? randomString(rand, 66) : nonce.slice(0, 16 + rand(17));
      const body = rand(4) === 0 ? randomString(rand, 66) : EMPTY_SHA256;
      const sig = rand(4) === 0 ? (x: string) => randomString(rand, 66) + x.slice(0, 0) : hmac;
      const request = call(t, n, sig, body);
      const expected = reference(request, NOW);
      if (expected.ok) ok++;
      expect(verifyInternalRequestNow(SECRET, request, NOW), request.headers.get(AUTH_HEADER)!).toEqual(expected);
    }
    // Both answers came up often enough to compare.
    expect(ok).toBeGreaterThan(200);
    expect(ok).toBeLessThan(1_800);
  });
});
