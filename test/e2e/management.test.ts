/**
 * The management API through the real cluster (s3rver, six origins, the edge in workerd),
 * driven by the official @imagekit/nodejs client pointed at the edge. Two accounts: `flex`
 * (home eu-central-1, backup us-east-1) and `strict` (home us-east-1, strict residency).
 * Every test makes the files it relies on itself (the shared ones through the memoised fixtures
 * below), so each passes alone (`-t <title>`) and in any order (`--sequence.shuffle`).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import ImageKit, { toFile } from '@imagekit/nodejs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startCluster, type Cluster } from '../../scripts/cluster.js';
import { listEntries } from '../../origin/src/cache/result-cache.js';
import { s3Client } from '../../origin/src/sources/s3.js';
import { signInternalRequest } from '../../shared/internal-auth.js';
import { REGION_IDS, type RegionId } from '../../shared/regions.js';
import { freePortBase, writesSettled } from '../origin/helpers.js';

const require = createRequire(import.meta.url);

// A free block found at run time: S3 = BASE, regions BASE+1…+6, edge BASE+87.
const BASE = await freePortBase(96);
const S3_PORT = BASE;
const EDGE_PORT = BASE + 87;
const REGION_PORTS = Object.fromEntries(REGION_IDS.map((id, i) => [id, BASE + 1 + i])) as Record<RegionId, number>;
const UPLOAD_LIMIT = 3 * 1024 * 1024;

const FLEX = { id: 'flex', privateKey: 'private_flex_key_0123456789', publicKey: 'public_flex_key' };
const STRICT = { id: 'strict', privateKey: 'private_strict_key_0123456789', publicKey: 'public_strict_key' };

let cluster: Cluster;
let dataDir: string;
let imageServer: http.Server;
let imageServerUrl: string;
let jpeg: Buffer;
let png: Buffer;

const s3 = () => s3Client({ endpoint: `http://127.0.0.1:${S3_PORT}`, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
const bucket = (r: RegionId) => `pixmesh-media-${r}`;

async function exists(b: string, key: string): Promise<boolean> {
  return s3()
    .send(new HeadObjectCommand({ Bucket: b, Key: key }))
    .then(
      () => true,
      () => false,
    );
}
async function keys(b: string, prefix: string): Promise<string[]> {
  const out = await s3().send(new ListObjectsV2Command({ Bucket: b, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!);
}
async function objectBytes(b: string, key: string): Promise<Buffer> {
  const out = await s3().send(new GetObjectCommand({ Bucket: b, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Every region's result-cache writes landed (they happen behind the responses). */
const allWritesSettled = () => Promise.all(REGION_IDS.map((r) => writesSettled(cluster.regionUrls[r])));

/** Result-cache entries on disk, region → [{account, path}], read with the cache module's own reader. */
async function cacheEntries(): Promise<Record<string, { account: string; path: string }[]>> {
  const out: Record<string, { account: string; path: string }[]> = {};
  for (const region of REGION_IDS) out[region] = (await listEntries(path.join(dataDir, 'cache', region))).map((e) => ({ account: e.meta.account, path: e.meta.path }));
  return out;
}

/** The home region's request log lines (JSON, origin/src/app.ts "request") for one path fragment. */
function regionRequests(region: RegionId, pathPart: string): { method: string; path: string; status: number; error?: string }[] {
  const file = path.join(dataDir, 'logs', `origin-${region}.log`);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { msg?: string; method: string; path: string; status: number; error?: string }];
      } catch {
        return [];
      }
    })
    .filter((e) => e.msg === 'request' && e.path.includes(pathPart));
}

/** Shared files, uploaded once by whichever test needs them first (memoised per run). */
const once = <T,>(make: () => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
};
const shoe = once(async () =>
  client(FLEX.privateKey).files.upload({
    file: await toFile(jpeg, 'shoe.jpg'),
    fileName: 'shoe.jpg',
    folder: '/products/',
    useUniqueFileName: false,
    tags: ['summer', 'red'],
    customMetadata: { sku: 'A-1', price: 10 },
  }),
);
const logo = once(() => client(FLEX.privateKey).files.upload({ file: png.toString('base64'), fileName: 'logo.png', folder: 'brand' }));
const fromUrl = once(() => client(FLEX.privateKey).files.upload({ file: `${imageServerUrl}/pic.png`, fileName: 'from-url.png', useUniqueFileName: false }));
const secret = once(async () => client(STRICT.privateKey).files.upload({ file: await toFile(jpeg, 's.jpg'), fileName: 'secret.jpg', useUniqueFileName: false }));

