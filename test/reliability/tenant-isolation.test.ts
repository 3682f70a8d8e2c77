/**
 * Tenant isolation under a flood of heavy renders (#12 point 7), through the real cluster (edge
 * in workerd, one region process with two transform slots). A hostile account floods
 * `cm-pad_resize,bg-blurred_<n>` renders of a large original from one client, varying n so no
 * cache helps; meanwhile a quiet account's cheap misses are timed. Measured: the quiet tenant's
 * p99 during the flood over its p99 when idle (reported in the figures file; docs/security.md).
 * Asserted only what catches starvation: every quiet request answered 200, the quiet p99 during
 * the flood under idle p99 + 3 heavy renders (one measured alone in the same run), the flooding client cut off at the edge by its per-client budget (429) while
 * another client of the same account is still served.
 *
 * The same cluster carries the issue's other tenant-facing classes end to end: uploads over an
 * account's share answered 429 + Retry-After through the edge (class 6, was a 502), cache keys
 * that must not collide at the edge (class 1), library paths over the store's limits (class 9).
 */
import os from 'node:os';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePortBase } from '../origin/helpers.js';
import { get, localServer, recordFigures, sleep, type Answer, type LocalServer } from './harness.js';

const BASE = await freePortBase(96);
const WEB_PORT = BASE + 10;
const web = (id: string) => ({
  id,
  homeRegion: 'eu-central-1',
  privateKey: `private_${id}`,
  endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: `http://127.0.0.1:${WEB_PORT}/img`, allowPrivateNetwork: true }] }],
});
const GEO = { 'x-pixmesh-colo': 'FRA', 'x-pixmesh-lat': '50.1', 'x-pixmesh-lon': '8.7', 'x-pixmesh-country': 'DE' };
/** Region time one client may spend per minute on one account's misses (edge/src/client-budget.ts). */
const CLIENT_BUDGET_MS = 15_000;

let cluster: TestCluster;
let origin: LocalServer;

beforeAll(async () => {
  const big = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#884422', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
  const small = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#2266aa' } }).jpeg().toBuffer();
  origin = await localServer((req, res) => {
    const body = req.url?.startsWith('/img/big') ? big : small;
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(body.length) }).end(body);
  }, '127.0.0.1', WEB_PORT);
  cluster = await startTestCluster(BASE, { accounts: [web('hostile'), web('quiet')] }, {
    regions: ['eu-central-1'],
    originEnv: { PIXMESH_TRANSFORM_CONCURRENCY: '2', PIXMESH_UPLOAD_PER_ACCOUNT: '1' },
    edgeEnv: { PIXMESH_CLIENT_BUDGET_MS: String(CLIENT_BUDGET_MS) },
  });
});

afterAll(async () => {
  await stopTestCluster(cluster);
  await origin?.close();
});

const p99 = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)]!;
};

/** `n` cheap misses of the quiet account (two at a time), each a size never asked before. */
async function quietRun(from: number, n: number): Promise<Answer[]> {
  const out: Answer[] = [];
  let next = from;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < from + n) {
        const w = 100 + next++;
        out.push(await get(`${cluster.edgeUrl}/quiet/tr:w-${w}/small.jpg`, { ...GEO, 'x-pixmesh-client': 'quiet-client', accept: 'image/jpeg' }, 30_000));
      }
    }),
  );
  return out;
}

describe('a hostile tenant flooding heavy renders', () => {
  it("leaves the quiet tenant's p99 bounded (no starvation) and is cut off per client at the edge", async () => {
    // warm-up: both originals fetched once, the region's first renders done
    expect((await get(`${cluster.edgeUrl}/quiet/tr:w-99/small.jpg`, GEO, 60_000)).status).toBe(200);
    expect((await get(`${cluster.edgeUrl}/hostile/tr:w-98/big.jpg`, { ...GEO, 'x-pixmesh-client': 'warm' }, 60_000)).status).toBe(200);

    const idle = await quietRun(0, 30);
    expect(idle.map((a) => a.status)).toEqual(Array(30).fill(200));
    // One heavy render alone (a client of its own, a variant the flood never asks): the unit the
    // starvation bound below is counted in, measured on this machine in this run.
    const alone = await get(`${cluster.edgeUrl}/hostile/tr:w-2400,h-2400,cm-pad_resize,bg-blurred_9/big.jpg`, { ...GEO, 'x-pixmesh-client': 'probe' }, 60_000);
    expect(alone.status).toBe(200);
    const heavyMs = alone.ms;

    let flooding = true;
    let n = 0;
    const hostile: Answer[] = [];
    const floods = Array.from({ length: 6 }, async () => {
      while (flooding) {
        const a = await get(`${cluster.edgeUrl}/hostile/tr:w-2400,h-2400,cm-pad_resize,bg-blurred_${(n++ % 90) + 10}/big.jpg`, { ...GEO, 'x-pixmesh-client': 'attacker' }, 30_000);
        hostile.push(a);
        if (a.status !== 200) await sleep(20);
      }
    });
    await sleep(1500); // the flood holds the region's slots now
    const during = await quietRun(30, 30);
    flooding = false;
    await Promise.all(floods);

    const counts: Record<string, number> = {};
    for (const a of hostile) counts[`${a.status}${a.code ? ` ${a.code}` : ''}`] = (counts[`${a.status}${a.code ? ` ${a.code}` : ''}`] ?? 0) + 1;
    const edgeCutOff = hostile.filter((a) => a.status === 429 && a.body.toString().includes("this client's share")).length;
    // another client of the hostile account is not in the attacker's debt
    const other = await get(`${cluster.edgeUrl}/hostile/tr:w-97/big.jpg`, { ...GEO, 'x-pixmesh-client': 'someone-else' }, 60_000);

    const idleP99 = p99(idle.map((a) => a.ms));
    const floodP99 = p99(during.map((a) => a.ms));
    const ratio = floodP99 / idleP99;
    recordFigures('tenantIsolation', {
      idleP99Ms: Math.round(idleP99),
      floodP99Ms: Math.round(floodP99),
      p99Ratio: Number(ratio.toFixed(2)),
      heavyRenderAloneMs: Math.round(heavyMs),
      hostileRequests: hostile.length,
      hostileAnswers: counts,
      edgeClientCutOffs: edgeCutOff,
      transformSlots: 2,
      clientBudgetMs: CLIENT_BUDGET_MS,
      load1: Number(os.loadavg()[0]!.toFixed(1)),
    });

    expect(during.map((a) => a.status)).toEqual(Array(30).fill(200));
    // Starvation is the quiet tenant queued behind the flood's queue: six heavy requests in flight on
    // two slots put a FIFO newcomer behind ≈ 3 heavy renders plus the ones running. Fair queuing lets
    // it wait for one running heavy render at most. The bound sits between the two, in heavy renders
    // measured alone in this run (so it holds on a quiet or a loaded machine alike); the p99 ratio over
    // idle is reported, not asserted (idle p99 is a cheap render, so the ratio swings with machine speed).
    expect(floodP99).toBeLessThan(idleP99 + 3 * heavyMs);
    expect(floodP99).toBeLessThan(25_000); // a hang bound: past the edge's 20 s deadline the status check fails first
    expect(edgeCutOff).toBeGreaterThan(0);
    expect(other.status).toBe(200);
  }, 300_000);
});

