/**
 * The origin's HMAC-SHA-256 for internal-call signatures (origin/src/internal-auth.ts
 * hmacSha256Hex: two one-shot digests over reused buffers) must be node:crypto's createHmac, hex
 * for hex, for every secret length (padded, exactly a block, hashed first) and every string
 * (UTF-8 of multi-byte characters, lone surrogates, strings longer than its buffer), in any order.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacHex } from '../../shared/internal-auth.js';
import { hmacSha256Hex } from '../../origin/src/internal-auth.js';

const reference = (secret: string, data: string) => createHmac('sha256', secret).update(data, 'utf8').digest('hex');

const SECRETS: [string, string][] = [
  ['empty', ''],
  ['one byte', 'k'],
  ['63 bytes', 'a'.repeat(63)],
  ['exactly a block (64 bytes)', 'b'.repeat(64)],
  ['65 bytes (hashed first)', 'c'.repeat(65)],
  ['200 bytes (hashed first)', 'd'.repeat(200)],
  ['multi-byte characters', 'sécret-ключ-秘密'],
  ['a 64-hex-digit secret like the cluster\'s', '0123456789abcdef'.repeat(4)],
];
const DATA: [string, string][] = [
  ['empty', ''],
  ['a string to sign', '1733200000000\n0123456789abcdef0123456789abcdef\neu-central-1\nGET\n/internal/render/acme/tr:w-300/a.jpg\n' + 'e3'.repeat(32) + '\nx-pixmesh-format:jpeg'],
  ['multi-byte characters', 'ä€𝄞 — 日本語'],
  ['a lone high surrogate', 'a\ud800b'],
  ['a lone low surrogate at the end', 'ab\udc00'],
  ['longer than the initial buffer', 'x'.repeat(5000)],
  ['long, multi-byte', '€'.repeat(3000)],
];

describe('hmacSha256Hex (origin/src/internal-auth.ts)', () => {
  for (const [sName, secret] of SECRETS)
    it.each(DATA)(`secret ${sName}, data %s: createHmac's hex`, (_d, data) => {
      expect(hmacSha256Hex(secret, data)).toBe(reference(secret, data));
    });

  it('interleaved secrets and growing then shrinking strings: each call is its own HMAC', () => {
    for (let i = 0; i < 200; i++) {
      const secret = SECRETS[i % SECRETS.length]![1];
      const data = DATA[(i * 7) % DATA.length]![1] + String(i);
      expect(hmacSha256Hex(secret, data), `${i}`).toBe(reference(secret, data));
    }
  });

  it('is what the shared signing code uses in the origin (SHA-256), and SHA-1 still answers', async () => {
    expect(await hmacHex('s3cr3t', 'data')).toBe(reference('s3cr3t', 'data'));
    expect(await hmacHex('s3cr3t', 'data', 'SHA-1')).toBe(createHmac('sha1', 's3cr3t').update('data').digest('hex'));
  });
});