/** A purge request's status once it is Completed (or the last one seen after 10 s). */
async function purgeStatus(ik: ImageKit, requestId: string): Promise<string> {
  let status = '';
  for (let i = 0; i < 40 && status !== 'Completed'; i++) {
    status = (await ik.cache.invalidation.get(requestId)).status ?? '';
    if (status !== 'Completed') await new Promise((r) => setTimeout(r, 250));
  }
  return status;
}
const client = (privateKey: string) => new ImageKit({ privateKey, baseURL: cluster.edgeUrl, maxRetries: 0 });
/** Renders through one given region (a signed internal call, as the edge makes): that region caches the variant. */
async function renderAt(region: RegionId, p: string): Promise<Response> {
  const pathAndQuery = `/internal/render${p}`;
  const headers = new Headers({ 'x-pixmesh-format': 'jpeg' });
  await signInternalRequest(cluster.internalSecret, headers, { method: 'GET', pathAndQuery, region });
  return fetch(cluster.regionUrls[region] + pathAndQuery, { headers });
}
const getImage = (p: string, colo = 'FRA') => fetch(cluster.edgeUrl + p, { headers: { 'x-pixmesh-colo': colo, accept: 'image/jpeg' } });

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-mgmt-'));
  const accountsFile = path.join(dataDir, 'accounts.json');
  const media = [{ prefix: '', origins: [{ type: 'media' }] }];
  fs.writeFileSync(
    accountsFile,
    JSON.stringify({
      accounts: [
        // Upload from URL may reach loopback only because this account opts in (the test's image server).
        { ...FLEX, homeRegion: 'eu-central-1', backupRegion: 'us-east-1', residency: 'flexible', endpoints: media, mediaLibrary: { allowPrivateNetwork: true } },
        { ...STRICT, homeRegion: 'us-east-1', residency: 'strict', endpoints: media },
      ],
    }),
  );
  jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#3366cc' } }).jpeg().toBuffer();
  png = await sharp({ create: { width: 300, height: 200, channels: 4, background: { r: 200, g: 10, b: 10, alpha: 0.5 } } }).png().toBuffer();
  imageServer = http.createServer((req, res) => {
    if (req.url === '/pic.png') res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => imageServer.listen(0, '127.0.0.1', r));
  imageServerUrl = `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}`;
  cluster = await startCluster({
    dataDir,
    accountsFile,
    s3Port: S3_PORT,
    edgePort: EDGE_PORT,
    regionPorts: REGION_PORTS,
    logs: { dir: path.join(dataDir, 'logs') },
    originEnv: { PIXMESH_UPLOAD_MAX_BYTES: String(UPLOAD_LIMIT), PIXMESH_UPLOAD_IDLE_MS: '3000' },
  });
});

