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
