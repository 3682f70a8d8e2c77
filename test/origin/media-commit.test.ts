/**
 * Crash-safe media-library commits (#12 point 5). The home region runs as a real origin process;
 * the test hook PIXMESH_CRASH_FILE (origin/src/media/journal.ts crashPoint) makes it SIGKILL
 * itself at one named point of a commit: before the intent record, after each step, after the
 * purge, after the record is gone. The region is then restarted and the library must be
 * consistent — every listed file served with its record's bytes, nothing served or stored that
 * is not listed, every version's bytes kept — and the change either fully done (its intent was
 * written: replayed at boot) or not at all (crash before the intent).
 *
 * Also: copy / move / rename / folder jobs refuse paths the store cannot hold (400 naming the limit).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signInternalRequest } from '../../shared/internal-auth.js';
import type { RegionId } from '../../shared/regions.js';
import { mediaBucketFor } from '../../origin/src/config.js';
import { s3Client } from '../../origin/src/sources/s3.js';
import type { FileRecord } from '../../origin/src/media/store.js';
import { MAX_NAME_BYTES } from '../../origin/src/media/upload.js';
import { signedFetch, startRegions, stopRegions, type Regions } from './helpers.js';

const HOME: RegionId = 'eu-central-1';
const ENDPOINT = encodeURIComponent('http://edge.test/acme');
let regions: Regions & { basePort: number };
let crashFile: string;
let s3: S3Client;
const bucket = mediaBucketFor(HOME);
let url: string;
let red: Buffer;
let blue: Buffer;
let crashes = 0;

beforeAll(async () => {
  // the hook's file: the test writes a crash point's name into it, the region dies there
  crashFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-crash-')), 'crash-at');
  regions = await startRegions(
    'auto',
    () => ({ accounts: [{ id: 'acme', homeRegion: HOME, privateKey: 'private_acme', publicKey: 'public_acme', endpoints: [{ prefix: '', origins: [{ type: 'media' }] }] }] }),
    [HOME],
    { originEnv: { PIXMESH_CRASH_FILE: crashFile } },
  );
  url = regions.regionUrls[HOME];
  s3 = s3Client({ endpoint: regions.s3Url, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
  red = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#e01010' } }).jpeg().toBuffer();
  blue = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#1010e0' } }).jpeg().toBuffer();
}, 180_000);

afterAll(async () => {
  await stopRegions(regions);
  fs.rmSync(path.dirname(crashFile), { recursive: true, force: true });
});

// ---- calls ------------------------------------------------------------------------------------
/** A call that may meet the crash: 'crashed' when the connection dies with the process. */
async function call(fn: () => Promise<Response>): Promise<Response | 'crashed'> {
  try {
    const res = await fn();
    await res.clone().arrayBuffer();
    return res;
  } catch {
    return 'crashed';
  }
}

async function upload(filePath: string, bytes: Buffer): Promise<Response> {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'x.jpg');
  form.set('fileName', path.posix.basename(filePath));
  form.set('folder', path.posix.dirname(filePath));
  form.set('useUniqueFileName', 'false');
  const req = new Request('http://x/', { method: 'POST', body: form });
  const body = Buffer.from(await req.arrayBuffer());
  const pathAndQuery = `/internal/media/acme/files/upload?auth=key&endpoint=${ENDPOINT}`;
  const headers = new Headers({ 'content-type': req.headers.get('content-type')! });
  await signInternalRequest(regions.internalSecret, headers, { method: 'POST', pathAndQuery, region: HOME, body: new Uint8Array(body) });
  return fetch(url + pathAndQuery, { method: 'POST', headers, body });
}
const api = (method: string, p: string, body?: unknown) =>
  signedFetch(url, regions.internalSecret, `/internal/media/acme${p}${p.includes('?') ? '&' : '?'}endpoint=${ENDPOINT}`, {
    method,
    region: HOME,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
async function listed(): Promise<{ fileId: string; filePath: string }[]> {
  const res = await api('GET', '/files?limit=1000');
  expect(res.status).toBe(200);
  return (await res.json()) as { fileId: string; filePath: string }[];
}
const byPath = async (p: string) => (await listed()).find((f) => f.filePath === p);
async function mustUpload(p: string, bytes: Buffer): Promise<string> {
  const res = await upload(p, bytes);
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { fileId: string }).fileId;
}

/** What the region serves at a path: 'red', 'blue' or the status. */
async function served(p: string): Promise<'red' | 'blue' | number> {
  const res = await signedFetch(url, regions.internalSecret, `/internal/render/acme/tr:w-16${p}`, { headers: { 'x-pixmesh-format': 'png' }, region: HOME });
  if (res.status !== 200) {
    await res.arrayBuffer();
    return res.status;
  }
  const { channels } = await sharp(Buffer.from(await res.arrayBuffer())).stats();
  return channels[0]!.mean > channels[2]!.mean ? 'red' : 'blue';
}

// ---- the bucket as it is ------------------------------------------------------------------------
async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) out.push(o.Key!);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}
const head = (key: string) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

