/**
 * Suite `static` (`npm run bench:static [-- --requests N]`, or `npm run bench -- --suites static`) — files other than images at the edge (workerd via Miniflare):
 *   hit    a ~100 KB JS file served br from the pixmesh worker's edge cache (parse, key, Cache API,
 *          Content-Encoding passed through) vs a bare worker returning the same cached body — the floor;
 *          the budget is ≤ 0.5 ms p50 overhead.
 *   first  the first compressed response of a file (edge MISS → a fake region that brotli-compresses
 *          the body with the origin's own compress(), as a region does once per file) vs the cached
 *          compressed response (edge HIT of the same file).
 * Targets alternate in rounds so other load on the machine hits them alike; the HIT overhead is also
 * reported per round (p50 pixmesh − p50 bare in that round) so the spread over rounds is visible.
 * Results: bench/results/static.json.
 */
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { compress } from '../../origin/src/delivery/index.js';
import { REGION_IDS } from '../../shared/regions.js';
import { keepAliveAgent, pool, timedGet } from '../lib/http.js';
import { writeSuite } from '../lib/results.js';
import { round, summarise, type LatencySummary } from '../lib/stats.js';
import { buildEdgeBundle, startEdgeWorker, startInlineWorker, type RunningWorker } from '../lib/workerd.js';

const JS = Buffer.from(
  Array.from({ length: 1500 }, (_, i) => `export function f${i}(a, b) { return a * ${i} + b - ${i % 7}; } // helper ${i}\n`).join(''),
);

async function fakeRegion(host: string, brotli: Buffer): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    if (req.url?.startsWith('/healthz')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    // Every path under /fresh/ is compressed now (a region's first compressed response); others are the cached br body.
    const body = req.url?.includes('/fresh/') ? (await compress(JS, 'br', 'text/javascript'))! : brotli;
    res.writeHead(200, {
      'content-type': 'text/javascript',
      'content-length': String(body.length),
      'cache-control': 'public, max-age=31536000',
      etag: 'W/"bench"',
      'x-pixmesh-content-encoding': 'br',
      'x-pixmesh-region': 'eu-central-1',
      'x-pixmesh-region-cache': 'HIT',
      'x-pixmesh-region-hit-ratio': '1.000',
    });
    res.end(body);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())),
  };
}

const BARE_WORKER = (b64: string) => `
const body = Uint8Array.from(atob('${b64}'), (c) => c.charCodeAt(0));
export default {
  async fetch(request, env, ctx) {
    const key = new Request(new URL(request.url).origin + new URL(request.url).pathname);
    const hit = await caches.default.match(key);
    if (hit) return new Response(hit.body, { headers: hit.headers, encodeBody: 'manual' });
    const res = new Response(body, { headers: { 'content-type': 'text/javascript', 'content-encoding': 'br', 'cache-control': 'public, max-age=31536000' }, encodeBody: 'manual' });
    ctx.waitUntil(caches.default.put(key, res.clone()));
    return res;
  },
};
`;

async function freePort(host: string): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, host, () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface StaticOptions {
  /** Requests per HIT target (split over rounds). */
  requests: number;
  rounds: number;
}

export const DEFAULT_STATIC: StaticOptions = { requests: 600, rounds: 3 };

