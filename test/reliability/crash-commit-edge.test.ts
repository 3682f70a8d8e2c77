/**
 * Crash-safe media commits through the EDGE (#12 point 5), on the real cluster (edge in workerd,
 * the home region a real origin process, s3rver): the home region is SIGKILLed at a crash point in
 * the middle of an overwrite (PIXMESH_CRASH_FILE, origin/src/media/journal.ts crashPoint) while
 * the edge holds the old file's variants in its cache, then restarted. Its boot replays the
 * journal; the replay's purges reach the edge through the home region's purge fan-out
 * (PIXMESH_EDGE_URL → POST /_internal/purge, edge/src/edge-purge.ts) — there is no client answer
 * to carry the x-pixmesh-edge-purge header. Proved through the edge: the bytes served are the ones
 * the index names (the original byte for byte, a variant by its colour), the old variant is no
 * longer served from the edge cache, and the file is listed once, deletable, and gone after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePortBase } from '../origin/helpers.js';
import { get, sleep, type Answer } from './harness.js';

const HOME = 'eu-central-1' as const;
const BASE = await freePortBase(96);
const GEO = { 'x-pixmesh-colo': 'FRA', 'x-pixmesh-lat': '50.1', 'x-pixmesh-lon': '8.7', 'x-pixmesh-country': 'DE' };
const auth = { authorization: `Basic ${Buffer.from('private_acme:').toString('base64')}` };

let cluster: TestCluster;
let crashFile: string;
let red: Buffer;
let blue: Buffer;

beforeAll(async () => {
  crashFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-crash-edge-')), 'crash-at');
  red = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#e01010' } }).jpeg().toBuffer();
  blue = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#1010e0' } }).jpeg().toBuffer();
  cluster = await startTestCluster(
    BASE,
    { accounts: [{ id: 'acme', homeRegion: HOME, privateKey: 'private_acme', publicKey: 'public_acme', endpoints: [{ prefix: '', origins: [{ type: 'media' }] }] }] },
    { regions: [HOME], originEnv: { PIXMESH_CRASH_FILE: crashFile } },
  );
});

afterAll(async () => {
  await stopTestCluster(cluster);
  if (crashFile) fs.rmSync(path.dirname(crashFile), { recursive: true, force: true });
});

async function upload(filePath: string, body: Buffer): Promise<Response> {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(body)], { type: 'image/jpeg' }), path.posix.basename(filePath));
  form.set('fileName', path.posix.basename(filePath));
  form.set('folder', path.posix.dirname(filePath));
  form.set('useUniqueFileName', 'false');
  form.set('overwriteFile', 'true');
  return fetch(`${cluster.edgeUrl}/api/v1/files/upload`, { method: 'POST', headers: auth, body: form, signal: AbortSignal.timeout(60_000) });
}

/** The file as the edge serves it: orig-true is the stored bytes as they are; a variant, its colour. */
const original = (p: string) => get(`${cluster.edgeUrl}/acme/tr:orig-true${p}`, GEO, 30_000);
const variant = (p: string) => get(`${cluster.edgeUrl}/acme/tr:w-16${p}`, { ...GEO, accept: 'image/png' }, 30_000);
async function colour(a: Answer): Promise<'red' | 'blue' | number> {
  if (a.status !== 200) return a.status;
  const { channels } = await sharp(a.body).stats();
  return channels[0]!.mean > channels[2]!.mean ? 'red' : 'blue';
}

interface Listed {
  fileId: string;
  filePath: string;
  versionInfo?: { id: string };
}
async function listed(p: string): Promise<Listed[]> {
  const res = await fetch(`${cluster.edgeUrl}/v1/files?path=${encodeURIComponent(path.posix.dirname(p))}`, { headers: auth });
  expect(res.status).toBe(200);
  return ((await res.json()) as Listed[]).filter((f) => f.filePath === p);
}

/** The home region's process is gone (it SIGKILLed itself at the crash point). */
async function homeDied(): Promise<void> {
  for (let i = 0; i < 200 && cluster.pids()[HOME] !== undefined; i++) await sleep(50);
  expect(cluster.pids()[HOME]).toBeUndefined();
}

describe('an overwrite interrupted by SIGKILL of the home region, seen through the edge', () => {
  it.each([
    // after the old bytes were copied aside as a version and the new bytes onto the file's key; the record still names v1
    ['overwrite:step-2'],
    // after the old bytes were copied aside only
    ['overwrite:step-1'],
  ])('crash at %s: after the restart the edge serves the bytes the index names (v2), not its cached v1 variant; the file is listed once and deletable', async (point) => {
    const p = `/crash-${point.replace(/\W/g, '-')}/photo.jpg`;
    expect((await upload(p, red)).status).toBe(200);
    // v1 in the edge cache: a miss, then a hit
    expect(await colour(await variant(p))).toBe('red');
    const hit = await variant(p);
    expect(await colour(hit)).toBe('red');
    expect(hit.headers.get('x-pixmesh-cache')).toBe('HIT');
    expect((await original(p)).body.equals(red)).toBe(true);

    fs.writeFileSync(crashFile, point);
    const res = await upload(p, blue).catch(() => undefined);
    expect(res?.status ?? 0).not.toBe(200); // the region died in the middle of the commit
    await res?.arrayBuffer().catch(() => undefined);
    await homeDied();
    expect(fs.existsSync(crashFile)).toBe(false); // the point was met (the hook removes the file)
    await cluster.stopRegion(HOME);
    await cluster.startRegion(HOME); // boot replays the journal: the overwrite completes, its purge reaches the edge

    // listed once; the index names v2's bytes
    let files: Listed[] = [];
    for (let i = 0; i < 50; i++) {
      files = await listed(p);
      if (files.length === 1) break;
      await sleep(200);
    }
    expect(files.length).toBe(1);
    const details = (await (await fetch(`${cluster.edgeUrl}/v1/files/${files[0]!.fileId}/details`, { headers: auth })).json()) as { size: number };
    expect(details.size).toBe(blue.length);
    // Through the edge: the replay's purge reached it (bounded wait: Purger.start waits up to 5 s
    // for the fan-out; without the edge being told, the cached v1 variant is served for days).
    let seen: 'red' | 'blue' | number = 'red';
    for (let i = 0; i < 40 && seen !== 'blue'; i++) {
      seen = await colour(await variant(p));
      if (seen !== 'blue') await sleep(250);
    }
    expect(seen).toBe('blue');
    expect((await original(p)).body.equals(blue)).toBe(true); // byte for byte what the index names
    const again = await variant(p);
    expect(await colour(again)).toBe('blue'); // and v2 is what the edge caches now
    // deletable through the edge, and then gone there too
    const del = await fetch(`${cluster.edgeUrl}/v1/files/${files[0]!.fileId}`, { method: 'DELETE', headers: auth });
    expect(del.status).toBe(204);
    expect(await listed(p)).toEqual([]);
    expect((await variant(p)).status).toBe(404);
    expect((await original(p)).status).toBe(404);
  }, 120_000);
});
