/**
 * RegionBucket against a real s3rver on loopback, through both of its clients (the lean SigV4
 * client and @aws-sdk/client-s3): the same calls must give the same answers.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegionBucket } from '../../origin/src/region/bucket.js';
import { bucketBase, parseListPage, xmlEscape, xmlText } from '../../origin/src/region/s3-lean.js';
import { faithfulS3rver } from '../../scripts/cluster.js';
import { freePortBase } from './helpers.js';

let s3: S3rver;
let dir: string;
let endpoint: string;
const loc = () => ({ endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-bucket-test-'));
  const port = await freePortBase();
  s3 = new S3rver({ address: '127.0.0.1', port, directory: dir, silent: true, allowMismatchedSignatures: false } as ConstructorParameters<typeof S3rver>[0]);
  faithfulS3rver(s3);
  await s3.run();
  endpoint = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await s3?.close().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe.each(['lean', 'sdk'] as const)('RegionBucket through the %s client', (client) => {
  let bucket: RegionBucket;
  beforeAll(async () => {
    bucket = new RegionBucket(`pixmesh-test-${client}`, loc(), 5_000, client);
    await bucket.ensure();
  });

  it('uses the client it was asked for', () => {
    expect(bucket.client).toBe(client);
  });

  it('ensure() on a bucket that already exists does not throw', async () => {
    await expect(bucket.ensure()).resolves.toBeUndefined();
  });

  it('returns a body byte for byte, with its metadata', async () => {
    const body = crypto.randomBytes(200_000);
    const etag = await bucket.put('v/acc/img.jpg/@abc', body, 'image/jpeg', { variant: 'w-100' });
    // s3rver's ETag is the body's MD5, as S3's for a single-part upload
    expect(etag).toBe(`"${crypto.createHash('md5').update(body).digest('hex')}"`);
    expect((await bucket.list('v/acc/img.jpg/')).map((o) => o.etag)).toEqual([etag]);
    const got = await bucket.get('v/acc/img.jpg/@abc');
    expect(got?.body.equals(body)).toBe(true);
    expect(got?.metadata).toEqual({ variant: 'w-100' });
    expect(got?.lastModified).toBeInstanceOf(Date);
  });

  // (in a bucket of their own: s3rver's listing of a whole bucket fails on some of these file names)
  it.each(["a b/ü+&<>()!*'~.json", 'percent%20not-a-space', 'x=1&y=2;z,@$'])('stores and lists the awkward key %j as itself', async (key) => {
    const awk = new RegionBucket(`pixmesh-awk-${client}`, loc(), 5_000, client);
    await awk.ensure();
    await awk.putJson(`awk/${key}`, { key });
    expect(await awk.getJson(`awk/${key}`)).toEqual({ key });
    expect(await awk.exists(`awk/${key}`)).toBe(true);
    expect((await awk.list(`awk/${key}`)).map((o) => o.key)).toContain(`awk/${key}`);
  });

  it('says missing as null on get and false on exists', async () => {
    expect(await bucket.get('nothing/here')).toBeNull();
    expect(await bucket.exists('nothing/here')).toBe(false);
    expect(await bucket.getJson('nothing/here')).toBeNull();
  });

  it('deleteMany removes more keys than one batch holds', async () => {
    const keys = Array.from({ length: 1003 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => bucket.put(k, 'x')));
    expect((await bucket.list('many/100')).map((o) => o.key)).toEqual(['many/1000', 'many/1001', 'many/1002']);
    await bucket.deleteMany(keys);
    const left: string[] = [];
    for (let i = 0; i < keys.length; i += 50) for (const k of keys.slice(i, i + 50)) if (await bucket.exists(k)) left.push(k);
    expect(left).toEqual([]);
  });

  it('delete removes one object', async () => {
    await bucket.put('one/x', 'x');
    await bucket.delete('one/x');
    expect(await bucket.exists('one/x')).toBe(false);
  });

  it('gives up on a server that never answers (its timeout)', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const b = new RegionBucket('hang', { ...loc(), endpoint: `http://127.0.0.1:${port}` }, 300, client);
      await expect(b.get('k')).rejects.toThrow();
    } finally {
      silent.close();
    }
  });
});

const bytes = (d: string | ArrayBuffer | ArrayBufferView) =>
  typeof d === 'string' ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);
/** The SDK's own hash shape for @smithy/signature-v4 (HMAC when given a secret). */
class Sha256 {
  private readonly h: crypto.Hash | crypto.Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? crypto.createHash('sha256') : crypto.createHmac('sha256', bytes(secret));
  }
  update(d: string | ArrayBuffer | ArrayBufferView) {
    this.h.update(bytes(d));
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

// s3rver accepts any SigV4 signature (it checks only V2), so the lean client's signatures are
// checked here against the AWS SDK's signer, recomputed from the request as it arrived.
describe('lean S3 client: SigV4 as the AWS SDK computes it', () => {
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  let listed: string[] = [];
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
        const q = new URL(req.url!, base).searchParams;
        // A ListObjectsV2 page of `listed` (max-keys, continuation-token = index of the next key, start-after).
        const after = q.get('start-after');
        const from = q.has('continuation-token') ? Number(q.get('continuation-token')) : after ? listed.findIndex((k) => k > after) : 0;
        const max = Number(q.get('max-keys') ?? 1000);
        const page = listed.slice(from, from + max);
        const more = from + max < listed.length;
        const xml = `<ListBucketResult><IsTruncated>${more}</IsTruncated>${page.map((k) => `<Contents><Key>${xmlEscape(k)}</Key><LastModified>2026-12-02T20:00:00.000Z</LastModified><Size>${k.length}</Size></Contents>`).join('')}${more ? `<NextContinuationToken>${from + max}</NextContinuationToken>` : ''}</ListBucketResult>`;
        res.writeHead(200, { 'content-type': 'application/xml' }).end(q.has('list-type') ? xml : '<DeleteResult/>');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(() => server?.close());

  it.each(['lean', 'sdk'] as const)('the %s client follows continuation tokens across list pages, in key order', async (client) => {
    listed = Array.from({ length: 11 }, (_, i) => `pages/k${String(i).padStart(2, '0')}&`);
    const b = new RegionBucket('sig-bucket', { endpoint: base, region: 'eu-west-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true }, 5_000, client);
    seen.length = 0;
    expect((await b.list('pages/', { pageSize: 4 })).map((o) => o.key)).toEqual(listed);
    expect(seen.map((r) => new URL(r.url, base).searchParams.get('continuation-token'))).toEqual([null, '4', '8']);
    expect((await b.list('pages/', { startAfter: 'pages/k07&', pageSize: 2 })).map((o) => o.key)).toEqual(listed.slice(8));
    expect((await b.list('pages/', { pageSize: 3, limit: 5 })).length).toBe(6);
    seen.length = 0;
    listed = [];
  });

  it('the lean client deletes 2,001 keys as three DeleteObjects batches (≤ 1000 keys, Content-MD5 of the body)', async () => {
    const b = new RegionBucket('sig-bucket', { endpoint: base, region: 'eu-west-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true }, 5_000, 'lean');
    const keys = Array.from({ length: 2001 }, (_, i) => `d/${i}<&>`);
    seen.length = 0;
    await b.deleteMany(keys);
    expect(seen.map((r) => [r.method, r.url])).toEqual([['POST', '/sig-bucket/?delete='], ['POST', '/sig-bucket/?delete='], ['DELETE', '/sig-bucket/d/2000%3C%26%3E']]);
    const sent = seen.slice(0, 2).flatMap((r) => [...r.body.matchAll(/<Key>(.*?)<\/Key>/g)].map((m) => xmlText(m[1]!)));
    expect(sent).toEqual(keys.slice(0, 2000));
    for (const r of seen.slice(0, 2)) expect(r.headers['content-md5']).toBe(crypto.createHash('md5').update(r.body).digest('base64'));
    seen.length = 0;
  });

  async function expected(r: (typeof seen)[number], secretAccessKey: string): Promise<string> {
    const u = new URL(r.url, base);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(r.headers.authorization))![1]!.split(';');
    const headers = Object.fromEntries(signedHeaders.map((h) => [h, String(r.headers[h])]));
    const query: Record<string, string> = {};
    u.searchParams.forEach((v, k) => (query[k] = v));
    const amzDate = String(r.headers['x-amz-date']);
    const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    const signer = new SignatureV4({ service: 's3', region: 'eu-west-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey }, sha256: Sha256, uriEscapePath: false });
    const signed = await signer.sign({ method: r.method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname, query, headers }, { signingDate });
    return String(signed.headers.authorization);
  }

  it('signs GET, PUT (metadata, awkward keys), HEAD, DELETE, DeleteObjects and list queries as the SDK would, and a wrong secret differently', async () => {
    const b = new RegionBucket('sig-bucket', { endpoint: base, region: 'eu-west-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true }, 5_000, 'lean');
    await b.get("v/a b/ü+&(x)*!'~");
    await b.put('members/x.json', '{"a":1}', 'application/json', { hits: '3' });
    await b.exists('tokens/acc/=;,@$');
    await b.delete('purges/1');
    await b.deleteMany(['k/1', 'k/2&3']);
    await b.list('p re/+', { startAfter: 'p re/+a*', pageSize: 7 });
    expect(seen.map((r) => r.method)).toEqual(['GET', 'PUT', 'HEAD', 'DELETE', 'POST', 'GET']);
    for (const r of seen) {
      expect(r.headers.authorization).toBe(await expected(r, 'S3RVER'));
      expect(r.headers.authorization).not.toBe(await expected(r, 'WRONG'));
    }
  });
});

describe('lean S3 client: addressing and XML', () => {
  it.each([
    [{ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true }, 'b', 'http://127.0.0.1:9000/', '/b'],
    [{ endpoint: 'http://minio.local:9000/base/', region: 'us-east-1', forcePathStyle: true }, 'b', 'http://minio.local:9000/base/', '/base/b'],
    [{ endpoint: 'https://s3.example.com', region: 'eu-west-1', forcePathStyle: false }, 'b', 'https://b.s3.example.com/', ''],
    [{ region: 'eu-west-1', forcePathStyle: false }, 'cache-eu', 'https://cache-eu.s3.eu-west-1.amazonaws.com/', ''],
    [{ region: 'eu-west-1', forcePathStyle: true }, 'cache-eu', 'https://s3.eu-west-1.amazonaws.com/', '/cache-eu'],
    [{ region: 'eu-west-1', forcePathStyle: false }, 'dotted.name', 'https://s3.eu-west-1.amazonaws.com/', '/dotted.name'],
    [{ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1' }, 'b', 'http://127.0.0.1:9000/', '/b'],
  ])('%j with bucket %s → %s + %s', (l, bucket, origin, prefix) => {
    const b = bucketBase(l, bucket);
    expect([b.origin.href, b.prefix]).toEqual([origin, prefix]);
  });

  it('reads a ListObjectsV2 page (entities decoded, truncation and token)', () => {
    const xml = `<?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a&amp;b&lt;&#233;&#x41;</Key><LastModified>2026-12-02T20:00:00.000Z</LastModified><Size>12</Size></Contents><Contents><Key>c</Key><Size>0</Size><LastModified>2026-12-02T20:00:01.000Z</LastModified></Contents><NextContinuationToken>t&amp;1</NextContinuationToken></ListBucketResult>`;
    expect(parseListPage(xml)).toEqual({
      contents: [
        { key: 'a&b<éA', size: 12, lastModified: Date.parse('2026-12-02T20:00:00.000Z') },
        { key: 'c', size: 0, lastModified: Date.parse('2026-12-02T20:00:01.000Z') },
      ],
      nextToken: 't&1',
    });
    expect(parseListPage('<ListBucketResult><IsTruncated>false</IsTruncated><NextContinuationToken>x</NextContinuationToken></ListBucketResult>')).toEqual({ contents: [], nextToken: undefined });
  });

  it.each([`a&b<c>"d'e`, 'plain', '&amp;'])('escapes and reads back %j', (s) => {
    expect(xmlText(xmlEscape(s))).toBe(s);
  });
});
