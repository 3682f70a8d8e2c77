/**
 * Internal-call signatures (shared/internal-auth.ts + origin/src/internal-auth.ts), through the
 * real middleware on a Hono app: a captured call is useless for another region, another body,
 * a second time, or after the window (#12 point 4).
 */
import { Hono } from 'hono';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PixmeshError } from '../../shared/errors.js';
import { AUTH_HEADER, authFields, CONTENT_SHA256_HEADER, DEFAULT_WINDOW_MS, signInternalRequest, timingSafeEqualStr, useHmac, verifyInternalRequest, verifyInternalRequestNow } from '../../shared/internal-auth.js';
import { NonceMemory, requireInternalAuth, type NonceStore } from '../../origin/src/internal-auth.js';

const SECRET = 'internal-test-secret-0123456789';

function regionApp(region: string, nonces: NonceStore = new NonceMemory()) {
  const app = new Hono();
  app.onError((e, c) => c.json({ code: (e as PixmeshError).code, message: e.message }, ((e as PixmeshError).status ?? 500) as 401));
  app.use('*', requireInternalAuth(SECRET, region, nonces));
  app.get('/internal/accounts', (c) => c.text('secret directory'));
  app.patch('/internal/media/acme/files/1', async (c) => c.json({ got: await c.req.text() }));
  app.post('/internal/purge', (c) => c.json({ purged: c.req.query('path') }));
  return app;
}

async function signed(method: string, pathAndQuery: string, region: string, body?: string, now?: number) {
  const headers = new Headers({ 'content-type': 'application/json' });
  await signInternalRequest(SECRET, headers, { method, pathAndQuery, region, body, now });
  return headers;
}

/** A seeded xorshift32: rand(n) is an integer in [0, n). */
const xorshift = (seed: number) => (n: number) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

const status = async (res: Response | Promise<Response>) => {
  const r = await res;
  const j = (await r.json().catch(() => ({}))) as { message?: string };
  return `${r.status}${r.status === 200 ? '' : ` ${j.message ?? ''}`}`;
};

