/**
 * Origins and URL endpoints made through the API (origin/src/account-origins.ts): the pure
 * validation and shapes, the overlay they become, and the address guard of a customer's S3 client.
 */
import { describe, expect, it } from 'vitest';
import { edgeAccountFile, validateAccountFile } from '../../shared/accounts.js';
import { Webhook } from 'standardwebhooks';
import { signedHeaders } from '../../origin/src/media/webhooks.js';
import { endpointsOf, literalRefused, parseEndpoint, parseOrigin, publicOrigin, seedFromFile } from '../../origin/src/account-origins.js';
import { fetchOriginal } from '../../origin/src/sources/index.js';
import { getS3Object } from '../../origin/src/sources/s3.js';
import { SafeFetchError } from '../../origin/src/sources/safe-fetch.js';
import type { ServerConfig } from '../../origin/src/config.js';

const account = { managedOrigins: undefined };

describe('parseOrigin', () => {
  it.each([
    ['S3', { type: 'S3', name: 'a', bucket: 'my-bucket', accessKey: 'K', secretKey: 'S' }, { type: 's3', bucket: 'my-bucket', prefix: '', accessKeyId: 'K', secretAccessKey: 'S', allowPrivateNetwork: false }],
    ['S3_COMPATIBLE', { type: 'S3_COMPATIBLE', name: 'a', bucket: 'my-bucket', accessKey: 'K', secretKey: 'S', endpoint: 'https://s3.example.com/', prefix: '/p/' }, { type: 's3', endpoint: 'https://s3.example.com', prefix: 'p', forcePathStyle: false }],
    ['WEB_FOLDER', { type: 'WEB_FOLDER', name: 'a', baseUrl: 'https://cdn.example.com/img/' }, { type: 'web', baseUrl: 'https://cdn.example.com/img', allowPrivateNetwork: false }],
    ['WEB_PROXY', { type: 'WEB_PROXY', name: 'a' }, { type: 'webproxy', allowHosts: ['*'], requireSignedUrls: true, allowPrivateNetwork: false }],
  ])('%s → the source pixmesh fetches with', (_t, body, source) => {
    expect(parseOrigin(body, 'id1', account).source).toMatchObject(source);
  });

  it.each([
    [{ type: 'AZURE_BLOB', name: 'a' }, 'origin type AZURE_BLOB is not supported here'],
    [{ type: 'S3', name: 'a', bucket: 'my-bucket', accessKey: 'K', secretKey: 'S', useIAMRole: true }, 'useIAMRole is not supported'],
    [{ type: 'S3', name: 'a', bucket: 'my-bucket', secretKey: 'S' }, 'accessKey is required'],
    [{ type: 'S3', name: 'a', bucket: 'my-bucket', accessKey: 'K', secretKey: 'S', endpoint: 'https://x' }, 'endpoint is not a field of a S3 origin'],
    [{ type: 'WEB_FOLDER', name: 'a', baseUrl: 'https://x.example/?a=1' }, 'baseUrl may not carry a query'],
    [{ type: 'WEB_FOLDER', name: 'a', baseUrl: 'https://x.example', includeCanonicalHeader: true }, 'baseUrlForCanonicalHeader is required'],
    [{ type: 'WEB_FOLDER', name: 'a', baseUrl: 'http://10.0.0.8/' }, 'private or reserved address: 10.0.0.8 (private)'],
    [[], 'must be a JSON object'],
  ])('%j → 400 "%s"', (body, message) => {
    expect(() => parseOrigin(body, 'id1', account)).toThrow(message);
  });

  it('the operator opt-in lets a private address through', () => {
    expect(parseOrigin({ type: 'WEB_FOLDER', name: 'a', baseUrl: 'http://10.0.0.8/' }, 'x', { managedOrigins: { allowPrivateNetwork: true } }).source).toMatchObject({ allowPrivateNetwork: true });
  });

  it('the public shape never holds a key', () => {
    const o = parseOrigin({ type: 'S3_COMPATIBLE', name: 'a', bucket: 'my-bucket', accessKey: 'AKIA-X', secretKey: 'SECRET-Y', endpoint: 'https://s3.example.com' }, 'id1', account);
    expect(JSON.stringify(publicOrigin(o))).not.toMatch(/AKIA-X|SECRET-Y|accessKey|secretKey/);
  });

  it.each([
    ['http://127.0.0.1/', '127.0.0.1 (loopback)'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1'],
    ['http://169.254.169.254/', '169.254.169.254'],
    ['http://app.localhost/', 'app.localhost'],
    ['https://s3.example.com/', undefined],
    ['https://8.8.8.8/', undefined],
  ])('literalRefused(%s) = %s', (url, expected) => {
    const out = literalRefused(new URL(url), false);
    if (expected === undefined) expect(out).toBeUndefined();
    else expect(out).toContain(expected);
  });
});

describe('URL endpoints and the overlay', () => {
  const s3 = parseOrigin({ type: 'S3', name: 'a', bucket: 'my-bucket', accessKey: 'K', secretKey: 'S' }, 'o1', account);
  const web = parseOrigin({ type: 'WEB_FOLDER', name: 'w', baseUrl: 'https://cdn.example.com' }, 'o2', account);

  it('an endpoint lists its origins in order, after the media library, and validates as an account file', () => {
    const ep = parseEndpoint({ description: 'd', urlPrefix: 'shop', origins: ['o2', 'o1'] }, 'e1', [s3, web]);
    const endpoints = endpointsOf([s3, web], [{ id: 'default', description: '', urlPrefix: '', origins: [], media: true }, ep]);
    expect(endpoints[1]!.origins.map((o) => o.type)).toEqual(['media', 'web', 's3']);
    const [acc] = validateAccountFile({ accounts: [{ id: 'a', homeRegion: 'eu-central-1', privateKey: 'k', endpoints }] });
    expect(acc!.endpoints[1]).toMatchObject({ prefix: 'shop' });
    expect(acc!.endpoints[1]!.origins[2]).toMatchObject({ type: 's3', allowPrivateNetwork: false });
  });

  it('an update keeps omitted fields; the default endpoint keeps its empty prefix', () => {
    const cur = { id: 'e1', description: 'd', urlPrefix: 'shop', origins: ['o1'], media: true };
    expect(parseEndpoint({ description: 'new' }, 'e1', [s3], cur)).toEqual({ ...cur, description: 'new' });
    expect(() => parseEndpoint({ description: 'x', urlPrefix: 'p' }, 'default', [], { ...cur, id: 'default', urlPrefix: '' })).toThrow('default URL endpoint keeps the empty urlPrefix');
  });

  it('the account file seeds origins (deduplicated, derived ids) and endpoints ("default" for the empty prefix)', () => {
    const o = { type: 'web' as const, baseUrl: 'https://a.example', allowPrivateNetwork: false };
    const seeded = seedFromFile({ id: 'acc', endpoints: [{ prefix: '', origins: [{ type: 'media' }, o] }, { prefix: 'x', origins: [o] }] });
    expect(seeded.origins).toHaveLength(1);
    expect(seeded.urlEndpoints.map((e) => [e.id, e.origins, e.media])).toEqual([
      ['default', [seeded.origins[0]!.id], true],
      [expect.stringMatching(/^[0-9a-f]{24}$/), [seeded.origins[0]!.id], false],
    ]);
    expect(seedFromFile({ id: 'acc', endpoints: [{ prefix: '', origins: [o] }] }).origins[0]!.id).toBe(seeded.origins[0]!.id);
  });
});

describe("a customer's S3-compatible endpoint connects to public addresses only", () => {
  const loc = (endpoint: string) => ({ endpoint, region: 'us-east-1', accessKeyId: 'K', secretAccessKey: 'S', forcePathStyle: true, allowPrivateNetwork: false });

  it('a name resolving to loopback is refused when connecting (no request reaches it)', async () => {
    const err = await getS3Object(loc('http://localhost:9'), 'b', 'k', 1000, 5000).then(
      () => undefined,
      (e: unknown) => e,
    );
    const cause = err instanceof SafeFetchError ? err : (err as { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(SafeFetchError);
    expect((cause as SafeFetchError).message).toMatch(/localhost → 127\.0\.0\.1 \(loopback\)/);
  });

  it('through fetchOriginal it is 403 EACCES, not a 5xx another origin could be tried for', async () => {
    const source = { type: 's3' as const, bucket: 'b', prefix: '', ...loc('http://127.0.0.1:9') };
    const region = { region: 'eu-central-1', fetch: { connectTimeoutMs: 1000, headerTimeoutMs: 1000, bodyTimeoutMs: 1000 } } as unknown as ServerConfig;
    const input = { account: { id: 'a' } as never, endpoint: { prefix: '', origins: [source] }, path: 'x.jpg', maxBytes: 1000 };
    await expect(fetchOriginal(input, region)).rejects.toMatchObject({ status: 403, code: 'EACCES' });
  });
});

describe('account file webhooks', () => {
  const file = (webhooks: unknown) => ({ accounts: [{ id: 'a', homeRegion: 'eu-central-1', privateKey: 'k', endpoints: [{ prefix: '', origins: [{ type: 'media' }] }], webhooks }] });

  it.each([
    [[{ url: 'ftp://x', secret: '0123456789abcdef' }], 'webhooks[0].url must be an http(s) URL'],
    [[{ url: 'https://x.example', secret: 'short' }], 'webhooks[0].secret must be a string of at least 16 characters'],
    [[{ url: 'https://x.example', secret: '0123456789abcdef', events: ['file.moved'] }], 'webhooks[0].events must list events among'],
    [[{ url: 'https://x.example', secret: '0123456789abcdef', retries: 3 }], 'webhooks[0].retries is not a known setting'],
    [{}, 'webhooks must be an array'],
  ])('%j → "%s"', (webhooks, problem) => {
    expect(() => validateAccountFile(file(webhooks))).toThrow(problem);
  });

  it('the edge never gets the endpoints or their secrets', () => {
    const accounts = validateAccountFile(file([{ url: 'https://x.example/h', secret: 'top-secret-0123456789' }]));
    expect(accounts[0]!.webhooks).toEqual([{ url: 'https://x.example/h', secret: 'top-secret-0123456789', allowPrivateNetwork: false }]);
    expect(edgeAccountFile(accounts)).not.toMatch(/top-secret|x\.example\/h|webhooks/);
  });

  it.each([['a plain secret string (the SDK\'s webhookSecret)', 'plain-secret-0123456789', Buffer.from('plain-secret-0123456789').toString('base64')], ['a whsec_ secret', `whsec_${Buffer.from('k'.repeat(24)).toString('base64')}`, `whsec_${Buffer.from('k'.repeat(24)).toString('base64')}`]])(
    'signatures made with %s verify with Standard Webhooks, and not after a change',
    (_what, secret, verifyKey) => {
      const body = JSON.stringify({ id: 'e1', type: 'file.deleted', created_at: new Date().toISOString(), data: { fileId: 'f' } });
      const headers = signedHeaders(secret, 'msg_1', body);
      expect(new Webhook(verifyKey).verify(body, headers)).toEqual(JSON.parse(body));
      expect(() => new Webhook(verifyKey).verify(body.replace('f"', 'g"'), headers)).toThrow();
    },
  );
});
