/**
 * The compact nonce memory of a region's nonce owner (origin/src/region/nonce-window.ts) and the
 * replay decisions made with it (origin/src/region/nonces.ts): keys are one-to-one, a nonce is
 * remembered at least the window after it was set, the memory stays bounded by the window and
 * the cap, and a replay is refused unless its first claimant is dead.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_WINDOW_MS } from '../../shared/internal-auth.js';
import { GENERATION_MS, NonceWindow, nonceKey } from '../../origin/src/region/nonce-window.js';
import { RegionNonces } from '../../origin/src/region/nonces.js';
import type { RegionState } from '../../origin/src/region/index.js';

const hex32 = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

describe('nonceKey: one key per nonce, compact for hex', () => {
  const inputs = [
    hex32,
    `${hex32.slice(0, 31)}1`,
    hex32.slice(0, 16),
    hex32.slice(0, 17),
    `${hex32.slice(0, 16)}0`, // a trailing 0 that packing pads with anyway: told apart by the length unit
    '0'.repeat(16),
    '0'.repeat(17),
    '0'.repeat(20),
    hex32.repeat(2),
    hex32.toUpperCase(), // not lowercase hex: kept as it is
    'not-hex-at-all',
    '',
    '\uffff',
    `\uffff${hex32}`,
    String.fromCharCode(32), // a raw string that looks like a packed length unit
    nonceKey(hex32), // a packed key's text, given as a nonce
  ];
  it.each(inputs.map((x, i) => [i, JSON.stringify(x), x] as const))('input %i (%s) has a key no other input has', (_i, _shown, x) => {
    const others = inputs.filter((y) => y !== x).map(nonceKey);
    expect(others).not.toContain(nonceKey(x));
    expect(nonceKey(x)).toBe(nonceKey(`${x}`)); // deterministic
  });

  it.each([
    [16, 5],
    [17, 6],
    [32, 9],
    [64, 17],
  ])('%i hex digits pack into %i code units', (digits, units) => {
    expect(nonceKey('f'.repeat(digits)).length).toBe(units);
  });
});

/** nonceKey as written before its 32-digit fast path (round 8): the reference. */
function referenceKey(nonce: string): string {
  const len = nonce.length;
  if (len === 0 || len >= 0x8000 || !/^[0-9a-f]+$/.test(nonce)) return `\uffff${nonce}`;
  const units: number[] = [len];
  let unit = 0;
  for (let i = 0; i < len; i++) {
    const c = nonce.charCodeAt(i);
    unit = (unit << 4) | (c <= 57 ? c - 48 : c - 87);
    if ((i & 3) === 3) {
      units.push(unit);
      unit = 0;
    }
  }
  if (len & 3) units.push(unit << (4 * (4 - (len & 3))));
  return String.fromCharCode(...units);
}

/** A seeded xorshift32: rand(n) is an integer in [0, n). */
const xorshift = (seed: number) => (n: number) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

describe('nonceKey of 32 characters (the fast path) is the key the general path made', () => {
  it.each([hex32, '0'.repeat(32), 'f'.repeat(32), hex32.toUpperCase(), `${hex32.slice(0, 31)}g`, `g${hex32.slice(1)}`, `${hex32.slice(0, 16)}/${hex32.slice(17)}`, `${hex32.slice(0, 31)}:`, `${hex32.slice(0, 31)}\``, `${hex32.slice(0, 31)}\u0000`, `${hex32.slice(0, 31)}ä`])('%s', (x) => {
    expect(nonceKey(x)).toBe(referenceKey(x));
  });
  it('20,000 random 32-character strings, mostly hex with a stray character now and then', () => {
    const rand = xorshift(0x32);
    const odd = ['/', ':', '`', 'g', 'A', 'F', '\u0000', '\uffff', 'ä', '٣', ' '];
    for (let i = 0; i < 20_000; i++) {
      let x = '';
      for (let k = 0; k < 32; k++) x += rand(40) === 0 ? odd[rand(odd.length)]! : '0123456789abcdef'[rand(16)]!;
      expect(nonceKey(x), JSON.stringify(x)).toBe(referenceKey(x));
    }
  });
  it('other lengths still take the general path', () => {
    for (const x of [hex32.slice(0, 31), `${hex32}0`, hex32.slice(0, 16), hex32.repeat(2)]) expect(nonceKey(x)).toBe(referenceKey(x));
  });
});

