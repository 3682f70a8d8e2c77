import { createHmac } from 'node:crypto';
import ImageKit from '@imagekit/nodejs';
import { describe, expect, it, vi } from 'vitest';
import {
  endpointPath,
  imageUrlStringToSign,
  NO_EXPIRY,
  signImageUrl,
  verifyImageUrlSignature,
  type VerifyOptions,
} from '../../shared/signing.js';

const DEMO_KEY = 'private_demo_0123456789';
const OTHER_KEY = 'private_other_abcdefghij';
const EDGE = 'http://127.0.0.1:8787';
const DEMO_EP = `${EDGE}/demo`;
const OTHER_EP = `${EDGE}/other`;
const CUSTOM_EP = 'https://img.demo.test';
const NOW = 1_800_000_000_000; // ms

const sdk = (key: string) => new ImageKit({ privateKey: key });
type Src = Parameters<ImageKit['helper']['buildSrc']>[0];

/** Build with the official SDK, with its clock pinned so expiresIn is reproducible. */
function sdkUrl(key: string, opts: Src, nowMs = NOW): string {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(nowMs);
  try {
    return sdk(key).helper.buildSrc(opts);
  } finally {
    vi.useRealTimers();
  }
}

const verify = (key: string, ep: string, url: string, opts: VerifyOptions = {}) => verifyImageUrlSignature(key, ep, url, { now: NOW, ...opts });
const rejects401 = async (p: Promise<unknown>, message?: RegExp) => {
  await expect(p).rejects.toMatchObject({ status: 401, code: 'EAUTH', ...(message ? { message: expect.stringMatching(message) } : {}) });
};