/**
 * The library is consistent: no intent left; listed ⇔ record; every record's object holds its
 * bytes (sha256) and every object under the account belongs to a record (no orphan); every
 * version named by a record has its bytes, and no version object is unnamed.
 */
async function assertConsistent(): Promise<FileRecord[]> {
  const list = await listed(); // loads the index: replays what is left
  expect(await keys('_journal/acme/')).toEqual([]);
  const records: FileRecord[] = [];
  for (const k of await keys('_index/acme/')) {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
    records.push(JSON.parse(await out.Body!.transformToString()) as FileRecord);
  }
  expect(list.map((f) => f.fileId).sort()).toEqual(records.map((r) => r.fileId).sort());
  expect(await keys('acme/')).toEqual(records.map((r) => `acme${r.filePath}`).sort());
  for (const r of records) {
    const h = await head(`acme${r.filePath}`);
    expect({ path: r.filePath, sha256: h.Metadata?.sha256, size: h.ContentLength }).toEqual({ path: r.filePath, sha256: r.sha256, size: r.size });
  }
  const versionKeys = records.flatMap((r) => (r.versions ?? []).map((v) => ({ key: `_versions/acme/${r.fileId}/${v.versionInfo.id}`, sha256: v.sha256 })));
  expect(await keys('_versions/acme/')).toEqual(versionKeys.map((v) => v.key).sort());
  for (const v of versionKeys) expect((await head(v.key)).Metadata?.sha256).toBe(v.sha256);
  return records;
}

// ---- crash points -------------------------------------------------------------------------------
/**
 * The commit-level points (before the intent, right after it, after the last step, after the
 * purge, after the intent's removal) are the same code for every operation: they are swept for
 * upload, and for every operation with PIXMESH_CRASH_SWEEP=full. The points between
 * steps (step-1 … step-(n-1)) are each operation's own and always swept. A restart costs seconds
 * on a loaded machine, so the default sweep stays near 25 crashes (full: about 50).
 */
const FULL = process.env.PIXMESH_CRASH_SWEEP === 'full';

interface Scenario {
  op: string;
  /** Sweep the commit-level points too. */
  commitPoints?: boolean;
  /** Makes the state the change starts from (no crash point armed); returns what act/check need. */
  setup(n: number): Promise<Record<string, string>>;
  act(s: Record<string, string>): Promise<Response>;
  /** done: the change must be complete (its intent was written), else not there at all. */
  check(s: Record<string, string>, done: boolean, records: FileRecord[]): Promise<void>;
}

/** Runs the scenario once per crash point (a fresh setup each time), restarting the region after each crash. */
async function sweep(sc: Scenario): Promise<string[]> {
  const met: string[] = [];
  let n = 0;
  const at = async (point: string): Promise<'crashed' | 'completed'> => {
    const s = await sc.setup(n++);
    fs.writeFileSync(crashFile, point);
    const res = await call(() => sc.act(s));
    if (res !== 'crashed') {
      fs.rmSync(crashFile, { force: true });
      expect(res.status, `${point}: ${await res.text()}`).toBeLessThan(300);
      await sc.check(s, true, await assertConsistent());
      return 'completed';
    }
    crashes++;
    met.push(point);
    await waitForExit();
    await regions.startRegion(HOME);
    const records = await assertConsistent();
    await sc.check(s, !point.endsWith(':before-journal'), records);
    return 'crashed';
  };
  const commitLevel = sc.commitPoints || FULL;
  if (commitLevel) for (const p of ['before-journal', 'step-0']) expect(await at(`${sc.op}:${p}`)).toBe('crashed');
  // step-i until the operation completes without meeting its point (i = the number of steps + 1)
  let i = 1;
  while ((await at(`${sc.op}:step-${i}`)) === 'crashed') i++;
  expect(i).toBeGreaterThan(2); // a point between two steps was met, and the one after the last step
  if (commitLevel) for (const p of ['purged', 'committed']) expect(await at(`${sc.op}:${p}`)).toBe('crashed');
  return met;
}

/** The region process is gone (it killed itself at the crash point). */
async function waitForExit(): Promise<void> {
  for (let i = 0; i < 200 && regions.pids()[HOME]; i++) await new Promise((r) => setTimeout(r, 50));
  expect(regions.pids()[HOME]).toBeUndefined();
}