describe('internal signatures: target region, body digest, replay, window', () => {
  it('a GET /internal/accounts signed for eu-central-1 is served there once, refused on replay, and refused by every other region', async () => {
    const headers = await signed('GET', '/internal/accounts', 'eu-central-1');
    const eu = regionApp('eu-central-1');
    expect(await status(eu.request('/internal/accounts', { headers }))).toBe('200');
    expect(await status(eu.request('/internal/accounts', { headers }))).toMatch(/^401 .*replayed/);
    for (const other of ['us-east-1', 'us-west-1', 'ap-south-1', 'ap-southeast-1', 'ap-southeast-2'])
      expect(await status(regionApp(other).request('/internal/accounts', { headers }))).toMatch(/^401 .*another region/);
  });

  it('a captured PATCH with a swapped body is refused (401); the signed body passes', async () => {
    const app = regionApp('eu-central-1');
    const body = JSON.stringify({ tags: ['ok'] });
    const headers = await signed('PATCH', '/internal/media/acme/files/1', 'eu-central-1', body);
    const swapped = await app.request('/internal/media/acme/files/1', { method: 'PATCH', headers, body: JSON.stringify({ tags: ['evil'] }) });
    expect(await status(swapped)).toMatch(/^401 .*does not match the signed digest/);
    const fresh = await signed('PATCH', '/internal/media/acme/files/1', 'eu-central-1', body);
    const ok = await app.request('/internal/media/acme/files/1', { method: 'PATCH', headers: fresh, body });
    expect(await ok.json()).toEqual({ got: body });
  });

  it('a body digest header changed to match the swapped body breaks the HMAC', async () => {
    const app = regionApp('eu-central-1');
    const headers = await signed('PATCH', '/internal/media/acme/files/1', 'eu-central-1', 'a');
    const evil = 'b';
    const digest = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(evil))).toString('hex');
    headers.set(CONTENT_SHA256_HEADER, digest);
    expect(await status(app.request('/internal/media/acme/files/1', { method: 'PATCH', headers, body: evil }))).toMatch(/^401 .*bad internal signature/);
  });

  it('a purge signature for one path does not purge another (query is signed)', async () => {
    const headers = await signed('POST', '/internal/purge?account=acme&path=a.jpg', 'eu-central-1');
    expect(await status(regionApp('eu-central-1').request('/internal/purge?account=acme&path=', { method: 'POST', headers }))).toMatch(/^401/);
  });

  it(`the window is ±${DEFAULT_WINDOW_MS / 1000} s`, async () => {
    const app = regionApp('eu-central-1');
    const at = (offset: number) => signed('GET', '/internal/accounts', 'eu-central-1', undefined, Date.now() + offset);
    expect(await status(app.request('/internal/accounts', { headers: await at(-DEFAULT_WINDOW_MS + 2_000) }))).toBe('200');
    expect(await status(app.request('/internal/accounts', { headers: await at(-DEFAULT_WINDOW_MS - 2_000) }))).toMatch(/^401 .*window/);
    expect(await status(app.request('/internal/accounts', { headers: await at(DEFAULT_WINDOW_MS + 2_000) }))).toMatch(/^401 .*window/);
  });

  it('replicas of one region sharing a NonceStore refuse a replay across replicas', async () => {
    const shared = new NonceMemory();
    const a = regionApp('eu-central-1', shared);
    const b = regionApp('eu-central-1', shared);
    const headers = await signed('GET', '/internal/accounts', 'eu-central-1');
    expect(await status(a.request('/internal/accounts', { headers }))).toBe('200');
    expect(await status(b.request('/internal/accounts', { headers }))).toMatch(/^401 .*replayed/);
  });

  it('NonceMemory forgets a nonce only after its time-to-live, and stays bounded', () => {
    const m = new NonceMemory(3);
    expect(m.remember('a', 1000, 0)).toBe(true);
    expect(m.remember('a', 1000, 999)).toBe(false);
    expect(m.remember('a', 1000, 1001)).toBe(true);
    for (const n of ['b', 'c', 'd', 'e']) m.remember(n, 1000, 1002);
    expect((m as unknown as { seen: Map<string, number> }).seen.size).toBeLessThanOrEqual(3);
  });

  it('a missing or malformed signature is refused', async () => {
    const app = regionApp('eu-central-1');
    expect(await status(app.request('/internal/accounts'))).toMatch(/^401 .*missing/);
    expect(await status(app.request('/internal/accounts', { headers: { [AUTH_HEADER]: 't=1,n=2,s=3' } }))).toMatch(/^401 .*malformed/);
  });
});

describe('timingSafeEqualStr: equal exactly when the strings are equal', () => {
  const hex = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  it.each([
    ['two equal 64-hex signatures', hex, hex, true],
    ['the first character differs', `f${hex.slice(1)}`, hex, false],
    ['a middle character differs', `${hex.slice(0, 31)}0${hex.slice(32)}`, hex, false],
    ['the last character differs', `${hex.slice(0, 63)}4`, hex, false],
    ['one is a prefix of the other', hex.slice(0, 63), hex, false],
    ['the other is a prefix of the one', hex, hex.slice(0, 10), false],
    ['a string repeated to the other\'s length (the index wraps)', 'ab', 'abab', false],
    ['both empty', '', '', true],
    ['empty against non-empty', '', 'a', false],
    ['non-empty against empty', 'a', '', false],
    ['case differs (hex is compared as sent)', 'ABCDEF', 'abcdef', false],
    ['equal non-ASCII keys', 'clé-ключ-鍵', 'clé-ключ-鍵', true],
    ['non-ASCII keys differing in one letter', 'clé-ключ-鍵', 'cle-ключ-鍵', false],
    ['two different lone surrogates (both UTF-8-encode as U+FFFD)', '\ud800', '\udc00', false],
    ['a character against its code unit + 65536', 'a', String.fromCodePoint(0x10061), false],
  ])('%s → %s', (_name, a, b, equal) => {
    expect(timingSafeEqualStr(a, b)).toBe(equal);
    expect(timingSafeEqualStr(b, a)).toBe(equal);
  });

  it('agrees with === on 2,000 random pairs of short strings over a small alphabet (many equal, many one letter apart)', () => {
    const rand = xorshift(7);
    const word = () => Array.from({ length: rand(4) }, () => 'ab\u00e9\ud83d'[rand(4)]).join('');
    let equalPairs = 0;
    for (let i = 0; i < 2000; i++) {
      const a = word();
      const b = rand(2) ? a : word();
      if (a === b) equalPairs++;
      expect(timingSafeEqualStr(a, b)).toBe(a === b);
    }
    expect(equalPairs).toBeGreaterThan(500);
    expect(equalPairs).toBeLessThan(1900);
  });
});

