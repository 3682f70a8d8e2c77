/**
 * The nonce window's compact generations (origin/src/region/nonce-window.ts, round 8: a packed
 * nonce's 128 bits in typed arrays instead of a Map entry and a key string) decide exactly as the
 * Map-based window they replaced, kept here as the reference: the same answers, sizes and
 * generation counts over random operations mixing signers' nonces and keys of other forms, with
 * keys set again, the cap evicting the oldest and generations expiring; and they take a fraction
 * of the memory.
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { NonceWindow, nonceKey } from '../../origin/src/region/nonce-window.js';
import { MapWindow } from './fixtures/map-nonce-window.js';

/** A seeded xorshift32: rand(n) is an integer in [0, n). */
const xorshift = (seed: number) => (n: number) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

describe('NonceWindow with compact generations decides as the Map-based window', () => {
  it.each([
    // [name, seed, cap, pool of keys, ms between operations at most, operations]
    ['under the cap, generations turning and expiring', 0x51, 100_000, 3_000, 40, 40_000],
    ['at a small cap: the oldest evicted on almost every insert', 0x52, 300, 2_000, 5, 40_000],
    ['keys set again often (a small pool), cap pressure and expiry', 0x53, 150, 200, 200, 40_000],
    ['a burst in one generation (index and entries grow), then time jumps', 0x54, 20_000, 50_000, 0, 30_000],
  ])('%s: the same answers, sizes and generations', (_name, seed, cap, poolSize, step, ops) => {
    const rand = xorshift(seed);
    // Signers' nonces (packed keys), their neighbours and keys of other forms.
    const pool = Array.from({ length: poolSize }, (_, i) => {
      const r = i % 10;
      if (r === 0) return nonceKey(`${crypto.randomBytes(15).toString('hex')}zz`); // not hex: kept as is
      if (r === 1) return `k${i}`;
      if (r === 2) return ` ${'x'.repeat(8)}${i}`.slice(0, 9); // 9 units behind a space, not from nonceKey
      return nonceKey(crypto.randomBytes(16).toString('hex'));
    });
    const a = new NonceWindow(30_000, cap);
    const b = new MapWindow(30_000, cap);
    let t = 1_000;
    for (let i = 0; i < ops; i++) {
      t += step === 0 ? (i % 10_000 === 9_999 ? 40_000 : 0) : rand(step);
      const key = pool[rand(pool.length)]!;
      const value = rand(7);
      const op = rand(6);
      if (op === 0) {
        a.set(key, value, t);
        b.set(key, value, t);
      } else if (op === 1) {
        expect(a.get(key, t), `${i} get`).toBe(b.get(key, t));
      } else {
        const want = b.get(key, t);
        if (want === undefined) b.set(key, value, t);
        expect(a.getOrSet(key, value, t), `${i} getOrSet`).toBe(want);
      }
      expect(a.size, `${i} size`).toBe(b.size);
      expect(a.generations, `${i} generations`).toBe(b.generations);
    }
    // Every key of the pool answers the same at the end.
    for (const key of pool) expect(a.get(key, t)).toBe(b.get(key, t));
  });
});

describe('NonceWindow memory', () => {
  // Measured in a fresh process with --expose-gc (test/unit/fixtures/nonce-window-memory.ts): in
  // the test worker, other files' garbage would be counted.
  const measure = (which: 'compact' | 'map') => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.resolve('test/unit/fixtures/nonce-window-memory.ts'), which, '200000'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as { mb: number; size: number };
  };
  it("200,000 signers' nonces held over one window take under 70 % of the Map-based window's heap and buffers (≈ 11.5 vs ≈ 19 MB)", () => {
    const compact = measure('compact');
    const map = measure('map');
    expect(compact.size).toBe(200_000);
    expect(map.size).toBe(200_000);
    expect(map.mb).toBeGreaterThan(15);
    expect(compact.mb).toBeLessThan(0.7 * map.mb);
  }, 120_000);
});