describe('signed URLs made by @imagekit/nodejs verify', () => {
  it.each<[string, string, Src]>([
    ['path position', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/sample.jpg', transformation: [{ width: 300, height: 200 }], transformationPosition: 'path', signed: true }],
    ['query position', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/sample.jpg', transformation: [{ width: 300, height: 200 }], transformationPosition: 'query', signed: true }],
    ['chained steps in the path', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/a/b/c.png', transformation: [{ width: 400 }, { rotation: 90 }], transformationPosition: 'path', signed: true }],
    ['no transformation', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/sample.jpg', signed: true }],
    ['endpoint with a trailing slash', DEMO_EP, { urlEndpoint: `${DEMO_EP}/`, src: 'sample.jpg', transformation: [{ width: 10 }], signed: true }],
    ['extra query parameters, query tr', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/sample.jpg', queryParameters: { v: '123', 'a b': 'c&d' }, transformation: [{ width: 300 }], transformationPosition: 'query', signed: true }],
    ['extra query parameters, path tr', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/sample.jpg', queryParameters: { v: '1' }, transformation: [{ width: 300 }], transformationPosition: 'path', signed: true }],
    ['non-ASCII path', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/fotos/Größe café ñ.jpg', transformation: [{ width: 300 }], transformationPosition: 'path', signed: true }],
    ['non-ASCII path, query tr', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/日本/画像.png', transformation: [{ width: 300 }], transformationPosition: 'query', signed: true }],
    ['expiring, not yet expired', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/sample.jpg', transformation: [{ width: 300 }], expiresIn: 600 }],
    ['expiring, query position', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/sample.jpg', transformation: [{ width: 300 }], transformationPosition: 'query', expiresIn: 60 }],
    ['custom domain (no account segment)', CUSTOM_EP, { urlEndpoint: CUSTOM_EP, src: '/sample.jpg', transformation: [{ width: 300 }], transformationPosition: 'path', signed: true }],
    ['endpoint prefix inside the signed part', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/remote/sample.jpg', transformation: [{ width: 300 }], transformationPosition: 'query', signed: true }],
    ['named transform and overlay text', DEMO_EP, { urlEndpoint: DEMO_EP, src: '/sample.jpg', transformation: [{ named: 'thumb' }, { overlay: { type: 'text', text: 'Hi there!' } }], transformationPosition: 'path', signed: true }],
  ])('%s', async (_name, ep, opts) => {
    const url = sdkUrl(DEMO_KEY, opts);
    expect(url).toMatch(/[?&]ik-s=[0-9a-f]{40}$/);
    const res = await verify(DEMO_KEY, ep, url);
    expect(res.signed).toBe(true);
    // And our signer produces the very same URL from the unsigned one.
    const unsigned = url.replace(/[?&]ik-t=\d+&ik-s=[0-9a-f]{40}$|[?&]ik-s=[0-9a-f]{40}$/, '');
    const expiresAt = res.signed ? res.expiresAt ?? undefined : undefined;
    expect(await signImageUrl(DEMO_KEY, ep, unsigned, expiresAt)).toBe(url);
  });

  it('expiring URLs report their expiry', async () => {
    const url = sdkUrl(DEMO_KEY, { urlEndpoint: DEMO_EP, src: '/x.jpg', expiresIn: 600 });
    await expect(verify(DEMO_KEY, DEMO_EP, url)).resolves.toEqual({ signed: true, expiresAt: NOW / 1000 + 600 });
    await expect(verify(DEMO_KEY, DEMO_EP, sdkUrl(DEMO_KEY, { urlEndpoint: DEMO_EP, src: '/x.jpg', signed: true }))).resolves.toEqual({ signed: true, expiresAt: null });
  });

  it('the string to sign is the documented one', () => {
    expect(imageUrlStringToSign(DEMO_EP, `${DEMO_EP}/tr:w-400:rt-91/sample/testing-file.jpg?v=123`, 1700000000)).toBe('tr:w-400:rt-91/sample/testing-file.jpg?v=1231700000000');
    const url = sdkUrl(DEMO_KEY, { urlEndpoint: DEMO_EP, src: '/s.jpg', transformation: [{ width: 300 }], transformationPosition: 'query', signed: true });
    const sig = new URL(url).searchParams.get('ik-s');
    expect(sig).toBe(createHmac('sha1', DEMO_KEY).update(`s.jpg?tr=w-300${NO_EXPIRY}`).digest('hex'));
  });
});

describe('bad signatures are refused with 401 EAUTH', () => {
  const pathUrl = sdkUrl(DEMO_KEY, { urlEndpoint: DEMO_EP, src: '/sample.jpg', transformation: [{ width: 300 }], transformationPosition: 'path', signed: true });
  const queryUrl = sdkUrl(DEMO_KEY, { urlEndpoint: DEMO_EP, src: '/sample.jpg', queryParameters: { v: '1' }, transformation: [{ width: 300 }], transformationPosition: 'query', signed: true });
  const expiring = sdkUrl(DEMO_KEY, { urlEndpoint: DEMO_EP, src: '/sample.jpg', transformation: [{ width: 300 }], expiresIn: 60 });
  const otherUrl = sdkUrl(OTHER_KEY, { urlEndpoint: OTHER_EP, src: '/sample.jpg', transformation: [{ width: 300 }], transformationPosition: 'path', signed: true });
  const sigOf = (u: string) => /ik-s=([0-9a-f]{40})/.exec(u)![1]!;

  it.each<[string, string, string, string, RegExp, VerifyOptions?]>([
    ['tampered path', DEMO_KEY, DEMO_EP, pathUrl.replace('sample.jpg', 'sample.png'), /invalid signature/],
    ['tampered tr (path)', DEMO_KEY, DEMO_EP, pathUrl.replace('tr:w-300', 'tr:w-3000'), /invalid signature/],
    ['tampered tr (query)', DEMO_KEY, DEMO_EP, queryUrl.replace('tr=w-300', 'tr=w-301'), /invalid signature/],
    ['tr moved from query to path', DEMO_KEY, DEMO_EP, queryUrl.replace('/sample.jpg', '/tr:w-300/sample.jpg').replace('&tr=w-300', ''), /invalid signature/],
    ['an added query parameter', DEMO_KEY, DEMO_EP, queryUrl.replace('?v=1', '?v=1&x=2'), /invalid signature/],
    ['a removed query parameter', DEMO_KEY, DEMO_EP, queryUrl.replace('?v=1&', '?'), /invalid signature/],
    ['query parameters reordered', DEMO_KEY, DEMO_EP, queryUrl.replace('?v=1&tr=w-300', '?tr=w-300&v=1'), /invalid signature/],
    ['expired', DEMO_KEY, DEMO_EP, expiring, /expired/, { now: NOW + 61_000 }],
    ['expiry pushed later', DEMO_KEY, DEMO_EP, expiring.replace(/ik-t=(\d+)/, (_m, t: string) => `ik-t=${Number(t) + 3600}`), /invalid signature/],
    ['expiry dropped (would mean "never")', DEMO_KEY, DEMO_EP, expiring.replace(/ik-t=\d+&/, ''), /invalid signature/],
    ['wrong key', 'private_wrong', DEMO_EP, pathUrl, /invalid signature/],
    ["another account's key and URL, replayed under demo", DEMO_KEY, DEMO_EP, otherUrl.replace('/other/', '/demo/'), /invalid signature/],
    ["another account's URL checked against demo's endpoint", DEMO_KEY, DEMO_EP, otherUrl, /not under/],
    ['missing when required', DEMO_KEY, DEMO_EP, `${DEMO_EP}/tr:w-300/sample.jpg`, /must be signed/, { required: true }],
    ['ik-t without ik-s', DEMO_KEY, DEMO_EP, `${DEMO_EP}/sample.jpg?ik-t=9999999999`, /without/],
    ['empty ik-s', DEMO_KEY, DEMO_EP, `${DEMO_EP}/sample.jpg?ik-s=`, /malformed/],
    ['truncated ik-s', DEMO_KEY, DEMO_EP, pathUrl.slice(0, -1), /malformed/],
    ['non-numeric ik-t', DEMO_KEY, DEMO_EP, expiring.replace(/ik-t=\d+/, 'ik-t=soon'), /malformed/],
    ['ik-s twice', DEMO_KEY, DEMO_EP, `${pathUrl}&ik-s=${sigOf(pathUrl)}`, /more than once/],
    ['ik-t twice', DEMO_KEY, DEMO_EP, expiring.replace('ik-t=', 'ik-t=1&ik-t='), /more than once/],
    ['percent-encoded parameter name', DEMO_KEY, DEMO_EP, pathUrl.replace('ik-s=', 'ik%2Ds='), /percent-encoded/],
    ['empty private key', '', DEMO_EP, pathUrl, /invalid signature/],
    ['not a URL', DEMO_KEY, DEMO_EP, '/demo/sample.jpg?ik-s=0000000000000000000000000000000000000000', /malformed URL/],
  ])('%s', async (_name, key, ep, url, message, opts) => {
    await rejects401(verify(key, ep, url, opts), message);
  });

  // thumbor CVE-2026-53501: the signature was removed with a string replace of its value, so
  // putting the value into the path too made the replace eat the path copy and verify the rest.
  it.each<[string, (u: string, s: string) => string]>([
    ['signature value appended to the file name', (u, s) => u.replace('sample.jpg', `sample.jpg${s}`)],
    ['signature value as an extra path segment', (u, s) => u.replace('/sample.jpg', `/${s}/sample.jpg`)],
    ['signature value as an extra query parameter', (u, s) => `${u}&x=${s}`],
    ['"ik-s=<value>" inside the path', (u, s) => u.replace('sample.jpg', `sample.jpg&ik-s=${s}`)],
  ])('CVE-2026-53501 regression: %s', async (_name, mutate) => {
    const url = mutate(pathUrl, sigOf(pathUrl));
    await rejects401(verify(DEMO_KEY, DEMO_EP, url));
  });
});

describe('accepted variations', () => {
  const url = sdkUrl(DEMO_KEY, { urlEndpoint: DEMO_EP, src: '/sample.jpg', transformation: [{ width: 300 }], transformationPosition: 'query', signed: true });

  it('unsigned is fine when optional', async () => {
    await expect(verify(DEMO_KEY, DEMO_EP, `${DEMO_EP}/tr:w-300/sample.jpg`)).resolves.toEqual({ signed: false });
  });

  it.each<[string, string, string, VerifyOptions?]>([
    ['another origin seeing the same path (TLS termination, local port)', DEMO_EP, url.replace(EDGE, 'https://cdn.example.com')],
    ['upper-case hex', DEMO_EP, url.replace(/ik-s=([0-9a-f]+)/, (_m, s: string) => `ik-s=${s.toUpperCase()}`)],
    ['ik-s moved to the front of the query', DEMO_EP, url.replace(/\?tr=w-300&ik-s=([0-9a-f]{40})$/, '?ik-s=$1&tr=w-300')],
    ['a fragment is ignored', DEMO_EP, `${url}#frag`],
    // Same account, same key, same resource: a custom-domain URL's signature also holds on the
    // account path (ImageKit signs nothing above the URL endpoint).
    ['custom-domain signature on the account path', DEMO_EP, sdkUrl(DEMO_KEY, { urlEndpoint: CUSTOM_EP, src: '/sample.jpg', signed: true }).replace(CUSTOM_EP, DEMO_EP)],
  ])('%s', async (_name, ep, u, opts) => {
    await expect(verify(DEMO_KEY, ep, u, { required: true, ...opts })).resolves.toEqual({ signed: true, expiresAt: null });
  });

  it('expiry is checked at the second boundary', async () => {
    const u = sdkUrl(DEMO_KEY, { urlEndpoint: DEMO_EP, src: '/x.jpg', expiresIn: 60 });
    await expect(verify(DEMO_KEY, DEMO_EP, u, { now: NOW + 60_999 })).resolves.toEqual({ signed: true, expiresAt: NOW / 1000 + 60 });
    await rejects401(verify(DEMO_KEY, DEMO_EP, u, { now: NOW + 61_000 }), /expired/);
  });
});

describe('signImageUrl', () => {
  it.each<[string, string, string, number | undefined, string]>([
    ['never expiring, no query', DEMO_EP, `${DEMO_EP}/tr:w-1/a.jpg`, undefined, '?ik-s='],
    ['expiring, with a query', DEMO_EP, `${DEMO_EP}/a.jpg?tr=w-1`, 1_900_000_000, '&ik-t=1900000000&ik-s='],
    ['trailing "?" is dropped', DEMO_EP, `${DEMO_EP}/a.jpg?`, undefined, 'a.jpg?ik-s='],
  ])('%s', async (_name, ep, url, exp, fragment) => {
    const signed = await signImageUrl(DEMO_KEY, ep, url, exp);
    expect(signed).toContain(fragment);
    await expect(verify(DEMO_KEY, ep, signed, { now: 1_800_000_000_000 })).resolves.toMatchObject({ signed: true });
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    ['URL outside the endpoint', () => signImageUrl(DEMO_KEY, DEMO_EP, `${OTHER_EP}/a.jpg`), /does not start with/],
    ['already signed', () => signImageUrl(DEMO_KEY, DEMO_EP, `${DEMO_EP}/a.jpg?ik-s=abc`), /already signed/],
    ['bad expiry', () => signImageUrl(DEMO_KEY, DEMO_EP, `${DEMO_EP}/a.jpg`, 1.5), /expiresAt/],
    ['no key', () => signImageUrl('', DEMO_EP, `${DEMO_EP}/a.jpg`), /private key/],
    ['relative URL', () => signImageUrl(DEMO_KEY, DEMO_EP, '/demo/a.jpg'), /absolute/],
  ])('refuses: %s', async (_name, run, message) => {
    await expect(run()).rejects.toThrow(message);
  });

  it.each<[string, string]>([
    ['http://127.0.0.1:8787/demo', '/demo'],
    ['http://127.0.0.1:8787/demo/', '/demo'],
    ['https://img.demo.test', ''],
    ['https://img.demo.test/', ''],
  ])('endpointPath(%s) = %j', (ep, want) => {
    expect(endpointPath(ep)).toBe(want);
  });
});
