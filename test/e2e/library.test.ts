/**
 * The media library beyond upload/list/details (copy, move, rename, bulk, folders and their jobs,
 * versions, metadata) through the official @imagekit/nodejs client against a whole cluster
 * (s3rver, six origins, the edge in workerd). Accounts: `flex` (home eu-central-1, backup
 * us-east-1), `strict` (home us-east-1, strict residency) and `other` (for cross-account ids).
 */
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import ImageKit, { toFile } from '@imagekit/nodejs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../origin/src/sources/s3.js';
import { REGION_IDS, type RegionId } from '../../shared/regions.js';
import { startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePortBase } from '../origin/helpers.js';

const FLEX = { id: 'flex', privateKey: 'private_flex_lib_0123456789', publicKey: 'public_flex_lib' };
const STRICT = { id: 'strict', privateKey: 'private_strict_lib_0123456789', publicKey: 'public_strict_lib' };
const OTHER = { id: 'other', privateKey: 'private_other_lib_0123456789', publicKey: 'public_other_lib' };
const MAX_VERSIONS = 2;

let cluster: TestCluster;
let s3Port: number;
const s3 = () => s3Client({ endpoint: `http://127.0.0.1:${s3Port}`, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
const bucket = (r: RegionId) => `pixmesh-media-${r}`;
const exists = (b: string, key: string) =>
  s3()
    .send(new HeadObjectCommand({ Bucket: b, Key: key }))
    .then(
      () => true,
      () => false,
    );
const readJson = async <T>(b: string, key: string): Promise<T> =>
  JSON.parse(Buffer.from(await (await s3().send(new GetObjectCommand({ Bucket: b, Key: key }))).Body!.transformToByteArray()).toString('utf8')) as T;

const ik = (key = FLEX.privateKey) => new ImageKit({ privateKey: key, baseURL: cluster.edgeUrl, maxRetries: 0 });
const get = (p: string) => fetch(cluster.edgeUrl + p, { headers: { 'x-pixmesh-colo': 'FRA', accept: 'image/jpeg' } });
const size = async (res: Response) => {
  const m = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  return [m.width, m.height];
};
const image = (width: number, height: number, colour = '#3366cc') => sharp({ create: { width, height, channels: 3, background: colour } }).jpeg().toBuffer();

async function upload(name: string, folder: string, bytes: Buffer, key = FLEX.privateKey, extra: Record<string, unknown> = {}) {
  return ik(key).files.upload({ file: await toFile(bytes, name), fileName: name, folder, useUniqueFileName: false, ...extra });
}

async function waitJob(jobId: string, key = FLEX.privateKey) {
  for (let i = 0; i < 300; i++) {
    const j = await ik(key).folders.job.get(jobId);
    if (j.status === 'Completed') return j;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`job ${jobId} did not complete`);
}

beforeAll(async () => {
  const base = await freePortBase(96);
  s3Port = base;
  const media = [{ prefix: '', origins: [{ type: 'media' }] }];
  cluster = await startTestCluster(
    base,
    {
      accounts: [
        { ...FLEX, homeRegion: 'eu-central-1', backupRegion: 'us-east-1', residency: 'flexible', endpoints: media, namedTransforms: { thumb: 'w-40' } },
        { ...STRICT, homeRegion: 'us-east-1', residency: 'strict', endpoints: media },
        { ...OTHER, homeRegion: 'eu-central-1', endpoints: media },
      ],
    },
    { originEnv: { PIXMESH_MEDIA_MAX_VERSIONS: String(MAX_VERSIONS), PIXMESH_MEDIA_JOB_STEP: '2', PIXMESH_USAGE_FLUSH_MS: '300' } },
  );
});

afterAll(() => stopTestCluster(cluster));

describe('files.copy / move / rename', () => {
  it('copy: the copy is served at its new URL at once, the source stays, and the copy has its own fileId', async () => {
    const src = await upload('c.jpg', '/copy-src/', await image(320, 240));
    expect((await get('/flex/copy-src/c.jpg')).status).toBe(200);
    await ik().files.copy({ sourceFilePath: '/copy-src/c.jpg', destinationPath: '/copy-dst/' });
    const res = await get('/flex/tr:w-100/copy-dst/c.jpg');
    expect(res.status).toBe(200);
    expect(await size(res)).toEqual([100, 75]);
    expect((await get('/flex/copy-src/c.jpg')).status).toBe(200);
    const [copy] = await ik().assets.list({ path: '/copy-dst/' });
    expect(copy).toMatchObject({ filePath: '/copy-dst/c.jpg', type: 'file' });
    expect((copy as { fileId: string }).fileId).not.toBe(src.fileId);
    // Strictly home + backup: the copy's bytes are in eu-central-1 and us-east-1 only.
    for (const r of REGION_IDS) expect(await exists(bucket(r), 'flex/copy-dst/c.jpg')).toBe(r === 'eu-central-1' || r === 'us-east-1');
  });

  it('copy with includeFileVersions brings the previous versions along; without, the copy has one version', async () => {
    await upload('v.jpg', '/cv/', await image(100, 100));
    await upload('v.jpg', '/cv/', await image(200, 100));
    await ik().files.copy({ sourceFilePath: '/cv/v.jpg', destinationPath: '/cv-with/', includeFileVersions: true });
    await ik().files.copy({ sourceFilePath: '/cv/v.jpg', destinationPath: '/cv-without/' });
    const [withV] = await ik().assets.list({ path: '/cv-with/' });
    const [withoutV] = await ik().assets.list({ path: '/cv-without/' });
    expect(await ik().files.versions.list((withV as { fileId: string }).fileId)).toHaveLength(2);
    expect(await ik().files.versions.list((withoutV as { fileId: string }).fileId)).toHaveLength(1);
  });

  it('move: served at the new URL, and the old URL is 404 although the edge and a region had cached it', async () => {
    const up = await upload('m.jpg', '/move-src/', await image(300, 200));
    expect((await get('/flex/tr:w-50/move-src/m.jpg')).status).toBe(200);
    const cached = await get('/flex/tr:w-50/move-src/m.jpg');
    expect(cached.headers.get('x-pixmesh-cache')).toBe('HIT');
    await ik().files.move({ sourceFilePath: '/move-src/m.jpg', destinationPath: '/move-dst/' });
    expect((await get('/flex/tr:w-50/move-src/m.jpg')).status).toBe(404);
    expect((await get('/flex/move-src/m.jpg')).status).toBe(404);
    expect(await size(await get('/flex/tr:w-50/move-dst/m.jpg'))).toEqual([50, 33]);
    // A move keeps the fileId.
    expect(await ik().files.get(up.fileId!)).toMatchObject({ filePath: '/move-dst/m.jpg' });
    expect(await exists(bucket('us-east-1'), 'flex/move-src/m.jpg')).toBe(false);
  });

  it('rename with purgeCache answers a purge request id that completes; the old name is 404, the new one served', async () => {
    await upload('old.jpg', '/ren/', await image(120, 80));
    expect((await get('/flex/ren/old.jpg')).status).toBe(200);
    const out = await ik().files.rename({ filePath: '/ren/old.jpg', newFileName: 'new.jpg', purgeCache: true });
    expect(out.purgeRequestId).toMatch(/^[0-9a-f]{24}$/);
    expect((await ik().cache.invalidation.get(out.purgeRequestId!)).status).toBe('Completed');
    expect((await get('/flex/ren/old.jpg')).status).toBe(404);
    expect(await size(await get('/flex/ren/new.jpg'))).toEqual([120, 80]);
  });

  it('rename onto an existing name is 409; a missing source is 404; a body without the field is 400 naming it', async () => {
    await upload('a.jpg', '/ren2/', await image(10, 10));
    await upload('b.jpg', '/ren2/', await image(10, 10));
    await expect(ik().files.rename({ filePath: '/ren2/a.jpg', newFileName: 'b.jpg' })).rejects.toMatchObject({ status: 409 });
    await expect(ik().files.rename({ filePath: '/ren2/nope.jpg', newFileName: 'c.jpg' })).rejects.toMatchObject({ status: 404, error: { message: expect.stringContaining('/ren2/nope.jpg'), help: expect.any(String) } });
    await expect(ik().files.copy({ sourceFilePath: '/ren2/a.jpg' } as never)).rejects.toMatchObject({ status: 400, error: { message: expect.stringContaining('destinationPath') } });
    await expect(ik().files.move({ sourceFilePath: '/ren2/missing.jpg', destinationPath: '/x/' })).rejects.toMatchObject({ status: 404 });
  });

  it("another account's file is 404 to copy (its paths are not visible)", async () => {
    await upload('secret.jpg', '/o/', await image(10, 10), OTHER.privateKey);
    await expect(ik().files.copy({ sourceFilePath: '/o/secret.jpg', destinationPath: '/stolen/' })).rejects.toMatchObject({ status: 404 });
    expect(await exists(bucket('eu-central-1'), 'flex/stolen/secret.jpg')).toBe(false);
  });
});

describe('files.bulk', () => {
  it('addTags and removeTags change exactly the given files; removeAITags answers their ids', async () => {
    const a = await upload('t1.jpg', '/bulk/', await image(10, 10), FLEX.privateKey, { tags: ['keep'] });
    const b = await upload('t2.jpg', '/bulk/', await image(10, 10));
    const c = await upload('t3.jpg', '/bulk/', await image(10, 10), FLEX.privateKey, { tags: ['keep'] });
    const ids = [a.fileId!, b.fileId!];
    expect(await ik().files.bulk.addTags({ fileIds: ids, tags: ['sale', 'new'] })).toEqual({ successfullyUpdatedFileIds: ids });
    expect((await ik().files.get(a.fileId!)).tags).toEqual(['keep', 'sale', 'new']);
    expect((await ik().files.get(b.fileId!)).tags).toEqual(['sale', 'new']);
    expect((await ik().files.get(c.fileId!)).tags).toEqual(['keep']);
    expect(await ik().files.bulk.removeTags({ fileIds: ids, tags: ['sale', 'keep'] })).toEqual({ successfullyUpdatedFileIds: ids });
    expect((await ik().files.get(a.fileId!)).tags).toEqual(['new']);
    expect(await ik().files.bulk.removeAITags({ fileIds: ids, AITags: ['car'] })).toEqual({ successfullyUpdatedFileIds: ids });
  });

  it('bulk delete removes the files and purges them; an unknown or foreign id is 404 and nothing is deleted', async () => {
    const a = await upload('d1.jpg', '/bulkdel/', await image(10, 10));
    const b = await upload('d2.jpg', '/bulkdel/', await image(10, 10));
    const foreign = await upload('d3.jpg', '/bulkdel/', await image(10, 10), OTHER.privateKey);
    expect((await get('/flex/bulkdel/d1.jpg')).status).toBe(200);
    await expect(ik().files.bulk.delete({ fileIds: [a.fileId!, foreign.fileId!] })).rejects.toMatchObject({ status: 404, error: { message: expect.stringContaining(foreign.fileId!) } });
    expect(await ik().files.get(a.fileId!)).toMatchObject({ fileId: a.fileId });
    expect(await ik().files.bulk.delete({ fileIds: [a.fileId!, b.fileId!] })).toEqual({ successfullyDeletedFileIds: [a.fileId, b.fileId] });
    await expect(ik().files.get(a.fileId!)).rejects.toMatchObject({ status: 404 });
    expect((await get('/flex/bulkdel/d1.jpg')).status).toBe(404);
    await expect(ik().files.bulk.addTags({ fileIds: [], tags: ['x'] })).rejects.toMatchObject({ status: 400, error: { message: expect.stringContaining('fileIds') } });
  });
});

describe('folders', () => {
  it('create makes an empty folder that assets.list type folder shows; creating it again is harmless', async () => {
    await ik().folders.create({ folderName: 'empty', parentFolderPath: '/made/' });
    await ik().folders.create({ folderName: 'empty', parentFolderPath: '/made/' });
    const top = await ik().assets.list({ type: 'folder' });
    expect(top.some((f) => (f as { folderPath?: string }).folderPath === '/made')).toBe(true);
    const inside = await ik().assets.list({ type: 'folder', path: '/made/' });
    expect(inside).toEqual([expect.objectContaining({ type: 'folder', name: 'empty', folderPath: '/made/empty', folderId: expect.stringMatching(/^[0-9a-f]{24}$/) })]);
  });

  it('delete removes the folder and every file in it (404 afterwards); an unknown folder is 404', async () => {
    const f = await upload('x.jpg', '/gone/sub/', await image(10, 10));
    expect((await get('/flex/gone/sub/x.jpg')).status).toBe(200);
    await ik().folders.delete({ folderPath: '/gone' });
    await expect(ik().files.get(f.fileId!)).rejects.toMatchObject({ status: 404 });
    expect((await get('/flex/gone/sub/x.jpg')).status).toBe(404);
    await expect(ik().folders.delete({ folderPath: '/never-was' })).rejects.toMatchObject({ status: 404 });
  });

  it('copyFolder: a job Pending → Completed, after which the files are under the destination too', async () => {
    await upload('1.jpg', '/fc/', await image(40, 30));
    await upload('2.jpg', '/fc/deep/', await image(40, 30));
    const { jobId } = await ik().folders.copy({ sourceFolderPath: '/fc', destinationPath: '/fc-to' });
    expect(jobId).toMatch(/^[0-9a-f]{24}$/);
    expect(await waitJob(jobId)).toMatchObject({ jobId, type: 'COPY_FOLDER', status: 'Completed' });
    expect((await ik().assets.list({ path: '/fc-to/fc/deep/' })).map((f) => (f as { name: string }).name)).toEqual(['2.jpg']);
    expect((await get('/flex/fc-to/fc/1.jpg')).status).toBe(200);
    expect((await get('/flex/fc/1.jpg')).status).toBe(200);
  });

  it('moveFolder and renameFolder: the old URLs are 404 after the job, the new ones served; rename gives a purge request id', async () => {
    await upload('m.jpg', '/fm/', await image(40, 30));
    expect((await get('/flex/fm/m.jpg')).status).toBe(200);
    await waitJob((await ik().folders.move({ sourceFolderPath: '/fm', destinationPath: '/fm-to' })).jobId);
    expect((await get('/flex/fm/m.jpg')).status).toBe(404);
    expect((await get('/flex/fm-to/fm/m.jpg')).status).toBe(200);
    const job = await waitJob((await ik().folders.rename({ folderPath: '/fm-to/fm', newFolderName: 'renamed', purgeCache: true })).jobId);
    expect(job).toMatchObject({ type: 'RENAME_FOLDER', purgeRequestId: expect.stringMatching(/^[0-9a-f]{24}$/) });
    expect((await get('/flex/fm-to/fm/m.jpg')).status).toBe(404);
    expect(await size(await get('/flex/fm-to/renamed/m.jpg'))).toEqual([40, 30]);
    await expect(ik().folders.job.get('0123456789abcdef01234567')).rejects.toMatchObject({ status: 404 });
    await expect(ik().folders.move({ sourceFolderPath: '/no-such', destinationPath: '/x' })).rejects.toMatchObject({ status: 404 });
  });

  it('a folder job survives a restart of the home region: interrupted Pending, resumed, Completed with every file moved', async () => {
    const n = 12;
    for (let i = 0; i < n; i++) await upload(`f${i}.jpg`, '/big/', await image(8, 8));
    const { jobId } = await ik().folders.move({ sourceFolderPath: '/big', destinationPath: '/big-to' });
    await cluster.stopRegion('eu-central-1', 'SIGKILL');
    const saved = await readJson<{ status: string; done: number; pending: string[] }>(bucket('eu-central-1'), `_jobs/flex/${jobId}.json`);
    expect(saved.status).toBe('Pending');
    expect(saved.pending.length).toBeGreaterThan(0);
    await cluster.startRegion('eu-central-1');
    expect(await waitJob(jobId)).toMatchObject({ status: 'Completed' });
    expect(await ik().assets.list({ path: '/big/' })).toEqual([]);
    expect(await ik().assets.list({ path: '/big-to/big/' })).toHaveLength(n);
  });

  it('strict residency: a folder copy of a strict account writes only in its home region', async () => {
    await upload('s.jpg', '/sf/', await image(10, 10), STRICT.privateKey);
    await waitJob((await ik(STRICT.privateKey).folders.copy({ sourceFolderPath: '/sf', destinationPath: '/sf-to' })).jobId, STRICT.privateKey);
    for (const r of REGION_IDS) expect(await exists(bucket(r), 'strict/sf-to/sf/s.jpg')).toBe(r === 'us-east-1');
  });
});

describe('files.versions', () => {
  it('an overwrite keeps the previous version; list, get, restore (served after its purge) and delete', async () => {
    const v1 = await upload('p.jpg', '/ver/', await image(64, 48));
    expect(await size(await get('/flex/ver/p.jpg'))).toEqual([64, 48]);
    const v2 = await upload('p.jpg', '/ver/', await image(32, 32));
    expect(v2.fileId).toBe(v1.fileId);
    expect(await size(await get('/flex/ver/p.jpg'))).toEqual([32, 32]);
    const list = await ik().files.versions.list(v1.fileId!);
    expect(list.map((f) => f.type)).toEqual(['file-version', 'file']);
    expect(list.map((f) => f.versionInfo?.name)).toEqual(['Version 1', 'Version 2']);
    const old = await ik().files.versions.get(v1.versionInfo!.id!, { fileId: v1.fileId! });
    expect(old).toMatchObject({ type: 'file-version', width: 64, height: 48 });
    const restored = await ik().files.versions.restore(v1.versionInfo!.id!, { fileId: v1.fileId! });
    expect(restored).toMatchObject({ width: 64, height: 48, versionInfo: { id: v1.versionInfo!.id } });
    expect(await size(await get('/flex/ver/p.jpg'))).toEqual([64, 48]);
    await expect(ik().files.versions.delete(v1.versionInfo!.id!, { fileId: v1.fileId! })).rejects.toMatchObject({ status: 400 });
    await ik().files.versions.delete(v2.versionInfo!.id!, { fileId: v1.fileId! });
    expect(await ik().files.versions.list(v1.fileId!)).toHaveLength(1);
    await expect(ik().files.versions.get(v2.versionInfo!.id!, { fileId: v1.fileId! })).rejects.toMatchObject({ status: 404 });
  });

  it('a previous version is served at the URL versions.list answers (?ik-obj-version=), transformed too; a deleted or unknown version is 404', async () => {
    const v1 = await upload('q.jpg', '/ver-url/', await image(80, 40, '#cc3333'));
    const v2 = await upload('q.jpg', '/ver-url/', await image(30, 60, '#33cc33'));
    const [old, current] = await ik().files.versions.list(v1.fileId!);
    expect(old!.url).toBe(`${cluster.edgeUrl}/flex/ver-url/q.jpg?ik-obj-version=${v1.versionInfo!.id}`);
    const path = (url: string) => url.slice(cluster.edgeUrl.length);
    expect(await size(await get(path(old!.url!)))).toEqual([80, 40]);
    expect(await size(await get(`/flex/tr:w-40/ver-url/q.jpg?ik-obj-version=${v1.versionInfo!.id}`))).toEqual([40, 20]);
    // The current version's id serves the current bytes; the plain URL too.
    expect(await size(await get(`/flex/ver-url/q.jpg?ik-obj-version=${v2.versionInfo!.id}`))).toEqual([30, 60]);
    expect(await size(await get(path(current!.url!)))).toEqual([30, 60]);
    expect((await get('/flex/ver-url/q.jpg?ik-obj-version=0123456789abcdef01234567')).status).toBe(404);
    // Deleting the version purges its cached URL: 404 at once, although the edge had it.
    expect((await get(path(old!.url!))).headers.get('x-pixmesh-cache')).toBe('HIT');
    await ik().files.versions.delete(v1.versionInfo!.id!, { fileId: v1.fileId! });
    expect((await get(path(old!.url!))).status).toBe(404);
    expect(await size(await get('/flex/ver-url/q.jpg'))).toEqual([30, 60]);
  });

  it(`keeps at most ${MAX_VERSIONS} previous versions (PIXMESH_MEDIA_MAX_VERSIONS) and deletes the bytes of older ones`, async () => {
    let first;
    for (let i = 0; i < 5; i++) {
      const up = await upload('bound.jpg', '/ver/', await image(10 + i, 10));
      first ??= up;
    }
    const list = await ik().files.versions.list(first!.fileId!);
    expect(list).toHaveLength(MAX_VERSIONS + 1);
    expect(list.map((f) => f.width)).toEqual([12, 13, 14]);
    expect(await exists(bucket('eu-central-1'), `_versions/flex/${first!.fileId}/${first!.versionInfo!.id}`)).toBe(false);
  });
});

describe('files.metadata', () => {
  it("get: ImageKit's fields (size, format, quality, exif groups, 16-hex pHash) and the placeholders", async () => {
    const bytes = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#c83232' } })
      .withExif({ IFD0: { Artist: 'pixmesh test', Copyright: 'CC0' } })
      .jpeg({ quality: 70 })
      .toBuffer();
    const up = await upload('meta.jpg', '/meta/', bytes);
    const m = await ik().files.metadata.get(up.fileId!);
    expect(m).toMatchObject({ width: 200, height: 100, size: bytes.length, format: 'jpg', hasColorProfile: false, hasTransparency: false, density: 72 });
    expect(m.quality).toBeGreaterThanOrEqual(65);
    expect(m.quality).toBeLessThanOrEqual(75);
    expect(m.exif?.image).toMatchObject({ Artist: 'pixmesh test', Copyright: 'CC0' });
    expect(m.pHash).toMatch(/^[0-9a-f]{16}$/);
    expect(m.blurHash).toMatch(/^[0-9A-Za-z#$%*+,-.:;=?@[\]^_{|}~]{20,}$/);
    expect(typeof m.thumbHash).toBe('string');
    const dominant = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(m.dominantColor as string)!;
    expect(Number.parseInt(dominant[1]!, 16)).toBeGreaterThan(150);
    expect(Number.parseInt(dominant[3]!, 16)).toBeLessThan(100);
  });

  it('getFromURL reports the delivered image (transformation applied); a URL of another account is 400', async () => {
    await upload('u.png', '/meta/', await sharp({ create: { width: 300, height: 200, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0.5 } } }).png().toBuffer());
    const m = await ik().files.metadata.getFromURL({ url: `${cluster.edgeUrl}/flex/tr:w-150,f-png/meta/u.png` });
    expect(m).toMatchObject({ width: 150, height: 100, format: 'png', hasTransparency: true });
    await expect(ik().files.metadata.getFromURL({ url: `${cluster.edgeUrl}/other/o/secret.jpg` })).rejects.toMatchObject({ status: 400 });
    await expect(ik().files.metadata.getFromURL({ url: `${cluster.edgeUrl}/flex/meta/none.png` })).rejects.toMatchObject({ status: 404 });
    await expect(ik().files.metadata.get('0123456789abcdef01234567')).rejects.toMatchObject({ status: 404 });
  });
});

describe('customMetadataFields', () => {
  it('create / list / update / delete, with every schema type; a deleted field shows only with includeDeleted', async () => {
    const c = ik(STRICT.privateKey);
    const made = [
      await c.customMetadataFields.create({ name: 'title', label: 'Title', schema: { type: 'Text', minLength: 2, maxLength: 10 } }),
      await c.customMetadataFields.create({ name: 'notes', label: 'Notes', schema: { type: 'Textarea', maxLength: 100 } }),
      await c.customMetadataFields.create({ name: 'price', label: 'Price', schema: { type: 'Number', minValue: 0, maxValue: 100, isValueRequired: true, defaultValue: 1 } }),
      await c.customMetadataFields.create({ name: 'shot', label: 'Shot on', schema: { type: 'Date', minValue: '2000-01-01T00:00:00Z' } }),
      await c.customMetadataFields.create({ name: 'ok', label: 'Approved', schema: { type: 'Boolean' } }),
      await c.customMetadataFields.create({ name: 'size', label: 'Size', schema: { type: 'SingleSelect', selectOptions: ['S', 'M', 'L'] } }),
      await c.customMetadataFields.create({ name: 'colours', label: 'Colours', schema: { type: 'MultiSelect', selectOptions: ['red', 'blue'] } }),
    ];
    for (const f of made) expect(f.id).toMatch(/^[0-9a-f]{24}$/);
    expect((await c.customMetadataFields.list()).map((f) => f.name)).toEqual(['title', 'notes', 'price', 'shot', 'ok', 'size', 'colours']);
    const updated = await c.customMetadataFields.update(made[0]!.id, { label: 'Headline', schema: { maxLength: 20 } });
    expect(updated).toMatchObject({ name: 'title', label: 'Headline', schema: { type: 'Text', minLength: 2, maxLength: 20 } });
    await c.customMetadataFields.delete(made[1]!.id);
    expect((await c.customMetadataFields.list()).map((f) => f.name)).not.toContain('notes');
    expect((await c.customMetadataFields.list({ includeDeleted: true })).map((f) => f.name)).toContain('notes');
    await expect(c.customMetadataFields.delete(made[1]!.id)).rejects.toMatchObject({ status: 404 });
    // The other account does not see them.
    expect(await ik(FLEX.privateKey).customMetadataFields.list()).toEqual([]);
  });

  it.each([
    [{ name: 'bad', label: 'Bad', schema: { type: 'Colour' } }, 'schema.type'],
    [{ name: 'bad', label: 'Bad', schema: { type: 'Number', minLength: 3 } }, 'schema.minLength'],
    [{ name: 'bad', label: 'Bad', schema: { type: 'SingleSelect' } }, 'schema.selectOptions'],
    [{ name: 'bad', label: 'Bad', schema: { type: 'Number', minValue: 5, maxValue: 1 } }, 'minimum is above the maximum'],
    [{ name: 'bad', label: 'Bad', schema: { type: 'Text', isValueRequired: true } }, 'schema.defaultValue'],
    [{ name: 'bad', label: 'Bad', schema: { type: 'Boolean', defaultValue: 'yes' } }, 'schema.defaultValue'],
    [{ name: 'b d', label: 'Bad', schema: { type: 'Text' } }, 'name'],
    [{ name: 'title', label: 'Other', schema: { type: 'Text' } }, 'already exists'],
  ])('a bad field definition is 400 naming the part: %j', async (body, part) => {
    await expect(ik(STRICT.privateKey).customMetadataFields.create(body as never)).rejects.toMatchObject({ status: 400, error: { message: expect.stringContaining(part) } });
  });

  it.each([
    [{ title: 'x' }, 'customMetadata.title', 'minLength'],
    [{ price: 101 }, 'customMetadata.price', 'maxValue'],
    [{ price: 'ten' }, 'customMetadata.price', 'number'],
    [{ shot: '1999-12-31T00:00:00Z' }, 'customMetadata.shot', 'minValue'],
    [{ ok: 'yes' }, 'customMetadata.ok', 'true or false'],
    [{ size: 'XL' }, 'customMetadata.size', 'selectOptions'],
    [{ colours: ['red', 'green'] }, 'customMetadata.colours', 'selectOptions'],
    [{ unknown: 1 }, 'customMetadata.unknown', 'no custom metadata field'],
  ])('an upload with customMetadata %j is 400 naming %s and the rule', async (customMetadata, field, rule) => {
    const err = await upload('cm.jpg', '/cm/', await image(8, 8), STRICT.privateKey, { customMetadata }).catch((e: unknown) => e as { status: number; error: { message: string } });
    expect(err).toMatchObject({ status: 400 });
    expect((err as { error: { message: string } }).error.message).toContain(field);
    expect((err as { error: { message: string } }).error.message).toContain(rule);
  });

  it('a valid upload gets the defaults of fields it lacks; an update is checked after the merge', async () => {
    const up = await upload('good.jpg', '/cm/', await image(8, 8), STRICT.privateKey, { customMetadata: { title: 'Shoe', size: 'M', colours: ['red'], ok: true, shot: '2020-05-01T00:00:00Z' } });
    expect(up.customMetadata).toEqual({ title: 'Shoe', size: 'M', colours: ['red'], ok: true, shot: '2020-05-01T00:00:00Z', price: 1 });
    expect((await ik(STRICT.privateKey).files.update(up.fileId!, { customMetadata: { price: 50 } })).customMetadata).toMatchObject({ price: 50, title: 'Shoe' });
    await expect(ik(STRICT.privateKey).files.update(up.fileId!, { customMetadata: { size: 'XXL' } })).rejects.toMatchObject({
      status: 400,
      error: { message: expect.stringContaining('customMetadata.size') },
    });
    expect((await ik(STRICT.privateKey).files.get(up.fileId!)).customMetadata).toMatchObject({ size: 'M' });
  });
});

describe('upload extras', () => {
  it('beta.v2.files.upload stores the file like v1; responseFields metadata and embeddedMetadata add them', async () => {
    const bytes = await sharp({ create: { width: 60, height: 40, channels: 3, background: '#808080' } }).withExif({ IFD0: { Artist: 'v2 test' } }).jpeg().toBuffer();
    const res = await ik().beta.v2.files.upload({ file: await toFile(bytes, 'v2.jpg'), fileName: 'v2.jpg', folder: '/v2/', useUniqueFileName: false, responseFields: ['metadata', 'embeddedMetadata'] });
    expect(res).toMatchObject({ filePath: '/v2/v2.jpg', width: 60, height: 40 });
    expect(res.metadata).toMatchObject({ width: 60, height: 40, format: 'jpg', pHash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(res.embeddedMetadata).toMatchObject({ Artist: 'v2 test', ImageWidth: 60 });
    expect((await get('/flex/v2/v2.jpg')).status).toBe(200);
  });
});

describe('namedTransformations (configuration as data)', () => {
  /** Polls a URL until its width is `width`; returns the seconds it took. */
  async function widthWithin(p: string, width: number, colo: string): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      const res = await fetch(cluster.edgeUrl + p, { headers: { 'x-pixmesh-colo': colo, accept: 'image/jpeg' } });
      if (res.ok && (await size(res))[0] === width) return (Date.now() - t0) / 1000;
      if (Date.now() - t0 > 20_000) throw new Error(`${p} never became ${width} px wide at ${colo}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('the account file seeds the list; an update is in effect at the edge and in other regions within 10 s', async () => {
    await upload('nt.jpg', '/nt/', await image(200, 100));
    const list = await ik().namedTransformations.list();
    expect(list).toEqual([expect.objectContaining({ name: 'thumb', transformation: 'w-40', enabled: true, id: expect.stringMatching(/^[0-9a-f]{24}$/) })]);
    expect(await size(await get('/flex/tr:n-thumb/nt/nt.jpg'))).toEqual([40, 20]);
    const updated = await ik().namedTransformations.update(list[0]!.id, { transformation: 'w-20' });
    expect(updated).toMatchObject({ name: 'thumb', transformation: 'w-20' });
    expect(await ik().namedTransformations.get(list[0]!.id)).toMatchObject({ transformation: 'w-20' });
    // FRA is served through eu-central-1 (home); SYD through ap-southeast-2, which polls the store.
    const here = await widthWithin('/flex/tr:n-thumb/nt/nt.jpg', 20, 'FRA');
    const there = await widthWithin('/flex/tr:n-thumb/nt/nt.jpg?v=syd', 20, 'SYD');
    expect(here).toBeLessThan(10);
    expect(there).toBeLessThan(10);
  });

  it('create, disable and delete change what n-<name> means; bad input is 400 naming the field, unknown ids 404', async () => {
    const made = await ik().namedTransformations.create({ name: 'tiny', transformation: 'w-10' });
    expect(made).toMatchObject({ name: 'tiny', transformation: 'w-10', enabled: true });
    expect(await widthWithin('/flex/tr:n-tiny/nt/nt.jpg', 10, 'FRA')).toBeLessThan(10);
    await expect(ik().namedTransformations.create({ name: 'tiny', transformation: 'w-5' })).rejects.toMatchObject({ status: 409 });
    await expect(ik().namedTransformations.create({ name: 'broken', transformation: 'w-abc' })).rejects.toMatchObject({ status: 400, error: { message: expect.stringContaining('broken') } });
    await expect(ik().namedTransformations.create({ name: 'b a d', transformation: 'w-5' })).rejects.toMatchObject({ status: 400, error: { message: expect.stringContaining('name') } });
    await ik().namedTransformations.delete(made.id);
    await expect(ik().namedTransformations.get(made.id)).rejects.toMatchObject({ status: 404 });
    await expect(ik().namedTransformations.delete(made.id)).rejects.toMatchObject({ status: 404 });
    expect((await ik().namedTransformations.list()).map((n) => n.name)).toEqual(['thumb']);
    // Another account does not see them.
    expect(await ik(OTHER.privateKey).namedTransformations.list()).toEqual([]);
  });
});

describe('accounts.usage', () => {
  const today = () => new Date().toISOString().slice(0, 10);
  const usage = () => ik(OTHER.privateKey).accounts.usage.get({ startDate: today(), endDate: today() });
  /** Polls until two reads a second apart agree (every region has flushed). */
  async function settled() {
    let last = await usage();
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const next = await usage();
      if (next.bandwidthBytes === last.bandwidthBytes) return next;
      last = next;
    }
    throw new Error('usage did not settle');
  }

  it('counts the bytes regions delivered (from several regions, summed at home) and the library bytes; survives a home restart', async () => {
    await upload('u1.jpg', '/usage/', await image(300, 200), OTHER.privateKey);
    const before = await settled();
    let delivered = 0;
    for (const [i, colo] of ['FRA', 'SYD', 'IAD', 'BOM'].entries()) {
      const res = await fetch(`${cluster.edgeUrl}/other/tr:w-${100 + i}/usage/u1.jpg`, { headers: { 'x-pixmesh-colo': colo, accept: 'image/jpeg' } });
      expect(res.status).toBe(200);
      delivered += (await res.arrayBuffer()).byteLength;
    }
    const after = await settled();
    expect(after.bandwidthBytes! - before.bandwidthBytes!).toBe(delivered);
    const files = (await ik(OTHER.privateKey).assets.list()) as { size: number }[];
    expect(after.mediaLibraryStorageBytes).toBe(files.reduce((s, f) => s + f.size, 0));
    await cluster.stopRegion('eu-central-1');
    await cluster.startRegion('eu-central-1');
    expect((await settled()).bandwidthBytes).toBe(after.bandwidthBytes);
  });

  it.each([
    [{ startDate: '2026-01-01', endDate: '2026-06-01' }, '90 days'],
    [{ startDate: '2026-02-01', endDate: '2026-01-01' }, 'endDate'],
    [{ startDate: '01/02/2026', endDate: '2026-01-03' }, 'startDate'],
  ])('a bad range %j is 400 naming %s', async (range, part) => {
    await expect(ik(OTHER.privateKey).accounts.usage.get(range)).rejects.toMatchObject({ status: 400, error: { message: expect.stringContaining(part) } });
  });
});
