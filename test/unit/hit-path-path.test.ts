/**
 * origin/src/hit-path.ts logs a hit's path as `pathOf(url)`, which must be what the access log
 * wrote before, `url.split('?')[0]`, for every request target — without building the array.
 */
import { describe, expect, it } from 'vitest';
import { pathOf } from '../../origin/src/hit-path.js';

const TARGETS: [string, string, string][] = [
  ['no query', '/internal/render/acme/tr:w-120/a.jpg', '/internal/render/acme/tr:w-120/a.jpg'],
  ['a query', '/internal/render/acme/a.jpg?bench=hit', '/internal/render/acme/a.jpg'],
  ['an empty query', '/internal/render/acme/a.jpg?', '/internal/render/acme/a.jpg'],
  ['two question marks (the first one ends the path)', '/a.jpg?x=1?y=2', '/a.jpg'],
  ['a question mark first', '?only=query', ''],
  ['an empty target', '', ''],
  ['a fragment-like hash before the query', '/a#b?c', '/a#b'],
  ['percent-encoded question mark (not a separator)', '/a%3Fb.jpg?q', '/a%3Fb.jpg'],
];

describe('pathOf (the access log path of a hit)', () => {
  it.each(TARGETS)('%s: %j → %j, as split("?")[0]', (_name, url, path) => {
    expect(pathOf(url)).toBe(path);
    expect(pathOf(url)).toBe(url.split('?')[0]);
  });
});
