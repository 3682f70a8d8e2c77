/**
 * The shared tier's key index (origin/src/region/shared-cache.ts SharedIndex): which variants a
 * replica may skip asking S3 for. It may only say "absent" once a listing completed within its
 * bound, and never for a variant listed or written since.
 */
import { describe, expect, it } from 'vitest';
import { SharedIndex, sharedKey } from '../../origin/src/region/shared-cache.js';

const listing = (variantKeys: string[]) => async (_limit: number) => variantKeys.map((k) => ({ key: sharedKey('acme', 'a/b.jpg', k) }));

describe('SharedIndex', () => {
  it('before any listing every variant may be held (lookups still ask S3)', () => {
    const idx = new SharedIndex(100);
    expect(idx.isComplete).toBe(false);
    expect(idx.mayHold('k1')).toBe(true);
  });

  it.each([
    ['a listed variant', ['k1', 'k2'], [] as string[], 'k1', true],
    ['a variant neither listed nor written', ['k1', 'k2'], [], 'k3', false],
    ['a variant written after the listing', ['k1'], ['k3'], 'k3', true],
    ['an empty tier, nothing written', [], [], 'k1', false],
  ])('after a complete listing: %s → mayHold %s', async (_name, listed, written, asked, expected) => {
    const idx = new SharedIndex(100);
    await idx.load(listing(listed));
    for (const k of written) idx.add(k);
    expect(idx.isComplete).toBe(true);
    expect(idx.mayHold(asked)).toBe(expected);
  });

  it('a listing longer than the bound leaves the index incomplete: every variant may be held', async () => {
    const idx = new SharedIndex(2);
    await idx.load(listing(['k1', 'k2', 'k3']));
    expect(idx.isComplete).toBe(false);
    expect(idx.mayHold('never-written')).toBe(true);
  });

  it('writes beyond the bound make a complete index incomplete', async () => {
    const idx = new SharedIndex(2);
    await idx.load(listing(['k1']));
    idx.add('k2');
    expect(idx.mayHold('k9')).toBe(false);
    idx.add('k3');
    expect(idx.mayHold('k9')).toBe(true);
  });

  it('a variant written while a listing runs is kept although the listing missed it', async () => {
    const idx = new SharedIndex(100);
    let release!: () => void;
    const slow = async () => {
      await new Promise<void>((r) => (release = r));
      return [{ key: sharedKey('acme', 'a/b.jpg', 'k1') }];
    };
    const loading = idx.load(slow);
    idx.add('k2');
    release();
    await loading;
    expect(idx.mayHold('k1')).toBe(true);
    expect(idx.mayHold('k2')).toBe(true);
    expect(idx.mayHold('k3')).toBe(false);
  });

  it('a variant found absent (purged or swept) is dropped; a failed listing keeps the old state', async () => {
    const idx = new SharedIndex(100);
    await idx.load(listing(['k1']));
    idx.drop('k1');
    expect(idx.mayHold('k1')).toBe(false);
    await expect(idx.load(async () => Promise.reject(new Error('S3 down')))).rejects.toThrow('S3 down');
    expect(idx.isComplete).toBe(true);
    expect(idx.mayHold('k2')).toBe(false);
  });

  it('long paths (hashed keys) are indexed by their variant hash too', async () => {
    const idx = new SharedIndex(100);
    const long = 'x'.repeat(300);
    await idx.load(async () => [{ key: sharedKey('acme', long, 'k1') }]);
    expect(sharedKey('acme', long, 'k1')).toContain('/_h/');
    expect(idx.mayHold('k1')).toBe(true);
    expect(idx.mayHold('k2')).toBe(false);
  });
});
