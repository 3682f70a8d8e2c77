/** The layer-dependency index's keys (origin/src/layer-deps.ts): pure, table-driven. */
import { describe, expect, it } from 'vitest';
import { dependentsFromKeys, layerDepKey, layerDepsPrefix, MAX_DEPENDENTS } from '../../origin/src/layer-deps.js';

describe('layer-dependency keys', () => {
  it.each([
    ['brand/logo.png', 'photos/a.jpg', '_layer-deps/acct/brand%2Flogo.png/photos%2Fa.jpg'],
    ['logo.png', 'a b.jpg', '_layer-deps/acct/logo.png/a%20b.jpg'],
  ])('%s used by %s → %s', (layer, base, key) => {
    expect(layerDepKey('acct', layer, base)).toBe(key);
    expect(dependentsFromKeys('acct', [key])).toEqual([base]);
  });

  it.each<[string, boolean, string, boolean]>([
    // purge target, prefix?, a layer path, is it listed
    ['brand/logo.png', false, 'brand/logo.png', true],
    ['brand/logo.png', false, 'brand/logo.png.bak', false], // exact: the separator ends the name
    ['brand/', true, 'brand/logo.png', true],
    ['brand/', true, 'brandnew/logo.png', false],
    ['brand', true, 'brandnew/logo.png', true], // a prefix is a string prefix, as purge prefixes are
  ])('purge %s (prefix %s) finds the dependents of %s: %s', (target, prefix, layer, listed) => {
    expect(layerDepKey('acct', layer, 'x.jpg').startsWith(layerDepsPrefix('acct', target, prefix))).toBe(listed);
  });

  it('ignores other accounts and malformed keys, and stops at MAX_DEPENDENTS', () => {
    expect(dependentsFromKeys('acct', ['_layer-deps/other/l.png/a.jpg', '_layer-deps/acct/l.png', '_layer-deps/acct/l.png/%E0%A4%A.jpg'])).toEqual([]);
    const many = Array.from({ length: MAX_DEPENDENTS + 5 }, (_, i) => layerDepKey('acct', 'l.png', `b${i}.jpg`));
    expect(dependentsFromKeys('acct', many)).toHaveLength(MAX_DEPENDENTS);
  });
});
