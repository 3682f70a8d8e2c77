/**
 * Where one origin's CPU goes per cold request, by thread (diagnostic, not a benchmark of record):
 * boots s3rver + one region as the transform bench does, measures its main thread (the event
 * loop) and all its threads idle for `--idle` seconds, then while `--n` cold requests (each a new
 * width, presigned, `--c` in flight) are served. PIXMESH_BENCH_ORIGIN_ENV adds origin settings, so
 * one component can be switched off at a time.
 * Each batch also prints the CPU per request by thread name (`--by-tid`: by thread).
 * `npx tsx bench/transform/origin-cpu.ts [--case jpeg-320 --n 200 --c 1 --idle 5 --base-port 9740 --perf <file> --by-tid]`
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { H } from '../../shared/headers.js';
import { internalRequest } from '../../shared/internal-fetch.js';
import { putObjects, startCluster } from '../../scripts/cluster.js';
import { keepAliveAgent, timedGet } from '../lib/http.js';
import { pidListeningOn } from '../lib/machine.js';
import { args } from '../lib/results.js';
import { percentile } from '../lib/stats.js';
import { CASES, originTr } from './cases.js';
import { cpuMsByThreadName, cpuMsOf } from './cpu.js';
import { makeInput } from './run.js';

const a = args();
const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
const c = CASES.find((x) => x.id === (a.case ?? 'jpeg-320'))!;
const n = num('n', 200);
const conc = num('c', 1);
const base = num('base-port', 9740);
const host = '127.0.0.1';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-origin-cpu-'));
const accountsFile = path.join(dir, 'accounts.json');
fs.writeFileSync(accountsFile, JSON.stringify({ accounts: [{ id: 'tput', homeRegion: 'eu-central-1', privateKey: 'private_bench_tput', publicKey: 'public_bench_tput', endpoints: [{ prefix: '', origins: [{ type: 's3', bucket: 'bench-originals', endpoint: `http://${host}:${base}`, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }] }] }] }));
const cluster = await startCluster({
  dataDir: path.join(dir, 'cluster'), accountsFile, host, s3Port: base, edgePort: base + 87, regionPorts: { 'eu-central-1': base + 3 }, regions: ['eu-central-1'],
  logs: { dir: path.join(dir, 'logs') }, buckets: ['bench-originals'], edge: false,
  originEnv: process.env.PIXMESH_BENCH_ORIGIN_ENV ? (JSON.parse(process.env.PIXMESH_BENCH_ORIGIN_ENV) as Record<string, string>) : {},
});
try {
  await putObjects(cluster.s3Url, 'bench-originals', [{ key: 'a.jpg', body: await makeInput(), contentType: 'image/jpeg' }]);
  const pid = pidListeningOn(base + 3)!;
  const url = cluster.regionUrls['eu-central-1'];
  const sign = async ([w, batch]: [number, number]) => {
    const pathAndQuery = `/internal/render/tput/tr:${originTr(c.format, w)}/a.jpg?batch=${batch}`;
    const h = new Headers({ [H.format]: c.format, [H.signed]: 'false', [H.requestId]: randomUUID() });
    return { url: url + pathAndQuery, headers: Object.fromEntries((await internalRequest({ secret: cluster.internalSecret, baseUrl: url, target: 'eu-central-1', pathAndQuery, headers: h })).headers) };
  };
  const agent = keepAliveAgent(4);
  const run = async (widths: [number, number][]) => {
    const reqs = await Promise.all(widths.map(sign));
    const lat: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: conc }, async () => {
      while (next < reqs.length) {
        const r = reqs[next++]!;
        const t = await timedGet(r.url, r.headers, agent, 60_000);
        if (t.status !== 200) throw new Error(`status ${t.status}`);
        lat.push(t.totalMs);
      }
    }));
    return lat;
  };
  await run([[c.width + 400, -1], [c.width + 401, -1], [c.width + 402, -1]]);
  await new Promise((r) => setTimeout(r, 1500));
  const idleS = num('idle', 5);
  const i0 = [cpuMsOf(pid, pid)!, cpuMsOf(pid)!];
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const i1 = [cpuMsOf(pid, pid)!, cpuMsOf(pid)!];
  // --perf <file>: Linux perf samples the main thread while it serves (with NODE_OPTIONS=--perf-basic-prof in the origin's env, JS frames get names).
  const perf = typeof a.perf === 'string' ? spawn('perf', ['record', '-F', '999', '-g', '-t', String(pid), '-o', a.perf], { stdio: 'ignore' }) : undefined;
  if (perf) await new Promise((r) => setTimeout(r, 500));
  const idleLoop = (i1[0]! - i0[0]!) / idleS;
  const idleAll = (i1[1]! - i0[1]!) / idleS;
  console.log(`${c.id} c${conc}, ${num('batches', 1)} × ${n} cold requests, load ${os.loadavg()[0]!.toFixed(2)}; idle: main thread ${idleLoop.toFixed(1)} ms/s, all threads ${idleAll.toFixed(1)} ms/s`);
  // --batches B: the same origin process serves B batches in a row (how the per-request cost changes as its JIT warms up).
  for (let b = 0; b < num('batches', 1); b++) {
    const t0 = performance.now();
    const b0 = [cpuMsOf(pid, pid)!, cpuMsOf(pid)!];
    const t0s = cpuMsByThreadName(pid, a['by-tid'] !== undefined);
    const lat = await run(Array.from({ length: n }, (_, i): [number, number] => [c.width - 100 + (i % 200), b * 1000 + Math.floor(i / 200)]));
    const b1 = [cpuMsOf(pid, pid)!, cpuMsOf(pid)!];
    const t1s = cpuMsByThreadName(pid, a['by-tid'] !== undefined);
    const wall = (performance.now() - t0) / 1000;
    console.log(`  batch ${b + 1}: ${(n / wall).toFixed(1)} ops/s, p50 ${percentile(lat, 50).toFixed(1)} ms; main thread ${((b1[0]! - b0[0]!) / n).toFixed(2)} ms/op (less idle rate ${((b1[0]! - b0[0]! - idleLoop * wall) / n).toFixed(2)}), all threads ${((b1[1]! - b0[1]!) / n).toFixed(2)} ms/op (less idle ${((b1[1]! - b0[1]! - idleAll * wall) / n).toFixed(2)})`);
    // By thread name (threads that ended during the batch are missing from the sum).
    console.log(`    by thread, ms/op: ${Object.entries(t1s).map(([k, v]) => [k, (v - (t0s[k] ?? 0)) / n] as const).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
  }
  if (perf) {
    perf.kill('SIGINT');
    await new Promise((r) => perf.once('exit', r));
  }
  agent.destroy();
} finally {
  await cluster.stop().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
}