afterAll(async () => {
  await cluster?.stop();
  await new Promise((r) => imageServer?.close(r));
  if (!process.env.PIXMESH_KEEP_TEST_DATA && dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('upload', () => {
  it('stores a binary upload in the home bucket with its fields, and a backup copy in the backup region', async () => {
    const res = await shoe();
    expect(res).toMatchObject({
      name: 'shoe.jpg',
      filePath: '/products/shoe.jpg',
      url: `${cluster.edgeUrl}/flex/products/shoe.jpg`,
      width: 640,
      height: 480,
      size: jpeg.length,
      fileType: 'image',
      tags: ['summer', 'red'],
      isPrivateFile: false,
      customMetadata: { sku: 'A-1', price: 10 },
    });
    expect(res.fileId).toMatch(/^[0-9a-f]{24}$/);
    expect(res.versionInfo?.id).toMatch(/^[0-9a-f]{24}$/);
    expect(res.thumbnailUrl).toContain('/flex/');

    expect(await objectBytes(bucket('eu-central-1'), 'flex/products/shoe.jpg')).toEqual(jpeg);
    expect(await objectBytes(bucket('us-east-1'), 'flex/products/shoe.jpg')).toEqual(jpeg);
    for (const r of REGION_IDS.filter((r) => r !== 'eu-central-1' && r !== 'us-east-1')) expect(await exists(bucket(r), 'flex/products/shoe.jpg')).toBe(false);
    expect(await keys(bucket('eu-central-1'), '_tmp/')).toEqual([]);
  });

  it('adds a unique suffix by default and accepts base64', async () => {
    const res = await logo();
    expect(res.name).toMatch(/^logo_[A-Za-z0-9]{8}\.png$/);
    expect(res.filePath).toBe(`/brand/${res.name}`);
    expect(res).toMatchObject({ width: 300, height: 200, size: png.length });
  });

  it('uploads from a URL (the account allows its loopback image server)', async () => {
    const res = await fromUrl();
    expect(res).toMatchObject({ filePath: '/from-url.png', width: 300, height: 200, size: png.length });
    expect(await objectBytes(bucket('eu-central-1'), 'flex/from-url.png')).toEqual(png);
  });

  it('answers 400 when the URL does not answer with a file', async () => {
    await expect(client(FLEX.privateKey).files.upload({ file: `${imageServerUrl}/missing.png`, fileName: 'missing.png' })).rejects.toMatchObject({
      status: 400,
      error: { message: expect.stringMatching(/404/) },
    });
  });

  it('refuses a URL on the private network for an account that did not opt in (403)', async () => {
    await expect(client(STRICT.privateKey).files.upload({ file: `${imageServerUrl}/pic.png`, fileName: 'x.png' })).rejects.toMatchObject({ status: 403 });
  });

  it('answers 400 for a file named as an image that is not one, and 413 over the size limit, leaving nothing behind', async () => {
    await expect(
      client(FLEX.privateKey).files.upload({ file: await toFile(Buffer.from('hello, not an image'), 'a.png'), fileName: 'a.png', useUniqueFileName: false }),
    ).rejects.toMatchObject({ status: 400, error: { message: expect.stringMatching(/unsupported file type/), help: expect.any(String) } });
    await expect(
      client(FLEX.privateKey).files.upload({ file: await toFile(Buffer.alloc(UPLOAD_LIMIT + 1, 1), 'big.jpg'), fileName: 'big.jpg', useUniqueFileName: false }),
    ).rejects.toMatchObject({ status: 413 });
    expect(await exists(bucket('eu-central-1'), 'flex/a.png')).toBe(false);
    expect(await exists(bucket('eu-central-1'), 'flex/big.jpg')).toBe(false);
  });

  it('client-side upload: a signed token works once, then is refused; a bad signature is 401', async () => {
    const ik = client(FLEX.privateKey);
    const auth = ik.helper.getAuthenticationParameters();
    const noKey = { headers: { Authorization: null } };
    const res = await ik.files.upload({ file: await toFile(png, 'c.png'), fileName: 'client.png', useUniqueFileName: false, publicKey: FLEX.publicKey, ...auth }, noKey);
    expect(res.filePath).toBe('/client.png');
    await expect(
      ik.files.upload({ file: await toFile(png, 'c.png'), fileName: 'client2.png', publicKey: FLEX.publicKey, ...auth }, noKey),
    ).rejects.toMatchObject({ status: 400, error: { message: expect.stringMatching(/token/) } });
    const other = ik.helper.getAuthenticationParameters();
    await expect(
      ik.files.upload({ file: await toFile(png, 'c.png'), fileName: 'client3.png', publicKey: FLEX.publicKey, ...other, signature: '0'.repeat(40) }, noKey),
    ).rejects.toMatchObject({ status: 401 });
    expect(await exists(bucket('eu-central-1'), 'flex/client3.png')).toBe(false);
  });

  it('lists and searches by path, name and tags, with limit/skip, and returns details', async () => {
    const ik = client(FLEX.privateKey);
    const [shoeId, logoId, urlId] = (await Promise.all([shoe(), logo(), fromUrl()])).map((f) => f.fileId as string) as [string, string, string];
    const all = await ik.assets.list({});
    expect(all.map((f) => (f as { fileId?: string }).fileId)).toEqual(expect.arrayContaining([shoeId, logoId, urlId]));
    const inProducts = await ik.assets.list({ path: '/products/' });
    expect(inProducts.map((f) => (f as { name?: string }).name)).toEqual(['shoe.jpg']);
    const byTag = (await ik.assets.list({ tags: 'red' } as never)) as { fileId?: string }[];
    expect(byTag.map((f) => f.fileId)).toEqual([shoeId]);
    const byName = (await ik.assets.list({ name: 'from-url.png' } as never)) as { filePath?: string }[];
    expect(byName.map((f) => f.filePath)).toEqual(['/from-url.png']);
    // The v7 SDK's way to search: searchQuery (ImageKit's query language).
    const red = (await ik.assets.list({ searchQuery: 'tags IN ["red","blue"] AND createdAt > "1h"' })) as { fileId?: string }[];
    expect(red.map((f) => f.fileId)).toEqual([shoeId]);
    const pngs = (await ik.assets.list({ searchQuery: '(name : "logo_" OR name = "from-url.png") AND size < "1mb"', sort: 'ASC_NAME' })) as { name?: string }[];
    expect(pngs.map((f) => f.name)).toEqual([expect.stringMatching(/^from-url\.png$/), expect.stringMatching(/^logo_/)]);
    // The top-level folders are exactly those the account's files live in (other tests add their own,
    // e.g. /fonts, so the list is derived from the files rather than fixed); /brand and /products among them.
    const files = (await ik.assets.list({ limit: 1000 })) as { filePath?: string }[];
    const topFolders = [...new Set(files.map((f) => f.filePath!.split('/')).filter((seg) => seg.length > 2).map((seg) => `/${seg[1]}`))].sort();
    expect(topFolders).toEqual(expect.arrayContaining(['/brand', '/products']));
    const folders = (await ik.assets.list({ type: 'folder' })) as { folderPath?: string }[];
    expect(folders.map((f) => f.folderPath).sort()).toEqual(topFolders);
    await expect(ik.assets.list({ searchQuery: 'colour = "red"' })).rejects.toMatchObject({ status: 400 });
    const page = await ik.assets.list({ limit: 2, skip: 1, sort: 'ASC_CREATED' });
    expect(page.map((f) => (f as { fileId?: string }).fileId)).toEqual(all.slice(1, 3).map((f) => (f as { fileId?: string }).fileId));

    const details = await ik.files.get(shoeId);
    expect(details).toMatchObject({ fileId: shoeId, type: 'file', name: 'shoe.jpg', filePath: '/products/shoe.jpg', tags: ['summer', 'red'], customMetadata: { sku: 'A-1', price: 10 }, mime: 'image/jpeg' });
    expect(details.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const updated = await ik.files.update(shoeId, { tags: ['summer', 'red', 'sale'], customMetadata: { price: 12, sku: null } });
    expect(updated).toMatchObject({ fileId: shoeId, tags: ['summer', 'red', 'sale'], customMetadata: { price: 12 } });
    expect((await ik.files.get(shoeId)).customMetadata).toEqual({ price: 12 });
    await expect(client(STRICT.privateKey).files.update(shoeId, { tags: ['x'] })).rejects.toMatchObject({ status: 404 });
  });

  it('serves the uploaded file through the normal image URL, transformed', async () => {
    await shoe();
    const res = await getImage('/flex/tr:w-160/products/shoe.jpg');
    expect(res.status).toBe(200);
    expect(await sharp(Buffer.from(await res.arrayBuffer())).metadata()).toMatchObject({ format: 'jpeg', width: 160, height: 120 });
  });
});

describe('private files and overwrites', () => {
  it('a private upload is served only through a signed URL', async () => {
    const ik = client(FLEX.privateKey);
    const res = await ik.files.upload({ file: await toFile(jpeg, 'p.jpg'), fileName: 'private.jpg', useUniqueFileName: false, isPrivateFile: true });
    expect(res.isPrivateFile).toBe(true);
    expect((await getImage('/flex/tr:w-50/private.jpg')).status).toBe(401);
    const signed = ik.helper.buildSrc({ urlEndpoint: `${cluster.edgeUrl}/flex`, src: '/private.jpg', transformation: [{ width: 50 }], signed: true });
    const ok = await fetch(signed, { headers: { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' } });
    expect(ok.status).toBe(200);
    expect((await sharp(Buffer.from(await ok.arrayBuffer())).metadata()).width).toBe(50);
  });

  it('uploading again to the same path replaces the file (same fileId) and its cached variants', async () => {
    const ik = client(FLEX.privateKey);
    const first = await ik.files.upload({ file: await toFile(jpeg, 'a.jpg'), fileName: 'same.jpg', useUniqueFileName: false, tags: ['keep-me'], customMetadata: { a: 1 } });
    const before = await renderAt('eu-central-1', '/flex/tr:w-50/same.jpg');
    expect((await sharp(Buffer.from(await before.arrayBuffer())).metadata()).height).toBe(38);
    const square = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#00aa00' } }).jpeg().toBuffer();
    const second = await ik.files.upload({ file: await toFile(square, 'b.jpg'), fileName: 'same.jpg', useUniqueFileName: false, overwriteTags: false });
    expect(second.fileId).toBe(first.fileId);
    expect(second.versionInfo?.id).not.toBe(first.versionInfo?.id);
    // overwriteTags=false keeps the tags; customMetadata (overwriteCustomMetadata defaults to true) is dropped.
    expect(second).toMatchObject({ width: 200, height: 200, size: square.length, tags: ['keep-me'], customMetadata: {} });
    const after = await renderAt('eu-central-1', '/flex/tr:w-50/same.jpg');
    expect(after.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    expect((await sharp(Buffer.from(await after.arrayBuffer())).metadata()).height).toBe(50);
    await expect(
      ik.files.upload({ file: await toFile(square, 'b.jpg'), fileName: 'same.jpg', useUniqueFileName: false, overwriteFile: false }),
    ).rejects.toMatchObject({ status: 409 });
  });
});

describe('purge and delete', () => {
  it('purge {url} is accepted with a request id whose status reaches Completed, and the variants leave every region cache', async () => {
    const ik = client(FLEX.privateKey);
    const up = await ik.files.upload({ file: await toFile(jpeg, 'p.jpg'), fileName: 'purge-me.jpg', useUniqueFileName: false });
    for (const r of ['eu-central-1', 'ap-southeast-2', 'us-west-1'] as const) expect((await renderAt(r, '/flex/tr:w-100/purge-me.jpg')).status).toBe(200);
    await allWritesSettled();
    const cachedBefore = Object.entries(await cacheEntries()).filter(([, es]) => es.some((e) => e.account === 'flex' && e.path === 'purge-me.jpg'));
    expect(cachedBefore.map(([r]) => r)).toEqual(expect.arrayContaining(['eu-central-1', 'ap-southeast-2', 'us-west-1']));

    const { requestId } = await ik.cache.invalidation.create({ url: `${cluster.edgeUrl}/flex/purge-me.jpg` });
    expect(requestId).toMatch(/^[0-9a-f]{24}$/);
    let status = '';
    for (let i = 0; i < 40 && status !== 'Completed'; i++) {
      status = (await ik.cache.invalidation.get(requestId!)).status ?? '';
      if (status !== 'Completed') await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe('Completed');
    for (const [, es] of Object.entries(await cacheEntries())) expect(es.filter((e) => e.path === 'purge-me.jpg')).toEqual([]);
    expect(up.fileId).toBeTruthy();
  });

  it('purge with a trailing * removes a whole folder; a URL of another account is refused', async () => {
    const ik = client(FLEX.privateKey);
    await shoe();
    expect((await getImage('/flex/tr:w-90/products/shoe.jpg', 'FRA')).status).toBe(200);
    const { requestId } = await ik.cache.invalidation.create({ url: `${cluster.edgeUrl}/flex/products/*` });
    let status = '';
    for (let i = 0; i < 40 && status !== 'Completed'; i++) {
      status = (await ik.cache.invalidation.get(requestId!)).status ?? '';
      if (status !== 'Completed') await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe('Completed');
    for (const [, es] of Object.entries(await cacheEntries())) expect(es.filter((e) => e.path.startsWith('products/'))).toEqual([]);
    await expect(ik.cache.invalidation.create({ url: `${cluster.edgeUrl}/strict/a.jpg` })).rejects.toMatchObject({ status: 400 });
    await expect(client(STRICT.privateKey).cache.invalidation.get(requestId!)).rejects.toMatchObject({ status: 404 });
  });

  it('delete removes the bytes (home and backup), the record, and every cached variant', async () => {
    const ik = client(FLEX.privateKey);
    const up = await ik.files.upload({ file: await toFile(jpeg, 'd.jpg'), fileName: 'doomed.jpg', useUniqueFileName: false });
    expect((await getImage('/flex/tr:w-120/doomed.jpg', 'FRA')).status).toBe(200);
    expect((await renderAt('ap-southeast-1', '/flex/tr:w-120/doomed.jpg')).status).toBe(200);
    await allWritesSettled();
    expect((await cacheEntries())['ap-southeast-1']!.filter((e) => e.path === 'doomed.jpg').length).toBeGreaterThan(0);
    expect(await exists(bucket('us-east-1'), 'flex/doomed.jpg')).toBe(true);

    await ik.files.delete(up.fileId!);
    expect(await exists(bucket('eu-central-1'), 'flex/doomed.jpg')).toBe(false);
    expect(await exists(bucket('us-east-1'), 'flex/doomed.jpg')).toBe(false);
    for (const [, es] of Object.entries(await cacheEntries())) expect(es.filter((e) => e.path === 'doomed.jpg')).toEqual([]);
    await expect(ik.files.get(up.fileId!)).rejects.toMatchObject({ status: 404, error: { message: expect.any(String), help: expect.any(String) } });
    await expect(ik.files.delete(up.fileId!)).rejects.toMatchObject({ status: 404 });
    // A variant never rendered before cannot come from any cache: the original is gone.
    expect((await getImage('/flex/tr:w-77/doomed.jpg', 'FRA')).status).toBe(404);
  });
});

it('a purge also drops the variants from the edge cache of the colo (x-pixmesh-cache MISS afterwards)', async () => {
  const ik = client(FLEX.privateKey);
  await ik.files.upload({ file: await toFile(jpeg, 'e.jpg'), fileName: 'edge-purge.jpg', useUniqueFileName: false });
  const p = '/flex/tr:w-64/edge-purge.jpg';
  expect((await getImage(p)).headers.get('x-pixmesh-cache')).toBe('MISS');
  expect((await getImage(p)).headers.get('x-pixmesh-cache')).toBe('HIT');
  await ik.cache.invalidation.create({ url: `${cluster.edgeUrl}/flex/edge-purge.jpg` });
  const after = await getImage(p);
  expect(after.status).toBe(200);
  expect(after.headers.get('x-pixmesh-cache')).toBe('MISS');
  expect((await getImage(p)).headers.get('x-pixmesh-cache')).toBe('HIT');
});

it('purging a layer image purges the variants that use it (layer-dependency index): region caches and the edge', async () => {
  const ik = client(FLEX.privateKey);
  await ik.files.upload({ file: await toFile(jpeg, 'b.jpg'), fileName: 'layered-base.jpg', useUniqueFileName: false });
  await ik.files.upload({ file: await toFile(png, 'l.png'), fileName: 'layer-logo.png', folder: 'brand', useUniqueFileName: false });
  const p = '/flex/tr:w-200,l-image,i-brand@@layer-logo.png,w-50,l-end/layered-base.jpg';
  const plain = '/flex/tr:w-201/layered-base.jpg';
  expect((await getImage(p)).headers.get('x-pixmesh-cache')).toBe('MISS');
  expect((await getImage(p)).headers.get('x-pixmesh-cache')).toBe('HIT');
  expect((await getImage(plain)).status).toBe(200);
  await allWritesSettled();
  let deps: string[] = [];
  for (let i = 0; i < 40 && !deps.length; i++) {
    deps = await keys(bucket('eu-central-1'), '_layer-deps/flex/');
    if (!deps.length) await new Promise((r) => setTimeout(r, 250));
  }
  expect(deps).toEqual([`_layer-deps/flex/${encodeURIComponent('brand/layer-logo.png')}/${encodeURIComponent('layered-base.jpg')}`]);
  expect(Object.values(await cacheEntries()).flat().filter((e) => e.path === 'layered-base.jpg').length).toBeGreaterThan(0);

  const { requestId } = await ik.cache.invalidation.create({ url: `${cluster.edgeUrl}/flex/brand/layer-logo.png` });
  expect(await purgeStatus(ik, requestId!)).toBe('Completed');
  // every variant of the base left the region caches (the plain one too: purges are per file), and the edge misses
  for (const [, es] of Object.entries(await cacheEntries())) expect(es.filter((e) => e.path === 'layered-base.jpg')).toEqual([]);
  expect((await getImage(p)).headers.get('x-pixmesh-cache')).toBe('MISS');
});

/** Mean R, G, B of an image (pixel statistics, not bytes). */
async function meanRgb(buf: Buffer): Promise<[number, number, number]> {
  const { channels } = await sharp(buf).stats();
  return [channels[0]!.mean, channels[1]!.mean, channels[2]!.mean];
}
/** Columns holding a clearly red pixel (text drawn in FF0000 on a white base): the text's horizontal extent. */
async function redColumns(buf: Buffer): Promise<number> {
  const { data, info } = await sharp(buf).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let cols = 0;
  for (let x = 0; x < info.width; x++) {
    let red = false;
    for (let y = 0; y < info.height && !red; y++) {
      const o = (y * info.width + x) * 3;
      red = data[o]! > 180 && data[o + 1]! < 110 && data[o + 2]! < 110;
    }
    if (red) cols++;
  }
  return cols;
}
const bytesOf = async (res: Response) => Buffer.from(await res.arrayBuffer());

describe('layer dependents at the edge: overwrite and delete of the layer file (one purge fan-out)', () => {
  const solid = (rgb: { r: number; g: number; b: number }) => sharp({ create: { width: 60, height: 60, channels: 3, background: rgb } }).png().toBuffer();

  it('overwriting a layer image purges the variants that use it at the edge too: the next answer is a MISS drawn with the new layer', async () => {
    const ik = client(FLEX.privateKey);
    await ik.files.upload({ file: await toFile(jpeg, 'b.jpg'), fileName: 'ow-base.jpg', useUniqueFileName: false });
    await ik.files.upload({ file: await toFile(await solid({ r: 230, g: 0, b: 0 }), 'l.png'), fileName: 'ow-layer.png', folder: 'brand', useUniqueFileName: false });
    // the layer covers the whole 200-px output (w-200,h-200 inside the layer, t-false: a solid block is not trimmed)
    const p = '/flex/tr:w-200,h-150,l-image,i-brand@@ow-layer.png,w-200,h-150,t-false,l-end/ow-base.jpg';
    const first = await getImage(p);
    expect(first.headers.get('x-pixmesh-cache')).toBe('MISS');
    const [r1, , b1] = await meanRgb(await bytesOf(first));
    expect(r1).toBeGreaterThan(180);
    expect(b1).toBeLessThan(60);
    expect((await getImage(p)).headers.get('x-pixmesh-cache')).toBe('HIT');
    await allWritesSettled();
    await waitForDeps('ow-layer.png');

    await ik.files.upload({ file: await toFile(await solid({ r: 0, g: 0, b: 230 }), 'l.png'), fileName: 'ow-layer.png', folder: 'brand', useUniqueFileName: false, overwriteFile: true });
    const after = await getImage(p);
    expect(after.status).toBe(200);
    expect(after.headers.get('x-pixmesh-cache')).toBe('MISS');
    const [r2, , b2] = await meanRgb(await bytesOf(after));
    expect(b2).toBeGreaterThan(180);
    expect(r2).toBeLessThan(60);
  });

  it('deleting a layer image purges the variants that use it at the edge too: the next answer is the 404 naming the missing layer', async () => {
    const ik = client(FLEX.privateKey);
    await ik.files.upload({ file: await toFile(jpeg, 'b.jpg'), fileName: 'del-base.jpg', useUniqueFileName: false });
    const layer = await ik.files.upload({ file: await toFile(await solid({ r: 230, g: 0, b: 0 }), 'l.png'), fileName: 'del-layer.png', folder: 'brand', useUniqueFileName: false });
    const p = '/flex/tr:w-200,l-image,i-brand@@del-layer.png,w-50,t-false,l-end/del-base.jpg';
    expect((await getImage(p)).headers.get('x-pixmesh-cache')).toBe('MISS');
    expect((await getImage(p)).headers.get('x-pixmesh-cache')).toBe('HIT');
    await allWritesSettled();
    await waitForDeps('del-layer.png');

    await ik.files.delete(layer.fileId!);
    const after = await getImage(p);
    expect(after.status).toBe(404);
    expect(after.headers.get('ik-error') ?? '').toContain('brand/del-layer.png');
  });

  it('a custom font (ff-<path>) is a layer dependency: overwriting it re-renders the text at the edge, deleting it makes the text render a 404', async () => {
    const ik = client(FLEX.privateKey);
    const fontDir = (pkg: string) => path.dirname(require.resolve(`${pkg}/package.json`));
    const proportional = fs.readFileSync(path.join(fontDir('open-sans-fonts'), 'open-sans', 'Regular', 'OpenSans-Regular.ttf'));
    const mono = fs.readFileSync(path.join(fontDir('dejavu-fonts-ttf'), 'ttf', 'DejaVuSansMono.ttf'));
    const white = await sharp({ create: { width: 600, height: 120, channels: 3, background: '#ffffff' } }).png().toBuffer();
    await ik.files.upload({ file: await toFile(white, 'w.png'), fileName: 'font-base.png', useUniqueFileName: false });
    const font = await ik.files.upload({ file: await toFile(proportional, 'f.ttf'), fileName: 'brand-font.ttf', folder: 'fonts', useUniqueFileName: false });
    // eight narrow letters: a monospace font draws them about twice as wide as Open Sans
    const p = '/flex/tr:l-text,i-iiiiiiii,ff-fonts@@brand-font.ttf,fs-48,co-FF0000,l-end/font-base.png';
    const first = await getImage(p);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-pixmesh-cache')).toBe('MISS');
    const narrow = await redColumns(await bytesOf(first));
    expect(narrow).toBeGreaterThan(10);
    expect((await getImage(p)).headers.get('x-pixmesh-cache')).toBe('HIT');
    await allWritesSettled();
    await waitForDeps('brand-font.ttf');
    expect(await keys(bucket('eu-central-1'), `_layer-deps/flex/${encodeURIComponent('fonts/brand-font.ttf')}/`)).toEqual([
      `_layer-deps/flex/${encodeURIComponent('fonts/brand-font.ttf')}/${encodeURIComponent('font-base.png')}`,
    ]);

    await ik.files.upload({ file: await toFile(mono, 'f.ttf'), fileName: 'brand-font.ttf', folder: 'fonts', useUniqueFileName: false, overwriteFile: true });
    const after = await getImage(p);
    expect(after.status).toBe(200);
    expect(after.headers.get('x-pixmesh-cache')).toBe('MISS');
    expect(await redColumns(await bytesOf(after))).toBeGreaterThan(narrow * 1.5);

    await ik.files.delete(font.fileId!);
    const gone = await getImage(p);
    expect(gone.status).toBe(404);
    expect(gone.headers.get('ik-error') ?? '').toContain('fonts/brand-font.ttf');
  });
});

/** The layer-dependency index names some file using `layerName` (recorded behind the render). */
async function waitForDeps(layerName: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if ((await keys(bucket('eu-central-1'), '_layer-deps/flex/')).some((k) => k.includes(encodeURIComponent(layerName)))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no layer dependency recorded for ${layerName}`);
}

it('fo-custom through the edge: a file uploaded with customCoordinates is cropped to that area (alone, and into a w×h box); after an update of the area the edge answers the new crop', async () => {
  const ik = client(FLEX.privateKey);
  // blue 400×300 with a red 100×100 block at (250,150): the custom focus area
  const img = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#0000ff' } })
    .composite([{ input: await sharp({ create: { width: 100, height: 100, channels: 3, background: '#ff0000' } }).png().toBuffer(), left: 250, top: 150 }])
    .png()
    .toBuffer();
  const up = await ik.files.upload({ file: await toFile(img, 'f.png'), fileName: 'focus.png', useUniqueFileName: false, customCoordinates: '250,150,100,100' });
  expect(up.customCoordinates).toBe('250,150,100,100');

  const area = await bytesOf(await getImage('/flex/tr:fo-custom/focus.png'));
  expect(await sharp(area).metadata()).toMatchObject({ width: 100, height: 100 });
  const [r, , b] = await meanRgb(area);
  expect(r).toBeGreaterThan(200);
  expect(b).toBeLessThan(50);

  const box = await bytesOf(await getImage('/flex/tr:w-50,h-50,fo-custom/focus.png'));
  expect(await sharp(box).metadata()).toMatchObject({ width: 50, height: 50 });
  const [rb, , bb] = await meanRgb(box);
  expect(rb).toBeGreaterThan(200);
  expect(bb).toBeLessThan(50);

  // the same box centred (no custom focus) is mostly blue: the crop above followed the coordinates
  const centred = await bytesOf(await getImage('/flex/tr:w-50,h-50/focus.png'));
  const [rc, , bc] = await meanRgb(centred);
  expect(bc).toBeGreaterThan(rc);

  // a new focus area (update API) purges the fo-custom variants at the edge too: the next answer follows it
  expect((await getImage('/flex/tr:fo-custom/focus.png')).headers.get('x-pixmesh-cache')).toBe('HIT');
  await ik.files.update(up.fileId!, { customCoordinates: '0,0,120,80' });
  const moved = await getImage('/flex/tr:fo-custom/focus.png');
  expect(moved.headers.get('x-pixmesh-cache')).toBe('MISS');
  const movedBytes = await bytesOf(moved);
  expect(await sharp(movedBytes).metadata()).toMatchObject({ width: 120, height: 80 });
  const [rm, , bm] = await meanRgb(movedBytes);
  expect(bm).toBeGreaterThan(200);
  expect(rm).toBeLessThan(50);
});

describe('residency, isolation and failure', () => {
  it('strict: the bytes exist only in the home bucket and only the home region caches variants', async () => {
    const res = await secret();
    expect(res.filePath).toBe('/secret.jpg');
    for (const r of REGION_IDS) expect(await exists(bucket(r), 'strict/secret.jpg')).toBe(r === 'us-east-1');
    for (const r of REGION_IDS) expect((await keys(bucket(r), '_index/strict/')).length).toBe(r === 'us-east-1' ? 1 : 0);

    const img = await getImage('/strict/tr:w-64/secret.jpg', 'SYD');
    expect(img.status).toBe(200);
    expect((await sharp(Buffer.from(await img.arrayBuffer())).metadata()).width).toBe(64);
    // Every other region, asked directly, forwards to the home region and keeps nothing.
    for (const r of REGION_IDS) expect((await renderAt(r, '/strict/tr:w-65/secret.jpg')).status).toBe(200);
    await allWritesSettled();
    const holding = Object.entries(await cacheEntries())
      .filter(([, es]) => es.some((e) => e.account === 'strict'))
      .map(([r]) => r);
    expect(holding).toEqual(['us-east-1']);
  });

  it('a wrong or missing key is 401', async () => {
    await expect(client('private_wrong').assets.list({})).rejects.toMatchObject({ status: 401, error: { message: expect.any(String), help: expect.any(String) } });
    const bare = await fetch(`${cluster.edgeUrl}/v1/files`);
    expect(bare.status).toBe(401);
    expect(await bare.json()).toMatchObject({ message: expect.any(String), help: expect.any(String) });
  });

  it("one account's key cannot read, list or delete another account's files", async () => {
    const shoeId = (await shoe()).fileId!;
    await secret();
    const other = client(STRICT.privateKey);
    await expect(other.files.get(shoeId)).rejects.toMatchObject({ status: 404 });
    await expect(other.files.delete(shoeId)).rejects.toMatchObject({ status: 404 });
    const theirs = (await other.assets.list({})) as { filePath?: string }[];
    expect(theirs.map((f) => f.filePath)).toEqual(['/secret.jpg']);
    expect(await exists(bucket('eu-central-1'), 'flex/products/shoe.jpg')).toBe(true);
  });

  it('an upload the client abandons halfway leaves nothing in any bucket; the same upload completed is stored (positive control)', async () => {
    await secret();
    const boundary = '----pixmeshabort';
    const form = (fileName: string) =>
      Buffer.from(
        [`--${boundary}`, 'Content-Disposition: form-data; name="fileName"', '', fileName, `--${boundary}`,
          'Content-Disposition: form-data; name="useUniqueFileName"', '', 'false', `--${boundary}`,
          `Content-Disposition: form-data; name="file"; filename="${fileName}"`, 'Content-Type: image/jpeg', '', ''].join('\r\n'),
      );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    /** Sends head + body parts; `abortAfterMs` destroys the socket before the declared length is sent. */
    const send = (parts: Buffer[], declared: number, abortAfterMs?: number) =>
      new Promise<{ status?: number; body: string; bytesWritten: number }>((resolve) => {
        const req = http.request(`${cluster.edgeUrl}/api/v1/files/upload`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${STRICT.privateKey}:`).toString('base64')}`,
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': String(declared),
          },
        });
        let bytesWritten = 0;
        req.on('socket', (sock) => sock.on('close', () => (bytesWritten = sock.bytesWritten)));
        req.on('response', (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode, body, bytesWritten: req.socket?.bytesWritten ?? bytesWritten }));
        });
        req.on('error', () => undefined);
        req.on('close', () => setTimeout(() => resolve({ body: '', bytesWritten }), 50));
        for (const p of parts) req.write(p);
        if (abortAfterMs === undefined) req.end();
        else setTimeout(() => req.destroy(), abortAfterMs);
      });

    const uploadsAtHome = () => regionRequests('us-east-1', '/internal/media/strict/files/upload');
    const seenBefore = uploadsAtHome().length;
    const head = form('aborted.jpg');
    const sent = head.length + jpeg.length + 300_000;
    const aborted = await send([head, jpeg, Buffer.alloc(300_000, 7)], head.length + 2_000_000, 500);
    // The bytes really left the client (the request got past authentication into its body).
    expect(aborted.status).toBeUndefined();
    expect(aborted.bytesWritten).toBeGreaterThanOrEqual(sent);
    // Longer than the origin's idle limit (3 s), in case the interruption reaches it only as silence.
    await new Promise((r) => setTimeout(r, 4500));
    for (const r of REGION_IDS) {
      expect(await exists(bucket(r), 'strict/aborted.jpg')).toBe(false);
      expect(await keys(bucket(r), '_tmp/')).toEqual([]);
    }
    // The edge buffers an upload whole before it signs it for the home region (edge/src/management.ts),
    // so the home region never saw the abandoned one …
    expect(uploadsAtHome().slice(seenBefore)).toEqual([]);

    // … while the same request sent whole is answered 200, reaches the home region (its request
    // log says so) and lands there byte for byte: the checks above can see an upload when there is one.
    const whole = form('completed.jpg');
    const done = await send([whole, jpeg, tail], whole.length + jpeg.length + tail.length);
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body)).toMatchObject({ filePath: '/completed.jpg', size: jpeg.length });
    expect(await objectBytes(bucket('us-east-1'), 'strict/completed.jpg')).toEqual(jpeg);
    expect(uploadsAtHome().slice(seenBefore).map((e) => e.status)).toEqual([200]);
    await client(STRICT.privateKey).files.delete(JSON.parse(done.body).fileId);

    const theirs = (await client(STRICT.privateKey).assets.list({})) as { filePath?: string }[];
    expect(theirs.map((f) => f.filePath)).toEqual(['/secret.jpg']);
  });

  it('with its home region down, an upload fails with 503 and lands nowhere else; other accounts are unaffected', async () => {
    await cluster.stopRegion('us-east-1');
    onTestFinished(() => cluster.startRegion('us-east-1'));
    await expect(
      client(STRICT.privateKey).files.upload({ file: await toFile(jpeg, 'x.jpg'), fileName: 'while-down.jpg', useUniqueFileName: false }),
    ).rejects.toMatchObject({ status: 503, error: { message: expect.stringMatching(/home region/), help: expect.any(String) } });
    for (const r of REGION_IDS) expect(await exists(bucket(r), 'strict/while-down.jpg')).toBe(false);
    const flex = await client(FLEX.privateKey).files.upload({ file: await toFile(jpeg, 'y.jpg'), fileName: 'still-fine.jpg', useUniqueFileName: false });
    expect(flex.filePath).toBe('/still-fine.jpg');
  });
});