// A failed test must not leave a point armed or the region down for the next one.
beforeEach(async () => {
  fs.rmSync(crashFile, { force: true });
  if (!regions.pids()[HOME]) await regions.startRegion(HOME);
});

const SWEEP_MS = 600_000;

describe('media commits survive SIGKILL at every crash point', () => {
  it('upload of a new file: after a crash it is listed and served, or (crash before its intent) neither', async () => {
    const met = await sweep({
      op: 'upload',
      commitPoints: true,
      setup: async (n) => ({ p: `/up${n}/a.jpg` }),
      act: (s) => upload(s.p!, red),
      check: async (s, done) => {
        expect(Boolean(await byPath(s.p!)), s.p).toBe(done);
        expect(await served(s.p!)).toBe(done ? 'red' : 404);
      },
    });
    expect(met).toEqual(expect.arrayContaining(['upload:before-journal', 'upload:step-0', 'upload:step-1', 'upload:purged', 'upload:committed']));
  }, SWEEP_MS);

  it('overwrite: v1 stays current (crash before the intent) or becomes a version with its bytes; no cached v1 variant is served after', async () => {
    await sweep({
      op: 'overwrite',
      setup: async (n) => {
        const p = `/ow${n}/a.jpg`;
        const id = await mustUpload(p, red);
        expect(await served(p)).toBe('red'); // a cached v1 variant in the region
        return { p, id };
      },
      act: (s) => upload(s.p!, blue),
      check: async (s, done, records) => {
        const r = records.find((x) => x.fileId === s.id)!;
        expect(r.filePath).toBe(s.p);
        expect(await served(s.p!)).toBe(done ? 'blue' : 'red');
        expect(r.versions?.length ?? 0).toBe(done ? 1 : 0);
        const v1 = done ? await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `_versions/acme/${r.fileId}/${r.versions![0]!.versionInfo.id}` })) : undefined;
        if (v1) expect((await sharp(Buffer.from(await v1.Body!.transformToByteArray())).stats()).channels[0]!.mean).toBeGreaterThan(150); // v1 (red) intact
      },
    });
  }, SWEEP_MS);

  it('delete: the file is gone entirely (record, bytes, versions) or still whole', async () => {
    await sweep({
      op: 'delete',
      setup: async (n) => {
        const p = `/del${n}/a.jpg`;
        await mustUpload(p, red);
        await mustUpload(p, blue); // with a version
        return { p, id: (await byPath(p))!.fileId };
      },
      act: (s) => api('DELETE', `/files/${s.id}`),
      check: async (s, done, records) => {
        expect(records.some((r) => r.fileId === s.id)).toBe(!done);
        expect(await served(s.p!)).toBe(done ? 404 : 'blue');
      },
    });
  }, SWEEP_MS);

  it('move: the file is at the destination only (fully moved) or at the source only', async () => {
    await sweep({
      op: 'move',
      setup: async (n) => {
        const p = `/mv${n}/a.jpg`;
        await mustUpload(p, red);
        return { p, to: `/mv${n}/dest/a.jpg` };
      },
      act: (s) => api('POST', '/v1/files/move', { sourceFilePath: s.p, destinationPath: path.posix.dirname(s.to!) }),
      check: async (s, done) => {
        expect([Boolean(await byPath(s.p!)), Boolean(await byPath(s.to!))]).toEqual(done ? [false, true] : [true, false]);
        expect([await served(s.p!), await served(s.to!)]).toEqual(done ? [404, 'red'] : ['red', 404]);
      },
    });
  }, SWEEP_MS);

  it('copy onto an existing file: the destination gets the source as its new version (its old bytes kept) or is untouched', async () => {
    await sweep({
      op: 'copy',
      setup: async (n) => {
        const p = `/cp${n}/a.jpg`;
        await mustUpload(p, red);
        await mustUpload(`/cp${n}/dest/a.jpg`, blue);
        return { p, to: `/cp${n}/dest/a.jpg` };
      },
      act: (s) => api('POST', '/v1/files/copy', { sourceFilePath: s.p, destinationPath: path.posix.dirname(s.to!) }),
      check: async (s, done, records) => {
        expect(await served(s.p!)).toBe('red');
        expect(await served(s.to!)).toBe(done ? 'red' : 'blue');
        expect(records.find((r) => r.filePath === s.to)!.versions?.length ?? 0).toBe(done ? 1 : 0);
      },
    });
  }, SWEEP_MS);

  it('rename: the new name only, or the old name only', async () => {
    await sweep({
      op: 'move',
      setup: async (n) => {
        const p = `/rn${n}/a.jpg`;
        await mustUpload(p, blue);
        return { p, to: `/rn${n}/b.jpg` };
      },
      act: (s) => api('PUT', '/v1/files/rename', { filePath: s.p, newFileName: 'b.jpg', purgeCache: true }),
      check: async (s, done) => {
        expect([await served(s.p!), await served(s.to!)]).toEqual(done ? [404, 'blue'] : ['blue', 404]);
      },
    });
  }, SWEEP_MS);

  it('version restore: the old version is current and the replaced one kept, or nothing changed', async () => {
    await sweep({
      op: 'restore',
      setup: async (n) => {
        const p = `/rs${n}/a.jpg`;
        await mustUpload(p, red);
        await mustUpload(p, blue);
        const versions = (await (await api('GET', `/v1/files/${(await byPath(p))!.fileId}/versions`)).json()) as { versionInfo: { id: string }; fileId: string }[];
        expect(await served(p)).toBe('blue');
        return { p, id: versions[0]!.fileId, version: versions[0]!.versionInfo.id };
      },
      act: (s) => api('PUT', `/v1/files/${s.id}/versions/${s.version}/restore`),
      check: async (s, done, records) => {
        expect(await served(s.p!)).toBe(done ? 'red' : 'blue');
        expect(records.find((r) => r.fileId === s.id)!.versions?.length).toBe(1);
      },
    });
  }, SWEEP_MS);

  it('a folder move interrupted mid-job resumes after the restart: every file moved once, none left behind', async () => {
    for (const f of ['a', 'b', 'c']) await mustUpload(`/job/src/${f}.jpg`, red);
    fs.writeFileSync(crashFile, 'move:step-2'); // the first file's bytes and record moved, its old key not yet removed
    // the job answers as it starts (the crash may come before or after that answer): the crash is in the job's first file
    await call(() => api('POST', '/v1/bulkJobs/moveFolder', { sourceFolderPath: '/job/src', destinationPath: '/job/dst' }));
    await waitForExit();
    crashes++;
    await regions.startRegion(HOME);
    for (let i = 0; i < 100; i++) {
      const paths = (await listed()).map((f) => f.filePath).filter((p) => p.startsWith('/job/'));
      if (paths.every((p) => p.startsWith('/job/dst/'))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await assertConsistent();
    expect((await listed()).map((f) => f.filePath).filter((p) => p.startsWith('/job/')).sort()).toEqual(['/job/dst/src/a.jpg', '/job/dst/src/b.jpg', '/job/dst/src/c.jpg']);
    for (const f of ['a', 'b', 'c']) expect(await served(`/job/dst/src/${f}.jpg`)).toBe('red');
    }, SWEEP_MS);
});