describe('NonceWindow.getOrSet is get, then set when get found nothing', () => {
  it('over 20,000 random operations at advancing times: the same answers, sizes and generations', () => {
    const rand = xorshift(0x6e7);
    const a = new NonceWindow(30_000, 500);
    const b = new NonceWindow(30_000, 500);
    let t = 0;
    for (let i = 0; i < 20_000; i++) {
      t += rand(40);
      const key = `k${rand(700)}`;
      const value = rand(5);
      if (rand(5) === 0) {
        a.set(key, value, t);
        b.set(key, value, t);
        continue;
      }
      const got = a.getOrSet(key, value, t);
      const want = b.get(key, t);
      if (want === undefined) b.set(key, value, t);
      expect(got, `${i}`).toBe(want);
      expect(a.size).toBe(b.size);
      expect(a.generations).toBe(b.generations);
    }
  });
});

describe('NonceWindow: remembered at least the window after set, bounded', () => {
  const W = 30_000;
  it.each([
    ['at the start of a generation', 0],
    ['just before a generation turns', GENERATION_MS - 1],
    ['as a generation turns', GENERATION_MS],
    ['in a later generation', 3 * GENERATION_MS + 1234],
  ])('a key set %s is there through the window and gone by window + one generation', (_name, at) => {
    const w = new NonceWindow(W, 1000);
    // Other keys keep generations turning before and after it.
    for (let t = 0; t <= at; t += 700) w.set(`before-${t}`, 1, t);
    w.set('k', 7, at);
    for (let t = at; t <= at + W; t += 700) {
      w.set(`after-${t}`, 1, t);
      expect(w.get('k', t)).toBe(7);
    }
    expect(w.get('k', at + W)).toBe(7);
    expect(w.get('k', at + W + GENERATION_MS + 1)).toBeUndefined();
  });

  it('set again moves a key to now: remembered the window after the last set, with the new value', () => {
    const w = new NonceWindow(W, 1000);
    w.set('k', 1, 0);
    w.set('k', 2, 20_000);
    expect(w.size).toBe(1);
    expect(w.get('k', 20_000 + W)).toBe(2);
  });

  it('over the cap the oldest keys go first', () => {
    const w = new NonceWindow(W, 3);
    for (const [i, k] of ['a', 'b', 'c', 'd', 'e'].entries()) w.set(k, i, i);
    expect(w.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => w.get(k, 10))).toEqual([undefined, undefined, 2, 3, 4]);
  });

  it('a steady stream holds about a window of keys in a bounded number of generations', () => {
    const w = new NonceWindow(W, 1_000_000);
    for (let t = 0; t < 10 * W; t += 10) w.set(`n${t}`, 0, t);
    expect(w.generations).toBeLessThanOrEqual(W / GENERATION_MS + 2);
    expect(w.size).toBeGreaterThanOrEqual(W / 10);
    expect(w.size).toBeLessThanOrEqual((W + GENERATION_MS) / 10 + 1);
  });
});

describe('RegionNonces (a replica alone in its region): the owner refuses replays for the whole window', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const self = 'http://127.0.0.1:1'; // nothing listens: a claimant there is dead unless it is this replica
  const alone = { members: { self, suspect: () => undefined }, ownerOf: () => null } as unknown as RegionState;

  it('a nonce is taken once; its replay is refused until 2 × the signature window has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const nonces = new RegionNonces(alone, 'secret', 1000, 'eu-central-1');
    expect(await nonces.remember(hex32)).toBe(true);
    expect(await nonces.remember(hex32)).toBe(false);
    for (const later of [1, DEFAULT_WINDOW_MS, 2 * DEFAULT_WINDOW_MS]) {
      vi.setSystemTime(1_000_000 + later);
      expect(await nonces.remember(hex32), `after ${later} ms`).toBe(false);
      expect(await nonces.take(hex32, self), `take after ${later} ms`).toBe(false);
    }
    expect(await nonces.remember(`${hex32.slice(0, 31)}1`)).toBe(true);
  });

  it('a nonce claimed by a replica that is dead is given to the retry, once', async () => {
    const nonces = new RegionNonces({ members: { self: 'http://127.0.0.1:2', suspect: () => undefined }, ownerOf: () => null } as unknown as RegionState, 'secret', 1000, 'eu-central-1');
    expect(await nonces.take(hex32, 'http://127.0.0.1:9')).toBe(true);
    expect(await nonces.take(hex32, 'http://127.0.0.1:9')).toBe(false); // the same claimant again: a replay
    expect(await nonces.take(hex32, 'http://127.0.0.1:2')).toBe(true); // :9 does not answer: a retry
    expect(await nonces.take(hex32, 'http://127.0.0.1:9')).toBe(false); // now held by this replica, which is alive
  });
});
