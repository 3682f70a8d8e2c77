/**
 * Tenant isolation under a flood of heavy renders (#12 point 7), through the real cluster (edge
 * in workerd, one region process with two transform slots). A hostile account floods
 * `cm-pad_resize,bg-blurred_<n>` renders of a large original from one client, varying n so no
 * cache helps; meanwhile a quiet account's cheap misses are timed. Measured: the quiet tenant's
 * p99 during the flood over its p99 when idle (reported in the figures file; docs/security.md).
 * Asserted only what catches starvation: every quiet request answered 200, the ratio under a
 * generous bound, the flooding client cut off at the edge by its per-client budget (429) while
 * another client of the same account is still served.
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
    originEnv: { PIXMESH_TRANSFORM_CONCURRENCY: '2' },
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
      hostileRequests: hostile.length,
      hostileAnswers: counts,
      edgeClientCutOffs: edgeCutOff,
      transformSlots: 2,
      clientBudgetMs: CLIENT_BUDGET_MS,
      load1: Number(os.loadavg()[0]!.toFixed(1)),
    });

    expect(during.map((a) => a.status)).toEqual(Array(30).fill(200));
    // Starvation (the quiet tenant queued behind the flood) is tens of seconds or timeouts; a shared
    // slot makes it wait one heavy render at most. Generous: a loaded 2-core machine shares its CPU too.
    expect(ratio).toBeLessThan(50);
    expect(floodP99).toBeLessThan(15_000);
    expect(edgeCutOff).toBeGreaterThan(0);
    expect(other.status).toBe(200);
  }, 300_000);
});