describe('authFields reads t, n and s as the split-and-fromEntries parse did', () => {
  /** The parse authFields replaced, kept here as the definition of its result. */
  const reference = (value: string) => {
    const parts = Object.fromEntries(value.split(',').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)])) as Record<string, string | undefined>;
    return { t: parts.t ?? '', n: parts.n ?? '', s: parts.s ?? '' };
  };
  it.each([
    ['a well-formed value', 't=1764692000000,n=00ff,s=abcd', { t: '1764692000000', n: '00ff', s: 'abcd' }],
    ['fields in another order', 's=3,t=1,n=2', { t: '1', n: '2', s: '3' }],
    ['a repeated name: the last wins', 't=1,n=2,s=3,n=9', { t: '1', n: '9', s: '3' }],
    ['a value holding "="', 't=1,n=a=b,s=3', { t: '1', n: 'a=b', s: '3' }],
    ['an empty value', 't=,n=2,s=3', { t: '', n: '2', s: '3' }],
    ['a missing field', 't=1,s=3', { t: '1', n: '', s: '3' }],
    ['a part without "=" (named by its text minus the last character)', 'nX,t=1', { t: '1', n: 'nX', s: '' }],
    ['a one-letter part without "="', 't,n=2', { t: '', n: '2', s: '' }],
    ['empty parts and a trailing comma', ',,t=1,,n=2,', { t: '1', n: '2', s: '' }],
    ['the empty string', '', { t: '', n: '', s: '' }],
    ['spaces are kept (the regexes refuse them later)', ' t=1, n=2', { t: '', n: '', s: '' }],
    ['longer names are ignored', 'tt=1,nn=2,ss=3', { t: '', n: '', s: '' }],
  ])('%s', (_name, value, expected) => {
    expect(authFields(value)).toEqual(expected);
    expect(reference(value)).toEqual(expected);
  });

  it('agrees with the reference on 3,000 random values over the characters that matter', () => {
    const rand = xorshift(11);
    for (let i = 0; i < 3000; i++) {
      const value = Array.from({ length: rand(14) }, () => 'tns=,a1'[rand(7)]).join('');
      expect(authFields(value), JSON.stringify(value)).toEqual(reference(value));
    }
  });
});

describe('verifyInternalRequestNow: the same answers, at once with a synchronous HMAC', () => {
  const request = (headers: Headers, region = 'eu-central-1') => ({ method: 'GET', pathAndQuery: '/internal/render/a/tr:w-1/x.jpg', headers, region });
  it.each([
    ['a valid call', (h: Headers) => h, 'eu-central-1', true],
    ['another region', (h: Headers) => h, 'us-east-1', false],
    ['a tampered signature', (h: Headers) => (h.set(AUTH_HEADER, h.get(AUTH_HEADER)!.replace(/s=./, (m) => (m === 's=0' ? 's=1' : 's=0'))), h), 'eu-central-1', false],
    ['no signature', (h: Headers) => (h.delete(AUTH_HEADER), h), 'eu-central-1', false],
  ] as const)('%s', async (_name, change, region, ok) => {
    const headers = new Headers({ 'x-pixmesh-format': 'jpeg' });
    await signInternalRequest(SECRET, headers, { method: 'GET', pathAndQuery: '/internal/render/a/tr:w-1/x.jpg', region: 'eu-central-1' });
    change(headers);
    const viaWebCrypto = await verifyInternalRequest(SECRET, request(headers, region));
    useHmac((secret, data, hash) => createHmac(hash === 'SHA-1' ? 'sha1' : 'sha256', secret).update(data).digest('hex'));
    try {
      const now = verifyInternalRequestNow(SECRET, request(headers, region));
      expect(now).not.toBeInstanceOf(Promise);
      expect(now).toEqual(viaWebCrypto);
      expect(viaWebCrypto.ok).toBe(ok);
    } finally {
      useHmac(undefined);
    }
  });
});