const auth = (id: string) => ({ authorization: `Basic ${Buffer.from(`private_${id}:`).toString('base64')}` });
async function uploadViaEdge(id: string, fileName: string, body: Buffer): Promise<Answer> {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(body)], { type: 'image/jpeg' }), fileName);
  form.set('fileName', fileName);
  form.set('useUniqueFileName', 'false');
  const t0 = performance.now();
  const res = await fetch(`${cluster.edgeUrl}/api/v1/files/upload`, { method: 'POST', headers: auth(id), body: form, signal: AbortSignal.timeout(60_000) });
  const ik = res.headers.get('ik-error');
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()), ms: performance.now() - t0, code: ik ? ik.split(' - ')[0]!.trim() : null };
}

describe('the issue\'s other tenant classes through the edge', () => {
  it('uploads over the account\'s share (one in flight here) are 429 EBUSY with Retry-After at the client, not 502; the others 200', async () => {
    const photo = await sharp({ create: { width: 2000, height: 1500, channels: 3, background: '#552211', noise: { type: 'gaussian', mean: 120, sigma: 50 } } }).jpeg().toBuffer();
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => uploadViaEdge('hostile', `burst-${i}.jpg`, photo)));
    const statuses = answers.map((a) => a.status).sort();
    // 429 is the account's share; a 503 EBUSY + Retry-After is the region's slot wait cap (10 s), met
    // when the previous test's heavy renders still hold the slots. Both are busy answers; a 502 is not.
    const busy = (a: (typeof answers)[number]) => (a.status === 429 || a.status === 503) && a.code === 'EBUSY' && Number(a.headers.get('retry-after')) > 0;
    expect(answers.filter((a) => a.status !== 200 && !busy(a)).map((a) => `${a.status} ${a.code}`)).toEqual([]);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) {
      expect(a.code).toBe('EBUSY');
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toContain(200);
    // the quiet account's upload is not held by the hostile one's share
    expect((await uploadViaEdge('quiet', 'mine.jpg', photo)).status).toBe(200);
  });

  it.each([
    ['tr:w-auto,h-300,ar-4-1', 'tr:w-auto,h-300'],
    ['tr:cm-extract,w-200,h-150,dpr-0.5', 'tr:cm-extract,w-200,h-150'],
  ])('%s and %s, both through the edge in either order, keep their own sizes (no shared key)', async (a, b) => {
    const facts = async (tr: string) => {
      const r = await get(`${cluster.edgeUrl}/quiet/${tr}/big.jpg`, { ...GEO, accept: 'image/jpeg' }, 60_000);
      expect(r.status).toBe(200);
      const m = await sharp(r.body).metadata();
      return `${m.width}x${m.height}`;
    };
    const first = await facts(a);
    const second = await facts(b);
    expect(second).not.toBe(first);
    expect(await facts(a)).toBe(first); // and the first is still its own, from the cache
  });

  it('rename to a name over the store limit through the edge: 400 naming the limit, the file still there', async () => {
    const photo = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#123456' } }).jpeg().toBuffer();
    expect((await uploadViaEdge('quiet', 'keep.jpg', photo)).status).toBe(200);
    const res = await fetch(`${cluster.edgeUrl}/v1/files/rename`, {
      method: 'PUT',
      headers: { ...auth('quiet'), 'content-type': 'application/json' },
      body: JSON.stringify({ filePath: '/keep.jpg', newFileName: `${'n'.repeat(230)}.jpg` }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('ik-error') ?? '').toContain('may be at most 200 bytes');
    const list = (await (await fetch(`${cluster.edgeUrl}/v1/files?name=keep.jpg`, { headers: auth('quiet') })).json()) as { filePath: string }[];
    expect(list.map((f) => f.filePath)).toEqual(['/keep.jpg']);
  });
});
