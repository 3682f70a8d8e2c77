/**
 * The one cache key (shared/cache-key.ts) both tiers store under: what changes the bytes changes
 * the key, what does not, does not. The edge and the region call the same function, so a change
 * of account defaults can no longer leave one tier serving the old bytes.
 */
import { describe, expect, it } from 'vitest';
import { validateAccountFile, type Account } from '../../shared/accounts.js';
import { CACHE_KEY_VERSION, cacheKeyDigest, transformKeyPart, variantCacheKey, type VariantIdentity } from '../../shared/cache-key.js';
import { parseImagePath } from '../../shared/request.js';
import { parseTransformation, TRANSFORM_ENGINE_VERSION, type NegotiatedFormat } from '../../shared/transform/index.js';

function account(overrides: Record<string, unknown> = {}): Account {
  return validateAccountFile({
    accounts: [
      {
        id: 'demo',
        homeRegion: 'eu-central-1',
        privateKey: 'private_x',
        namedTransforms: { thumb: 'w-200,h-200' },
        endpoints: [{ prefix: '', origins: [{ type: 'media' }] }],
        ...overrides,
      },
    ],
  })[0]!;
}

function identity(acct: Account, url: string, format: NegotiatedFormat = 'webp', hints: { dpr?: string; width?: string } = {}): VariantIdentity {
  const u = new URL(url, 'http://edge.test');
  const request = parseImagePath(acct, u.pathname, u.search);
  const plan = parseTransformation(request.tr, { namedTransforms: acct.namedTransforms, namedOnly: acct.namedOnly });
  return { account: acct, request, plan, format, ...hints };
}

const key = (acct: Account, url: string, format?: NegotiatedFormat, hints?: { dpr?: string; width?: string }) => variantCacheKey(identity(acct, url, format, hints));

describe('variantCacheKey', () => {
  it('starts with the key version and carries the engine version', () => {
    const k = key(account(), '/tr:w-100/a.jpg');
    expect(k.split('\n')[0]).toBe(`k${CACHE_KEY_VERSION}`);
    expect(k).toContain(`v${TRANSFORM_ENGINE_VERSION}|`);
  });

  it.each<[string, Record<string, unknown>]>([
    ['quality', { quality: 20 }],
    ['autoFormat', { autoFormat: false }],
    ['avif', { avif: true }],
    ['autoRotate', { autoRotate: false }],
  ])('changes when the account default %s changes', (_name, defaults) => {
    const before = key(account(), '/tr:w-100/a.jpg');
    const after = key(account({ defaults }), '/tr:w-100/a.jpg');
    expect(after).not.toBe(before);
  });

  it('changes when a named transformation is edited (it is keyed expanded, not by name)', () => {
    const before = key(account(), '/tr:n-thumb/a.jpg');
    const after = key(account({ namedTransforms: { thumb: 'w-300,h-200' } }), '/tr:n-thumb/a.jpg');
    expect(after).not.toBe(before);
    expect(before).toBe(key(account(), '/tr:w-200,h-200/a.jpg'));
  });

  it.each([
    ['parameter order', '/tr:w-100,h-50/a.jpg', '/tr:h-50,w-100/a.jpg'],
    ['path form vs query form', '/tr:w-100/a.jpg', '/a.jpg?tr=w-100'],
    ['a q- equal to the account default', '/tr:w-100,q-80/a.jpg', '/tr:w-100/a.jpg'],
    ['the signature parameters', '/tr:w-100/a.jpg?ik-t=9999999999&ik-s=abc', '/tr:w-100/a.jpg'],
  ])('is the same across %s', (_what, a, b) => {
    expect(key(account(), a)).toBe(key(account(), b));
  });

  it.each([
    ['the path', '/tr:w-100/a.jpg', '/tr:w-100/b.jpg'],
    ['the transformation', '/tr:w-100/a.jpg', '/tr:w-101/a.jpg'],
    ['the cache-busting query', '/tr:w-100/a.jpg?v=1', '/tr:w-100/a.jpg?v=2'],
  ])('differs across %s', (_what, a, b) => {
    expect(key(account(), a)).not.toBe(key(account(), b));
  });

  it('differs by negotiated format and by account', () => {
    expect(key(account(), '/tr:w-100/a.jpg', 'webp')).not.toBe(key(account(), '/tr:w-100/a.jpg', 'avif'));
    expect(key(account(), '/tr:w-100/a.jpg')).not.toBe(key(account({ id: 'other' }), '/tr:w-100/a.jpg'));
  });

  it('holds client hints only when the plan reads them, normalised', () => {
    expect(key(account(), '/tr:w-100/a.jpg', 'webp', { dpr: '2', width: '500' })).toBe(key(account(), '/tr:w-100/a.jpg', 'webp'));
    expect(key(account(), '/tr:w-100,dpr-auto/a.jpg', 'webp', { dpr: '2.0' })).toBe(key(account(), '/tr:w-100,dpr-auto/a.jpg', 'webp', { dpr: '2' }));
    expect(key(account(), '/tr:w-100,dpr-auto/a.jpg', 'webp', { dpr: '2' })).not.toBe(key(account(), '/tr:w-100,dpr-auto/a.jpg', 'webp', { dpr: '3' }));
  });
});

describe('transformKeyPart', () => {
  it.each<[string, { format: 'webp' | 'source'; dpr?: string; width?: string }, string]>([
    ['w-100,q-80', { format: 'webp', dpr: '2', width: '500' }, `v${TRANSFORM_ENGINE_VERSION}|w-100|f=webp`],
    ['w-100,dpr-auto', { format: 'source', dpr: '2.0', width: '500' }, `v${TRANSFORM_ENGINE_VERSION}|dpr-auto,w-100|f=source|dpr=2`],
    ['w-auto', { format: 'source', width: '412.4' }, `v${TRANSFORM_ENGINE_VERSION}|w-auto|f=source|w=412`],
    ['w-auto', { format: 'source' }, `v${TRANSFORM_ENGINE_VERSION}|w-auto|f=source|w=`],
  ])('%s %j → %s', (tr, variant, expected) => {
    expect(transformKeyPart({ plan: parseTransformation(tr), ...variant }, { quality: 80 })).toBe(expected);
  });
});

describe('cacheKeyDigest', () => {
  it('is a 64-hex SHA-256 that differs per key', async () => {
    const a = await cacheKeyDigest('a');
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).toBe('ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb');
    expect(await cacheKeyDigest('b')).not.toBe(a);
  });
});
