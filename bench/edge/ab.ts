/**
 * `npx tsx bench/edge/ab.ts --a <bundle dir> [--b <bundle dir>] [--more name=dir,…] [--unchecked name,…] [--files] [--rounds 6] [--requests 1800]`
 *
 * A development A/B of the edge HIT path, not a suite (it writes no results file): bundles of the
 * edge worker (`a`, e.g. built from main with `wrangler deploy --dry-run --outdir <dir>`; `b` this
 * tree's, bundled here unless given; any `--more`) and the bare cached-body worker of the edge
 * suite, each in its own workerd, interleaved request by request at concurrency 1 (the order
 * rotated), in rounds. Per round it prints each bundle's p50 image HIT − p50 bare and − p50 of `a`
 * (`--files`: the file HIT too), then the median and min–max over rounds. The figures to report
 * come from `npm run bench:edge`; this is for telling versions apart in one run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keepAliveAgent, timedGet } from '../lib/http.js';
import { args } from '../lib/results.js';
import { percentile, round } from '../lib/stats.js';
import { buildEdgeBundle, startEdgeWorker, startInlineWorker, type RunningWorker } from '../lib/workerd.js';
import { BARE_WORKER, DEFAULT_EDGE, EDGE_HEADERS, pixmeshBindings, roundSpread, startFakeRegion } from './run.js';

const a = args();
const rounds = typeof a.rounds === 'string' ? Number(a.rounds) : 6;
const requests = typeof a.requests === 'string' ? Number(a.requests) : 1800;
if (typeof a.a !== 'string') throw new Error('ab: --a <bundle dir> (wrangler deploy --dry-run --outdir <dir>) is required');
/** Bundles whose answers are not checked for x-pixmesh-cache: HIT (experiments that return the cache's response as it is). */
const unchecked = new Set(typeof a.unchecked === 'string' ? a.unchecked.split(',') : []);
const host = '127.0.0.1';
const base = DEFAULT_EDGE.basePort + 20;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-bench-edge-ab-'));
const bundles: [string, string][] = [
  ['a', path.join(a.a, 'index.js')],
  ['b', typeof a.b === 'string' ? path.join(a.b, 'index.js') : buildEdgeBundle(path.join(dir, 'b'))],
  ...(typeof a.more === 'string' ? a.more.split(',').map((x) => x.split('=') as [string, string]).map(([n, d]) => [n, path.join(d, 'index.js')] as [string, string]) : []),
];
const workers: RunningWorker[] = [];
const fake = await startFakeRegion(host, base + 1, DEFAULT_EDGE.bodyBytes);
try {
  const urls: Record<string, string> = {};
  let port = base + 2;
  for (const [name, scriptPath] of bundles) {
    const w = await startEdgeWorker({ scriptPath, host, port: port++, cache: true, bindings: pixmeshBindings(fake.url) });
    workers.push(w);
    urls[`${name}-image`] = `${w.url}/demo/tr:w-320/hit.jpg`;
    if (a.files) urls[`${name}-file`] = `${w.url}/demo/assets/hit.js`;
  }
  const bare = await startInlineWorker({ script: BARE_WORKER(DEFAULT_EDGE.bodyBytes), host, port: port++ });
  workers.push(bare);
  urls.bare = `${bare.url}/cached/hit.jpg`;
  const agent = keepAliveAgent(8);
  for (const u of Object.values(urls)) {
    await timedGet(u, EDGE_HEADERS, agent);
    await new Promise((r) => setTimeout(r, 200));
  }
  const per = Math.ceil(requests / rounds);
  const names = Object.keys(urls);
  const diffs: Record<string, number[]> = {};
  const push = (k: string, x: number) => (diffs[k] ??= []).push(round(x, 2));
  for (let k = 0; k < rounds; k++) {
    // Request by request (the order rotated each time), so a burst of other load on the machine
    // falls on every target alike.
    const lat = Object.fromEntries(names.map((t) => [t, [] as number[]]));
    for (let i = 0; i < per; i++) {
      for (let j = 0; j < names.length; j++) {
        const t = names[(i + j + k) % names.length]!;
        const r = await timedGet(urls[t]!, EDGE_HEADERS, agent);
        if (r.error || r.status !== 200 || (t !== 'bare' && !unchecked.has(t.slice(0, t.lastIndexOf('-'))) && r.headers['x-pixmesh-cache'] !== 'HIT')) throw new Error(`ab: ${t} answered ${r.status} ${r.headers['x-pixmesh-cache'] ?? ''} ${r.error ?? ''}`);
        lat[t]!.push(r.totalMs);
      }
    }
    const p50 = (t: string) => percentile(lat[t]!, 50);
    for (const t of names.filter((x) => x !== 'bare')) {
      push(`${t} − bare`, p50(t) - p50('bare'));
      const kind = t.slice(t.lastIndexOf('-'));
      if (!t.startsWith('a-')) push(`${t} − a${kind}`, p50(t) - p50(`a${kind}`));
    }
    console.log(`round ${k + 1}: bare p50 ${p50('bare').toFixed(2)} ms; ` + Object.entries(diffs).map(([n, xs]) => `${n} ${xs.at(-1)!.toFixed(2)}`).join(', '));
  }
  agent.destroy();
  for (const [n, xs] of Object.entries(diffs)) {
    const s = roundSpread(xs);
    console.log(`${n.padEnd(22)} median ${s.median.toFixed(2)} ms (${s.min.toFixed(2)}–${s.max.toFixed(2)}) over ${rounds} rounds × ${per} requests`);
  }
} finally {
  for (const w of workers) await w.dispose().catch(() => undefined);
  await fake.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
