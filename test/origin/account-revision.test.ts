/**
 * Each process reloads the account file on its own, so for a moment two regions can hold two
 * revisions of one account (shared/cache-key.ts accountKeyRevision). A region must not store the
 * home region's answer under its own key when home rendered it under another revision — else the
 * old defaults' bytes would sit under the new defaults' key. Real processes over loopback.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountKeyRevision } from '../../shared/cache-key.js';
import { validateAccountFile } from '../../shared/accounts.js';
import type { RegionId } from '../../shared/regions.js';
import { serveBytes, signedFetch, spawnOrigin, startOriginServer, startRegions, stopRegions, testJpeg, type OriginServer, type Regions, type SpawnedOrigin } from './helpers.js';

const HOME: RegionId = 'eu-central-1';
const EAST: RegionId = 'us-east-1';
let regions: Regions & { basePort: number };
let web: OriginServer;
let lagging: SpawnedOrigin;

const fileWith = (webUrl: string, quality: number) => ({
  accounts: [
    {
      id: 'acme',
      homeRegion: HOME,
      privateKey: 'private_acme',
      defaults: { quality },
      endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: `${webUrl}/img`, allowPrivateNetwork: true }] }],
    },
  ],
});
const revOf = (file: unknown) => accountKeyRevision(validateAccountFile(file)[0]!);
const render = (base: string, p: string) => signedFetch(base, regions.internalSecret, `/internal/render/acme/${p}`, { headers: { 'x-pixmesh-format': 'jpeg' } });

beforeAll(async () => {
  web = await startOriginServer('127.0.0.1');
  web.route('/img/a.jpg', serveBytes(await testJpeg(320, 240), 'image/jpeg'));
  regions = await startRegions('auto', () => fileWith(web.url, 80), [HOME, EAST]);
  // ap-south-1 already has the account file of quality 20; home still has 80.
  const newer = path.join(regions.dataDir, 'accounts-q20.json');
  fs.writeFileSync(newer, JSON.stringify(fileWith(web.url, 20)));
  lagging = await spawnOrigin(regions, 'ap-south-1', regions.basePort + 23, { PIXMESH_ACCOUNTS: newer });
}, 120_000);

afterAll(async () => {
  lagging?.child.kill('SIGTERM');
  await lagging?.exited;
  await stopRegions(regions);
  await web?.close();
});

describe('account revisions between regions', () => {
  it('every image answer names the account revision it was rendered under', async () => {
    const res = await render(regions.regionUrls[HOME], 'tr:w-40/a.jpg');
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-account-rev')).toBe(revOf(fileWith(web.url, 80)));
  });

  it("a region on another revision than home passes home's answer on (with home's revision) but does not store it", async () => {
    const [homeRev, ownRev] = [revOf(fileWith(web.url, 80)), revOf(fileWith(web.url, 20))];
    expect(homeRev).not.toBe(ownRev);
    for (let i = 0; i < 2; i++) {
      const res = await render(lagging.url, 'tr:w-50/a.jpg');
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      expect(res.headers.get('x-pixmesh-region-cache')).toBe('MISS');
      expect(res.headers.get('x-pixmesh-account-rev')).toBe(homeRev);
      expect(res.headers.get('server-timing')).toContain(`account-rev;desc="${homeRev} not ${ownRev}"`);
    }
  });

  it('a region on the same revision as home stores the forwarded answer (control): the next call is its HIT', async () => {
    const first = await render(regions.regionUrls[EAST], 'tr:w-50/a.jpg');
    await first.arrayBuffer();
    expect(first.headers.get('x-pixmesh-region-cache')).toBe('MISS');
    const deadline = Date.now() + 10_000;
    let state: string | null = null;
    // The store happens behind the response: poll briefly for it.
    while (state !== 'HIT' && Date.now() < deadline) {
      const again = await render(regions.regionUrls[EAST], 'tr:w-50/a.jpg');
      await again.arrayBuffer();
      state = again.headers.get('x-pixmesh-region-cache');
    }
    expect(state).toBe('HIT');
  });
});