export async function runStatic(o: StaticOptions = DEFAULT_STATIC): Promise<{ file: string }> {
  const { requests, rounds } = o;
  const host = '127.0.0.1';
  const started = new Date();
  const t0 = performance.now();
  const brotli = (await compress(JS, 'br', 'text/javascript'))!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-bench-static-'));
  let pix: RunningWorker | undefined;
  let bare: RunningWorker | undefined;
  const region = await fakeRegion(host, brotli);
  try {
    const accounts = { accounts: [{ id: 'demo', homeRegion: 'eu-central-1', privateKey: 'private_bench_demo', publicKey: 'public_bench_demo', endpoints: [{ prefix: '', origins: [{ type: 'media' }] }] }] };
    pix = await startEdgeWorker({
      scriptPath: buildEdgeBundle(path.join(dir, 'edge-bundle')),
      host,
      port: await freePort(host),
      cache: true,
      bindings: {
        PIXMESH_REGION_URLS: JSON.stringify(Object.fromEntries(REGION_IDS.map((r) => [r, region.url]))),
        PIXMESH_INTERNAL_SECRET: 'bench-static-secret-0123456789abcdef',
        PIXMESH_TRUST_GEO_HEADERS: 'true',
        PIXMESH_ACCOUNTS_JSON: JSON.stringify(accounts),
      },
    });
    bare = await startInlineWorker({ script: BARE_WORKER(brotli.toString('base64')), host, port: await freePort(host) });
    const agent = keepAliveAgent(8);
    const headers = { 'x-pixmesh-colo': 'FRA', 'accept-encoding': 'br' };
    const hitUrl = `${pix.url}/demo/assets/app.js`;
    const bareUrl = `${bare.url}/assets/app.js`;
    for (const u of [hitUrl, bareUrl]) {
      await timedGet(u, headers, agent);
      await new Promise((r) => setTimeout(r, 200));
    }
    const primed = await timedGet(hitUrl, headers, agent);
    if (primed.headers['x-pixmesh-cache'] !== 'HIT' || primed.headers['content-encoding'] !== 'br') throw new Error(`static: expected a br HIT after priming, got ${primed.headers['x-pixmesh-cache']} ${primed.headers['content-encoding']}`);
    let fresh = 0;
    const targets = {
      'pixmesh-hit': () => hitUrl,
      'bare-hit': () => bareUrl,
      'first-compressed': () => `${pix!.url}/demo/fresh/${Date.now()}-${fresh++}.js`,
    } as const;
    type T = keyof typeof targets;
    const acc = Object.fromEntries(Object.keys(targets).map((k) => [k, { lat: [] as number[], errors: 0 }])) as Record<T, { lat: number[]; errors: number }>;
    const per = Math.ceil(requests / rounds);
    const roundOverheadP50: number[] = [];
    for (let k = 0; k < rounds; k++) {
      const mark = { pix: acc['pixmesh-hit'].lat.length, bare: acc['bare-hit'].lat.length };
      for (const t of Object.keys(targets) as T[]) {
        // The first-compressed target costs a brotli-11 compression each: fewer of them.
        const n = t === 'first-compressed' ? Math.max(10, Math.ceil(per / 10)) : per;
        await pool(Array.from({ length: n }, () => targets[t]()), 1, async (url) => {
          const r = await timedGet(url, headers, agent);
          const ok = r.status === 200 && r.headers['content-encoding'] === 'br' && (t !== 'pixmesh-hit' || r.headers['x-pixmesh-cache'] === 'HIT');
          if (ok) acc[t].lat.push(r.totalMs);
          else acc[t].errors++;
        });
      }
      const p50Of = (xs: number[]) => summarise(xs).p50;
      roundOverheadP50.push(round(p50Of(acc['pixmesh-hit'].lat.slice(mark.pix)) - p50Of(acc['bare-hit'].lat.slice(mark.bare)), 3));
    }
    agent.destroy();
    const sortedRounds = [...roundOverheadP50].sort((x, y) => x - y);
    const s = (t: T): LatencySummary => summarise(acc[t].lat.map((x) => round(x, 3)));
    const results = {
      bodyBytes: JS.length,
      brotliBytes: brotli.length,
      hit: { pixmesh: s('pixmesh-hit'), bare: s('bare-hit'), overheadP50Ms: round(s('pixmesh-hit').p50 - s('bare-hit').p50, 3),
        overheadP50MsPerRound: roundOverheadP50,
        overheadP50MsSpread: { min: sortedRounds[0], max: sortedRounds[sortedRounds.length - 1] },
        budgetP50Ms: 0.5,
      },
      compressed: { first: s('first-compressed'), cached: s('pixmesh-hit'), ratioP50: round(s('first-compressed').p50 / s('pixmesh-hit').p50, 2) },
      errors: Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, v.errors])),
    };
    console.log(JSON.stringify(results, null, 2));
    const { file } = writeSuite({
      suite: 'static',
      mode: requests < 100 ? 'smoke' : 'full',
      startedAt: started.toISOString(),
      durationS: round((performance.now() - t0) / 1000, 1),
      config: { requests, rounds, concurrency: 1, loadAvg1AtEnd: round(os.loadavg()[0]!, 2) },
      results,
      notes: [
        'Node client on loopback, concurrency 1: latencies include the client and one local HTTP hop; compare pixmesh with the bare worker, not with zero.',
        'first-compressed: an edge MISS whose (fake, instant) region brotli-compresses the ~100 KB body at quality 11 with the origin code, once per new path; the real region then caches it, so this is paid once per file per region.',
      ],
    });
    return { file };
  } finally {
    await pix?.dispose().catch(() => undefined);
    await bare?.dispose().catch(() => undefined);
    await region.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