describe('copy, move, rename and folder jobs keep to the store path limits', () => {
  const long = 'n'.repeat(MAX_NAME_BYTES + 1);
  const deep = Array.from({ length: 8 }, () => 'd'.repeat(120)).join('/');
  beforeAll(async () => {
    fs.rmSync(crashFile, { force: true });
    await mustUpload('/lim/a.jpg', red);
    await mustUpload(`/lim/${'m'.repeat(150)}.jpg`, red);
  });
  it.each([
    ['rename to a name over the limit', 'PUT', '/v1/files/rename', { filePath: '/lim/a.jpg', newFileName: `${long}.jpg` }, 'may be at most'],
    ['move into a folder name over the limit', 'POST', '/v1/files/move', { sourceFilePath: '/lim/a.jpg', destinationPath: `/${long}` }, 'may be at most'],
    ['copy into a path over the key limit', 'POST', '/v1/files/copy', { sourceFilePath: '/lim/a.jpg', destinationPath: `/${deep}` }, '1024-byte key limit'],
    ['folder create with a name over the limit', 'POST', '/v1/folder', { folderName: long, parentFolderPath: '/lim' }, 'may be at most'],
    ['folder move whose files would pass the key limit', 'POST', '/v1/bulkJobs/moveFolder', { sourceFolderPath: '/lim', destinationPath: `/${Array.from({ length: 7 }, () => 'd'.repeat(120)).join('/')}` }, '1024-byte key limit'],
  ])('%s → 400 naming the limit, nothing changed', async (_what, method, p, body, message) => {
    const before = (await listed()).map((f) => f.filePath).sort();
    const res = await api(method, p, body);
    expect(res.status).toBe(400);
    expect(res.headers.get('ik-error') ?? '').not.toBe('');
    expect(((await res.json()) as { message: string }).message).toContain(message);
    expect((await listed()).map((f) => f.filePath).sort()).toEqual(before);
  });
});

afterAll(() => {
  // eslint-disable-next-line no-console
  console.log(`media-commit: ${crashes} crashes (SIGKILL) and restarts`);
});
