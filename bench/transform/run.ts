/**
 * Suite 2 — transform throughput, one machine, one run, three engines doing the same work:
 *   origin  one pixmesh region origin over HTTP (signed internal render call, original in S3)
 *   raw     a raw sharp loop in its own process (the upper bound: no HTTP, no cache, no S3)
 *   ipx     ipx over HTTP (its own pinned sharp), original on local disk, no result cache
 * Cases: JPEG → JPEG / WebP / AVIF at 720 and 320 px wide. Workloads:
 *   cold      every request a new variant (distinct width): per-request overhead against raw sharp
 *   repeated  Zipf over a few hundred variants: what the region cache + coalescing buy (ipx caches nothing).
 *             Every round replays the whole Zipf sequence on a cache identity of its own (the origin
 *             starts each round cold and ends it at the workload's hit ratio), so rounds are alike and
 *             their spread is noise, not the cache warming: with the sequence cut into consecutive
 *             slices, round 1 held most of the misses (origin / ipx 3.2× → 13.7× over the rounds).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { H } from '../../shared/headers.js';
import { internalRequest } from '../../shared/internal-fetch.js';
import { putObjects, startCluster, type Cluster } from '../../scripts/cluster.js';
import { keepAliveAgent, timedGet } from '../lib/http.js';
import { pidListeningOn } from '../lib/machine.js';
import { hashSeed, Rng, Zipf } from '../lib/prng.js';
import { ROOT, writeSuite } from '../lib/results.js';
import { percentile, round, summarise } from '../lib/stats.js';
import { CASES, ENCODER, ipxModifiers, originTr, type Case } from './cases.js';
import { contextSwitchesOf, cpuMsOf, cpuSplitMsOf } from './cpu.js';
import { ORIGIN_NODE_ARGS } from '../../scripts/origin-build.mjs';
// The client signs internal calls with node:crypto as the origin does (the same signatures; it plugs
// itself into shared/internal-auth.ts): ≈ 44 µs per hit call signed instead of ≈ 104 with WebCrypto.
import '../../origin/src/internal-auth.js';

export type Engine = 'origin' | 'raw' | 'ipx';
export type Workload = 'cold' | 'repeated';

export interface TransformOptions {
  mode: 'full' | 'smoke';
  seed: number;
  concurrency: number;
  /** Requests per (engine, case) in the cold workload. */
  coldRequests: number;
  /** Requests per (engine, case) in the repeated workload, over `variants` distinct variants. */
  repeatedRequests: number;
  variants: number;
  zipfS: number;
  cases: string[];
  /** Cases of the repeated workload (default: all of `cases`), e.g. the issue's long Zipf run on jpeg-720 only. */
  repeatedCases?: string[];
  /** Bound per measurement, seconds. */
  maxSeconds: number;
  /** Engines alternate in this many rounds per measurement. */
  rounds: number;
  /** Concurrencies of the cold workload (the repeated one runs at `concurrency`). */
  coldConcurrency: number[];
  /**
   * The hit-path comparison (origin region-cache hit vs a bare Node server); 0 skips it. Requests of
   * each side's untimed warm-up round, and the fewest of a timed round (see hitSeconds).
   */
  hitRequests: number;
  /**
   * How long a timed hit round lasts on the faster side, about (s): a round is max(hitRequests,
   * the faster side's warm-up rate × 1.25 × hitSeconds) requests, signed before the round, sent to the
   * origin and then, the same bytes, to the bare server. (2,000 requests were 0.13–0.45 s: one
   * round's ratio was a slice of the machine, ± 0.1–0.15: docs/benchmarks.md "Round 8 (hit path own work".)
   * Default 1: with 2 the origin held ≈ 67,000 nonces of the hit part in its 30-s window when the
   * burst of 64 came, and its peak RSS passed 200 MB (201.6 MB at 11:40 UTC: ≈ 110 bytes per nonce).
   */
  hitSeconds: number;
  /**
   * Profile the hit part's timed windows only: the origin and the bare server each write a V8 CPU
   * profile per timed round into this directory (`<pid>-<round>.cpuprofile`, bench/lib/cpu-profile.mjs
   * started and stopped by SIGUSR2; `tsx bench/profile-summary.ts` reads them).
   */
  hitProfileDir?: string;
  /** Bursts of this many concurrent cold requests (memory and the bounded queue under pressure); [] skips them. */
  pressure: number[];
  /** Images per (libvips threads × transform slots) point of the raw sweep; 0 skips it. */
  sweepImages: number;
  basePort: number;
  outDir?: string;
  log: (m: string) => void;
}

export const DEFAULT_TRANSFORM: TransformOptions = {
  mode: 'full',
  seed: 11,
  concurrency: 2,
  coldRequests: 45,
  repeatedRequests: 150,
  variants: 300,
  zipfS: 1.0,
  cases: CASES.map((c) => c.id),
  maxSeconds: 15,
  rounds: 3,
  coldConcurrency: [1, 2],
  hitRequests: 300,
  hitSeconds: 1,
  pressure: [64, 160],
  sweepImages: 12,
  basePort: 9540,
  log: (m) => console.log(m),
};

export interface Measurement {
  engine: Engine;
  case: string;
  workload: Workload;
  /** Requests in flight. */
  concurrency?: number;
  requests: number;
  errors: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  meanBytes: number;
  peakRssMb: number | null;
  /** Mean 1-minute load average while measured (2 = both cores busy); anything above the bench's own load is other work. */
  loadAvg1?: number;
  /** CPU time (user + system) of the serving process per answered request, ms (all its threads: libvips, the event loop, I/O). */
  cpuMsPerOp?: number;
  /** The part of cpuMsPerOp spent on the process's main thread (the event loop: HTTP, routing, JS, dispatching I/O), ms. */
  loopCpuMsPerOp?: number;
  /** origin only: share of answers from the region cache. */
  regionHitRatio?: number;
  /** origin only: p50 per Server-Timing stage (ms; `client-proc` = client time minus the origin's own `proc`). */
  stages?: Record<string, number>;
}

export interface TransformResults {
  input: { width: number; height: number; bytes: number; description: string };
  encoder: typeof ENCODER;
  ipxDifferences: string[];
  measurements: Measurement[];
  /** Per case, workload and concurrency: origin and ipx ops/s as a share of raw sharp, and origin / ipx; with the spread of origin/raw over the rounds. */
  ratios: {
    case: string;
    workload: Workload;
    concurrency?: number;
    originVsRaw: number | null;
    ipxVsRaw: number | null;
    originVsIpx: number | null;
    /** origin / raw per round (each round interleaves the engines), min and max. */
    originVsRawRounds?: { min: number; max: number };
    originVsIpxRounds?: { min: number; max: number };
    /** Mean output bytes, origin / raw (same encoder settings: ≈ 1). */
    bytesVsRaw?: number | null;
  }[];
  /** A region-cache hit of the origin vs a bare Node HTTP server returning the same bytes from memory. */
  hitPath?: HitPathResult;
  /** Bursts of concurrent cold requests. */
  pressure?: PressureResult[];
  /** Raw sharp loop: ops/s per libvips threads × transform slots. */
  threadSweep?: { case: string; vipsThreads: number; slots: number; opsPerSec: number; loadAvg1: number }[];
}

export interface HitPathResult {
  case: string;
  bytes: number;
  rounds: number;
  byConcurrency: {
    concurrency: number;
    /** cpuUsPerOp: CPU time (user + system, all threads) the serving process used per answer, µs; loopCpuUsPerOp: its main thread's (the event loop). */
    origin: { opsPerSec: number; p50: number; p99: number; regionHitRatio: number; errors: number; cpuUsPerOp?: number; loopCpuUsPerOp?: number };
    bare: { opsPerSec: number; p50: number; p99: number; errors: number; cpuUsPerOp?: number; loopCpuUsPerOp?: number };
    originVsBare: number;
    originVsBareRounds: { min: number; max: number };
    /** Requests per timed round (each side answers the same ones: max(hitRequests, the faster side's warm-up rate × 1.25 × hitSeconds)). */
    requestsPerRound?: number;
    /** Per timed round (in order): origin / bare throughput, each side's seconds, and each side's CPU per answer, µs (all threads; main thread). */
    perRound?: { originVsBare: number; originSeconds?: number; bareSeconds?: number; originCpuUs?: number; bareCpuUs?: number; originLoopUs?: number; bareLoopUs?: number; originPreemptedPerAnswer?: number; barePreemptedPerAnswer?: number; originLoopSystemUs?: number; bareLoopSystemUs?: number }[];
    loadAvg1: number;
  }[];
}

export interface PressureResult {
  concurrent: number;
  /** What the origin promises one account at once: transform slots + half the waiting places (the rest get 503 EBUSY + Retry-After). */
  bound: number;
  ok: number;
  busyWithRetryAfter: number;
  otherErrors: number;
  wallMs: number;
  p50: number;
  p99: number;
  peakRssMb: number | null;
  loadAvg1: number;
}

/** A photo-like 2725×2225 JPEG q90 (sharp's own benchmark size): gradient + shapes + film grain. */
export async function makeInput(): Promise<Buffer> {
  const w = 2725;
  const h = 2225;
  const rng = new Rng(hashSeed('transform-input'));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#5b8cc9"/><stop offset="1" stop-color="#2d4a2b"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>${Array.from({ length: 40 }, () => `<ellipse cx="${rng.int(w)}" cy="${rng.int(h)}" rx="${30 + rng.int(400)}" ry="${30 + rng.int(300)}" fill="hsl(${rng.int(360)},50%,${30 + rng.int(50)}%)" fill-opacity="0.7"/>`).join('')}</svg>`;
  const base = await sharp(Buffer.from(svg)).blur(3).raw().toBuffer({ resolveWithObject: true });
  const noise = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 4 } } }).raw().toBuffer();
  const px = base.data;
  const ch = base.info.channels;
  for (let i = 0, j = 0; i < px.length; i += ch, j += 3) {
    for (let c = 0; c < 3; c++) px[i + c] = Math.max(0, Math.min(255, px[i + c]! + (noise[j + c]! - 128)));
  }
  return sharp(px, { raw: { width: w, height: h, channels: ch } }).removeAlpha().jpeg({ quality: 90 }).toBuffer();
}

/** Widths for a case and workload: distinct (cold) or Zipf over a fixed set (repeated). */
function widthsFor(o: TransformOptions, c: Case, workload: Workload, pass = 0): { warmup: number[]; widths: number[] } {
  const lo = c.width - Math.floor(o.variants / 2);
  const warmup = [c.width + 400, c.width + 401, c.width + 402];
  // Each cold pass (one per concurrency) gets widths of its own: every request a new variant.
  if (workload === 'cold') return { warmup, widths: Array.from({ length: o.coldRequests }, (_, i) => lo + pass * o.coldRequests + i) };
  const rng = new Rng(hashSeed(o.seed, c.id, 'repeated'));
  const z = new Zipf(o.variants, o.zipfS);
  // Shuffle which width gets which popularity rank, deterministically.
  const set = Array.from({ length: o.variants }, (_, i) => lo + i);
  for (let i = set.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [set[i], set[j]] = [set[j]!, set[i]!];
  }
  return { warmup, widths: Array.from({ length: o.repeatedRequests }, () => set[z.sample(rng)]!) };
}

function resetPeak(pid: number | undefined): void {
  if (!pid) return;
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    /* unavailable */
  }
}
function peakOf(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /^VmHWM:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}


/** Drive an HTTP engine with `concurrency` requests in flight. */
async function drive(
  urls: { url: string; headers: () => Promise<Record<string, string>> }[],
  concurrency: number,
  maxSeconds: number,
  /** Sign every request before the clock starts (the hit path, where signing would be a visible share of the client's time). */
  presign = false,
): Promise<{ latencies: number[]; wallMs: number; bytes: number; errors: number; hits: number; stages: Record<string, number[]>; statuses: number[] }> {
  const agent = keepAliveAgent(concurrency * 2);
  const signed = presign ? await Promise.all(urls.map((u) => u.headers())) : undefined;
  const statuses: number[] = [];
  const lat: number[] = [];
  const stages: Record<string, number[]> = {};
  let bytes = 0;
  let errors = 0;
  let hits = 0;
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + maxSeconds * 1000;
  const worker = async () => {
    while (next < urls.length && performance.now() < deadline) {
      const i = next++;
      const u = urls[i]!;
      const r = await timedGet(u.url, signed ? signed[i]! : await u.headers(), agent, 60_000);
      statuses.push(r.error ? 0 : r.status);
      if (r.error || r.status !== 200) errors++;
      else {
        lat.push(r.totalMs);
        bytes += r.bytes;
        if (r.headers[H.regionCache] === 'HIT') hits++;
        const st = r.headers['server-timing'];
        if (typeof st === 'string') for (const [name, ms] of Object.entries(stageTimes(st, r.totalMs))) (stages[name] ??= []).push(ms);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - t0;
  agent.destroy();
  return { latencies: lat, wallMs, bytes, errors, hits, stages, statuses };
}

/** Server-Timing → ms per stage name (same-name entries summed), plus `client-proc`: the client's time outside the origin's `proc`. */
export function stageTimes(header: string, clientMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of header.split(',')) {
    const m = /^\s*([\w-]+)(?:;dur=([\d.]+))?/.exec(part);
    if (!m || m[2] === undefined) continue;
    out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  if (out.proc !== undefined) out['client-proc'] = Math.max(0, clientMs - out.proc);
  return out;
}

function measurement(engine: Engine, c: Case, workload: Workload, concurrency: number, r: { latencies: number[]; wallMs: number; bytes: number; errors: number; hits?: number; stages?: Record<string, number[]> }, peak: number | null): Measurement {
  const s = summarise(r.latencies);
  const stages = r.stages && Object.keys(r.stages).length ? Object.fromEntries(Object.entries(r.stages).map(([k, v]) => [k, round(percentile(v, 50), 2)])) : undefined;
  return {
    engine,
    case: c.id,
    workload,
    concurrency,
    requests: r.latencies.length + r.errors,
    errors: r.errors,
    opsPerSec: round(r.latencies.length / (r.wallMs / 1000), 2),
    p50: s.p50,
    p99: s.p99,
    meanBytes: Math.round(r.bytes / Math.max(1, r.latencies.length)),
    peakRssMb: peak,
    ...(engine === 'origin' ? { regionHitRatio: round((r.hits ?? 0) / Math.max(1, r.latencies.length), 3), stages } : {}),
  };
}

function waitForLine(child: ChildProcess, what: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}`));
    });
  });
}

const tsx = (script: string, argv: string[], stdin: 'ignore' | 'pipe' = 'ignore', nodeArgs: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...argv], {
    cwd: ROOT,
    env: { ...process.env, UV_THREADPOOL_SIZE: '4', MALLOC_ARENA_MAX: '2', ...env },
    stdio: [stdin, 'pipe', 'inherit'],
  });

/** Starts or stops (every other call) the CPU profile of a process started with profileEnv(dir, true), and gives its handler time to run. */
async function profileSignal(pid: number): Promise<void> {
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 100));
}

/** The settings that make a server write a V8 CPU profile into `dir` (bench/lib/cpu-profile.mjs): of its whole life, or between two SIGUSR2. */
const profileEnv = (dir: string, onSignal: boolean): Record<string, string> => ({
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${path.join(ROOT, 'bench/lib/cpu-profile.mjs')}`.trim(),
  PIXMESH_CPU_PROFILE_DIR: path.resolve(dir),
  ...(onSignal ? { PIXMESH_CPU_PROFILE_ON_SIGNAL: '1' } : {}),
});

interface Chunk {
  stages?: Record<string, number[]>;
  /** CPU ms the serving process used during the chunk (null: unknown). */
  cpuMs?: number | null;
  /** CPU ms its main thread (the event loop) used during the chunk (null: unknown). */
  loopCpuMs?: number | null;
  latencies: number[];
  wallMs: number;
  bytes: number;
  errors: number;
  hits: number;
  peak: number | null;
}

/** The long-lived raw sharp worker: one job per line on stdin, one result per line on stdout. */
class RawWorker {
  private buf = '';
  private waiting: ((line: string) => void)[] = [];
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
  }
  next(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  async job(job: object): Promise<string> {
    const p = this.next();
    this.child.stdin!.write(JSON.stringify(job) + '\n');
    return p;
  }
}

async function runRawChunk(o: TransformOptions, raw: RawWorker, inputFile: string, c: Case, warmup: number[], widths: number[]): Promise<Chunk> {
  const line = await raw.job({ input: inputFile, format: c.format, warmup, widths, concurrency: o.concurrency, maxSeconds: o.maxSeconds / o.rounds });
  const res = JSON.parse(line) as { latencies: number[]; wallMs: number; bytes: number; peakRssMb: number | null; cpuMs?: number; loopCpuMs?: number | null; error?: string };
  if (res.error) throw new Error(`raw sharp worker: ${res.error}`);
  return { ...res, errors: 0, hits: 0, peak: res.peakRssMb === null ? null : round(res.peakRssMb, 1) };
}

function mergeStages(list: Record<string, number[]>[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of list) for (const [k, v] of Object.entries(s)) (out[k] ??= []).push(...v);
  return out;
}

/** 1-minute load average: other work on the machine shows up here (recorded with every measurement). */
const load1 = () => round(os.loadavg()[0]!, 2);

/** Waits (≤ 30 s) until the origin reports no result-cache write behind its responses (/readyz writesBehind). */
async function writesSettled(originUrl: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const r = (await (await fetch(`${originUrl}/readyz`)).json().catch(() => ({}))) as { writesBehind?: number; cache?: { pendingWrites?: number } };
    if (!r.writesBehind && !r.cache?.pendingWrites) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

export async function runTransform(partial: Partial<TransformOptions> = {}): Promise<{ file: string; results: TransformResults }> {
  const o: TransformOptions = { ...DEFAULT_TRANSFORM, ...partial };
  const started = new Date();
  const t0 = performance.now();
  const host = '127.0.0.1';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-bench-transform-'));
  let cluster: Cluster | undefined;
  let ipx: ChildProcess | undefined;
  let rawChild: ChildProcess | undefined;
  let bare: ChildProcess | undefined;
  const log = o.log;
  try {
    const input = await makeInput();
    const meta = await sharp(input).metadata();
    const imgDir = path.join(dir, 'images');
    fs.mkdirSync(imgDir, { recursive: true });
    const inputFile = path.join(imgDir, 'a.jpg');
    fs.writeFileSync(inputFile, input);

    // The origin: s3rver + one region (home of the account), no edge.
    const accountsFile = path.join(dir, 'accounts.json');
    const s3Port = o.basePort;
    fs.writeFileSync(
      accountsFile,
      JSON.stringify({
        accounts: [
          {
            id: 'tput',
            homeRegion: 'eu-central-1',
            privateKey: 'private_bench_tput',
            publicKey: 'public_bench_tput',
            endpoints: [{ prefix: '', origins: [{ type: 's3', bucket: 'bench-originals', endpoint: `http://${host}:${s3Port}`, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }] }],
          },
        ],
      }),
    );
    const originPort = o.basePort + 3;
    cluster = await startCluster({
      dataDir: path.join(dir, 'cluster'),
      accountsFile,
      host,
      s3Port,
      edgePort: o.basePort + 87,
      regionPorts: { 'eu-central-1': originPort },
      regions: ['eu-central-1'],
      logs: { dir: path.join(dir, 'logs') },
      buckets: ['bench-originals'],
      edge: false,
      // PIXMESH_BENCH_PROFILE_DIR=<dir>: the origin writes a V8 CPU profile there when it stops (docs/benchmarks.md "Profile").
      // PIXMESH_BENCH_ORIGIN_ENV='{"PIXMESH_SHARED":"off"}': extra origin settings, for comparisons (docs/benchmarks.md).
      originEnv: {
        ...(process.env.PIXMESH_BENCH_ORIGIN_ENV ? (JSON.parse(process.env.PIXMESH_BENCH_ORIGIN_ENV) as Record<string, string>) : {}),
        ...(process.env.PIXMESH_BENCH_PROFILE_DIR ? profileEnv(process.env.PIXMESH_BENCH_PROFILE_DIR, false) : {}),
        ...(o.hitProfileDir ? profileEnv(o.hitProfileDir, true) : {}),
      },
    });
    await putObjects(cluster.s3Url, 'bench-originals', [{ key: 'a.jpg', body: input, contentType: 'image/jpeg' }]);
    const originPid = pidListeningOn(originPort);
    const originUrl = cluster.regionUrls['eu-central-1'];
    const secret = cluster.internalSecret;

    const ipxPort = o.basePort + 50;
    ipx = tsx(path.join(ROOT, 'bench/transform/ipx-server.ts'), [imgDir, host, String(ipxPort)]);
    const ipxInfo = JSON.parse(await waitForLine(ipx, 'ipx server')) as { sharp: string; vips: string };
    const ipxPid = ipx.pid;
    rawChild = tsx(path.join(ROOT, 'bench/transform/raw-worker.ts'), [], 'pipe');
    const raw = new RawWorker(rawChild);
    await Promise.race([raw.next(), new Promise((_, reject) => setTimeout(() => reject(new Error('raw sharp worker did not start')), 30_000))]);
    // The origin's decoded-original cache (origin/src/pipeline/decoded-cache.ts) is on by default; PIXMESH_BENCH_ORIGIN_ENV='{"PIXMESH_DECODED_CACHE_MB":"0"}' turns it off.
    const decodedMb = (process.env.PIXMESH_BENCH_ORIGIN_ENV ? (JSON.parse(process.env.PIXMESH_BENCH_ORIGIN_ENV) as Record<string, string>) : {}).PIXMESH_DECODED_CACHE_MB ?? process.env.PIXMESH_DECODED_CACHE_MB ?? '32';
    log(`transform: origin pid ${originPid ?? '?'}, ipx pid ${ipxPid} (sharp ${ipxInfo.sharp}, libvips ${ipxInfo.vips}); concurrency ${o.concurrency}; origin decoded cache ${decodedMb === '0' ? 'off' : `${decodedMb} MB`}`);

    // The repeated workload gets its own cache identity (extra query) so cold runs never pre-fill it.
    /** A signed render call to the origin (shared/internal-fetch.ts signs; timedGet sends it). */
    const signedReq = (format: string, pathAndQuery: string) => ({
      url: originUrl + pathAndQuery,
      headers: async () => {
        const h = new Headers({ [H.format]: format, [H.signed]: 'false', [H.requestId]: randomUUID() });
        return Object.fromEntries((await internalRequest({ secret, baseUrl: originUrl, target: 'eu-central-1', pathAndQuery, headers: h })).headers);
      },
    });
    const originPath = (c: Case, w: number, query: string) => `/internal/render/tput/tr:${originTr(c.format, w)}/a.jpg${query}`;
    const originReq = (c: Case, w: number, workload: Workload, round = 0) => signedReq(c.format, originPath(c, w, workload === 'repeated' ? `?bench=repeated-r${round}` : ''));
    const ipxReq = (c: Case, w: number) => ({ url: `http://${host}:${ipxPort}/${ipxModifiers(c.format, w)}/a.jpg`, headers: async () => ({}) });

    // Engines are interleaved in rounds (raw, origin, ipx, raw, origin, ipx, …) so that load from
    // anything else on the machine hits all three alike and the ratios stay fair.
    const measurements: Measurement[] = [];
    const cases = CASES.filter((c) => o.cases.includes(c.id));
    const engines: Engine[] = ['raw', 'origin', 'ipx'];
    const passes: { workload: Workload; concurrency: number; pass: number }[] = [
      ...(o.mode === 'smoke' ? [o.concurrency] : o.coldConcurrency).map((concurrency, pass) => ({ workload: 'cold' as const, concurrency, pass })),
      { workload: 'repeated', concurrency: o.concurrency, pass: 0 },
    ];
    const ratios: TransformResults['ratios'] = [];
    const spread = (xs: number[]) => (xs.length ? { min: round(Math.min(...xs), 2), max: round(Math.max(...xs), 2) } : undefined);
    for (const { workload, concurrency, pass } of passes) {
      for (const c of workload === 'repeated' && o.repeatedCases ? cases.filter((x) => o.repeatedCases!.includes(x.id)) : cases) {
        const { warmup, widths } = widthsFor(o, c, workload, pass);
        const chunks = Object.fromEntries(engines.map((e) => [e, [] as Chunk[]])) as Record<Engine, Chunk[]>;
        const loads: number[] = [load1()];
        const size = Math.ceil(widths.length / o.rounds);
        for (let k = 0; k < o.rounds; k++) {
          // Repeated: the whole sequence every round (a cache identity per round, below); cold: a slice.
          const part = workload === 'repeated' ? widths : widths.slice(k * size, (k + 1) * size);
          if (!part.length) break;
          for (const engine of engines) {
            if (engine === 'raw') {
              chunks.raw.push(await runRawChunk({ ...o, concurrency }, raw, inputFile, c, k === 0 ? warmup : [], part));
              continue;
            }
            const make = engine === 'origin' ? (w: number) => originReq(c, w, workload, k) : (w: number) => ipxReq(c, w);
            if (k === 0) await drive(warmup.map(make), 1, o.maxSeconds);
            const pid = engine === 'origin' ? originPid : ipxPid;
            resetPeak(pid);
            const cpu0 = cpuMsOf(pid);
            const loop0 = cpuMsOf(pid, pid);
            // Cold: each request is signed before the clock starts (as the hit path does): signing is the
            // edge's work, not the origin's; in the timed window it cost the bench's client ≈ 50 µs per
            // origin request that ipx's unsigned requests did not (docs/benchmarks.md section 2).
            // Each engine gets maxSeconds / rounds per round, except the origin on the repeated workload:
            // its round is the whole sequence (cut short, it would lose the hit-rich end of it and the
            // round its stated hit ratio), bounded by maxSeconds. raw and ipx have no state: their
            // throughput on a prefix is their throughput on the whole.
            const limit = workload === 'repeated' && engine === 'origin' ? o.maxSeconds : o.maxSeconds / o.rounds;
            const r = await drive(part.map(make), concurrency, limit, workload === 'cold');
            const cpu1 = cpuMsOf(pid);
            const loop1 = cpuMsOf(pid, pid);
            chunks[engine].push({ ...r, peak: peakOf(pid), cpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0, loopCpuMs: loop0 === null || loop1 === null ? null : loop1 - loop0 });
            // The origin's writes behind its responses (L1 files, shared-tier copies) land before the
            // next engine runs: outside every engine's timed window, so they slow none of the others.
            if (engine === 'origin') await writesSettled(originUrl);
          }
          loads.push(load1());
        }
        const got: Partial<Record<Engine, Measurement>> = {};
        for (const engine of engines) {
          const cs = chunks[engine];
          const merged = {
            latencies: cs.flatMap((x) => x.latencies),
            wallMs: cs.reduce((a, x) => a + x.wallMs, 0),
            bytes: cs.reduce((a, x) => a + x.bytes, 0),
            errors: cs.reduce((a, x) => a + x.errors, 0),
            hits: cs.reduce((a, x) => a + x.hits, 0),
            stages: mergeStages(cs.map((x) => x.stages ?? {})),
          };
          const peaks = cs.map((x) => x.peak).filter((x): x is number => x !== null);
          const m = measurement(engine, c, workload, concurrency, merged, peaks.length ? Math.max(...peaks) : null);
          const perOp = (xs: (number | null | undefined)[]) => (xs.length && xs.every((x) => typeof x === 'number') ? round((xs as number[]).reduce((a, b) => a + b, 0) / Math.max(1, merged.latencies.length), 2) : undefined);
          m.cpuMsPerOp = perOp(cs.map((x) => x.cpuMs));
          m.loopCpuMsPerOp = perOp(cs.map((x) => x.loopCpuMs));
          m.loadAvg1 = round(loads.reduce((a, b) => a + b, 0) / loads.length, 2);
          measurements.push(m);
          got[engine] = m;
          log(`  ${workload.padEnd(8)} ${c.id.padEnd(9)} c${concurrency} ${engine.padEnd(6)} ${String(m.opsPerSec).padStart(8)} ops/s  p50 ${m.p50} p99 ${m.p99} ms  ${m.meanBytes} B  peak ${m.peakRssMb ?? '?'} MB${m.cpuMsPerOp !== undefined ? `  cpu ${m.cpuMsPerOp} ms/op` : ''}${m.loopCpuMsPerOp !== undefined ? ` (main thread ${m.loopCpuMsPerOp})` : ''}  load ${m.loadAvg1}${m.errors ? `  errors ${m.errors}` : ''}${m.regionHitRatio !== undefined ? `  region hit ${m.regionHitRatio}` : ''}`);
          if (m.stages) log(`      stages p50 ms: ${Object.entries(m.stages).map(([k, v]) => `${k} ${v}`).join(', ')}`);
        }
        const ops = (x: Chunk) => x.latencies.length / (x.wallMs / 1000);
        const perRound = (a: Engine, b: Engine) => chunks[a].map((x, i) => (chunks[b][i] ? ops(x) / ops(chunks[b][i]!) : NaN)).filter(Number.isFinite);
        const ratio = (a?: number, b?: number) => (a !== undefined && b ? round(a / b, 2) : null);
        ratios.push({
          case: c.id,
          workload,
          concurrency,
          originVsRaw: ratio(got.origin?.opsPerSec, got.raw?.opsPerSec),
          ipxVsRaw: ratio(got.ipx?.opsPerSec, got.raw?.opsPerSec),
          originVsIpx: ratio(got.origin?.opsPerSec, got.ipx?.opsPerSec),
          originVsRawRounds: spread(perRound('origin', 'raw')),
          originVsIpxRounds: spread(perRound('origin', 'ipx')),
          bytesVsRaw: got.origin && got.raw?.meanBytes ? round(got.origin.meanBytes / got.raw.meanBytes, 4) : null,
        });
      }
    }

    // The hit path: one cached variant from the origin (signed internal call, region-cache hit)
    // vs a bare Node server returning the same bytes from memory — the same client, the same
    // request bytes, interleaved rounds. Every request of a round is signed before the round starts
    // (a fresh nonce each: the origin refuses a replay), sent to the origin, then sent again as it
    // is — same path, query and headers, only the port in Host differs (both 4 digits) — to the bare
    // server, which ignores them: both parse the same 457 bytes and 7 headers per request. (Until
    // round 8 the bare server got `GET /a.jpg` with Host and Connection only: 69 bytes, 2 headers.)
    // A timed round is max(--hit, the faster side's warm-up rate × --hit-seconds) requests, so
    // each side's round lasts about --hit-seconds or more instead of 0.13–0.45 s.
    let hitPath: HitPathResult | undefined;
    const hitCase = cases.find((c) => c.id === 'jpeg-720') ?? cases[0];
    if (o.mode !== 'smoke' && o.hitRequests > 0 && hitCase) {
      const hitPathAndQuery = originPath(hitCase, hitCase.width, '?bench=hit');
      const hitReq = () => signedReq(hitCase.format, hitPathAndQuery);
      /** n hit calls' headers, each signed with a nonce of its own, before any clock starts. */
      const signHits = (n: number) => Promise.all(Array.from({ length: n }, () => hitReq().headers()));
      const warm = await drive([hitReq(), hitReq()], 1, 60);
      // The bare server answers with the origin's answer: its bytes and its headers (Node adds Date,
      // Connection and Keep-Alive to both alike), so both sides write the same response.
      const { body, headers: answerHeaders } = await (async () => {
        const r = hitReq();
        const res = await fetch(r.url, { headers: await r.headers() });
        const own = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);
        return { body: Buffer.from(await res.arrayBuffer()), headers: Object.fromEntries([...res.headers].filter(([k]) => !own.has(k))) };
      })();
      const bodyFile = path.join(dir, 'hit.bin');
      fs.writeFileSync(bodyFile, body);
      const headersFile = path.join(dir, 'hit-headers.json');
      fs.writeFileSync(headersFile, JSON.stringify(answerHeaders));
      const barePort = o.basePort + 60;
      // The bare server runs with the origin's node flags and process settings (young generation,
      // thread pool, malloc arenas: ORIGIN_NODE_ARGS, the cluster's env), so what differs is the code.
      bare = tsx(path.join(ROOT, 'bench/transform/static-server.ts'), [bodyFile, 'image/jpeg', host, String(barePort), headersFile], 'ignore', ORIGIN_NODE_ARGS, o.hitProfileDir ? profileEnv(o.hitProfileDir, true) : {});
      await waitForLine(bare, 'bare static server');
      const barePid = pidListeningOn(barePort);
      const bareUrl = `http://${host}:${barePort}`;
      /** The same signed requests addressed to one side. */
      const sent = (base: string, signed: Record<string, string>[]) => signed.map((h) => ({ url: base + hitPathAndQuery, headers: async () => h }));
      hitPath = { case: hitCase.id, bytes: body.length, rounds: o.rounds, byConcurrency: [] };
      for (const concurrency of [1, 2]) {
        const per: Record<'origin' | 'bare', Awaited<ReturnType<typeof drive>>[]> = { origin: [], bare: [] };
        // CPU ms each serving process used in its timed windows (null where /proc is unavailable).
        const cpu: Record<'origin' | 'bare', (number | null)[]> = { origin: [], bare: [] };
        const loopCpu: Record<'origin' | 'bare', (number | null)[]> = { origin: [], bare: [] };
        // Times each server's main thread was preempted in its timed windows (involuntary context switches).
        const preempted: Record<'origin' | 'bare', (number | null)[]> = { origin: [], bare: [] };
        // The kernel's part of each main thread's CPU in its timed windows (system calls: socket reads and writes, log writes).
        const loopSystem: Record<'origin' | 'bare', (number | null)[]> = { origin: [], bare: [] };
        const timed = async (side: 'origin' | 'bare', pid: number | undefined, reqs: { url: string; headers: () => Promise<Record<string, string>> }[]) => {
          // (The client signed them in this process before the round: not in the server's count.)
          const profiled = o.hitProfileDir !== undefined && pid !== undefined;
          if (profiled) await profileSignal(pid);
          const c0 = cpuMsOf(pid);
          const l0 = cpuSplitMsOf(pid, pid);
          const s0 = contextSwitchesOf(pid);
          per[side].push(await drive(reqs, concurrency, o.maxSeconds, true));
          const c1 = cpuMsOf(pid);
          const l1 = cpuSplitMsOf(pid, pid);
          const s1 = contextSwitchesOf(pid);
          preempted[side].push(s0 && s1 ? s1.involuntary - s0.involuntary : null);
          loopSystem[side].push(l0 && l1 ? l1.system - l0.system : null);
          if (profiled) await profileSignal(pid);
          cpu[side].push(c0 === null || c1 === null ? null : c1 - c0);
          loopCpu[side].push(l0 === null || l1 === null ? null : l1.user + l1.system - (l0.user + l0.system));
        };
        const loads = [load1()];
        // The same warm-up for both sides, at this concurrency: one untimed round each. With 50 requests
        // the first timed round was still both servers' JIT warm-up (c1 CPU per answer 290 / 115 µs in
        // round 1, 75–90 / 35–40 µs in rounds 2–6: docs/benchmarks.md "Round 6"), and it weighed on the
        // origin's side more (more code to compile), so a run whose hit part came first (--cold 0
        // --repeated 0) read 0.56× where a run after the Zipf workload read 0.82×.
        const warmSigned = await signHits(Math.max(50, o.hitRequests));
        const warmRates = [await drive(sent(originUrl, warmSigned), concurrency, o.maxSeconds, true), await drive(sent(bareUrl, warmSigned), concurrency, o.maxSeconds, true)].map((r) => r.latencies.length / (r.wallMs / 1000));
        // A round: the same requests to both sides, enough for ≈ hitSeconds on the faster one (its
        // warm-up rate × 1.25: warming up, both sides ran ≈ 20 % below their timed rate).
        const perRoundRequests = Math.max(o.hitRequests, Math.ceil(Math.max(...warmRates) * 1.25 * o.hitSeconds));
        for (let k = 0; k < o.rounds; k++) {
          const signed = await signHits(perRoundRequests);
          // The side that ran first in a round (right after the client's signing) ran slower: in an
          // A/A test inside one origin (both sides its hit path, 4 rounds) the first side read 0.92×
          // and 0.83× the second at c2 (docs/benchmarks.md "Round 8 (hit path own work"). So the
          // order alternates: the origin first in rounds 1, 3, …, the bare server first in 2, 4, ….
          const sides = [() => timed('origin', originPid, sent(originUrl, signed)), () => timed('bare', barePid, sent(bareUrl, signed))];
          for (const side of k % 2 === 0 ? sides : sides.reverse()) await side();
          loads.push(load1());
        }
        const cpuUsPerOp = (side: 'origin' | 'bare') => {
          const n = per[side].reduce((a, r) => a + r.latencies.length, 0);
          const usPer = (ms: (number | null)[]) => (ms.every((x): x is number => x !== null) && n > 0 ? round((ms.reduce((a, b) => a + b, 0) * 1000) / n, 1) : undefined);
          const all = usPer(cpu[side]);
          const loop = usPer(loopCpu[side]);
          return { ...(all === undefined ? {} : { cpuUsPerOp: all }), ...(loop === undefined ? {} : { loopCpuUsPerOp: loop }) };
        };
        const sum = (rs: Awaited<ReturnType<typeof drive>>[]) => {
          const lat = rs.flatMap((r) => r.latencies);
          const wall = rs.reduce((a, r) => a + r.wallMs, 0);
          const st = summarise(lat);
          return { opsPerSec: round(lat.length / (wall / 1000), 1), p50: round(percentile(lat, 50), 3), p99: round(percentile(lat, 99), 3), errors: rs.reduce((a, r) => a + r.errors, 0), hits: rs.reduce((a, r) => a + r.hits, 0), n: st.n };
        };
        const so = sum(per.origin);
        const sb = sum(per.bare);
        const roundRatios = per.origin.map((r, i) => r.latencies.length / r.wallMs / (per.bare[i]!.latencies.length / per.bare[i]!.wallMs));
        const entry = {
          concurrency,
          origin: { opsPerSec: so.opsPerSec, p50: so.p50, p99: so.p99, regionHitRatio: round(so.hits / Math.max(1, so.n), 3), errors: so.errors, ...cpuUsPerOp('origin') },
          bare: { opsPerSec: sb.opsPerSec, p50: sb.p50, p99: sb.p99, errors: sb.errors, ...cpuUsPerOp('bare') },
          originVsBare: round(so.opsPerSec / sb.opsPerSec, 2),
          originVsBareRounds: spread(roundRatios)!,
          requestsPerRound: perRoundRequests,
          perRound: roundRatios.map((r, i) => {
            const us = (ms: number | null | undefined, side: 'origin' | 'bare') => (typeof ms === 'number' && per[side][i]!.latencies.length ? round((ms * 1000) / per[side][i]!.latencies.length, 1) : undefined);
            const out: NonNullable<HitPathResult['byConcurrency'][number]['perRound']>[number] = { originVsBare: round(r, 2), originSeconds: round(per.origin[i]!.wallMs / 1000, 2), bareSeconds: round(per.bare[i]!.wallMs / 1000, 2) };
            const set = (k: 'originCpuUs' | 'bareCpuUs' | 'originLoopUs' | 'bareLoopUs' | 'originLoopSystemUs' | 'bareLoopSystemUs', v: number | undefined) => void (v === undefined ? undefined : (out[k] = v));
            set('originCpuUs', us(cpu.origin[i], 'origin'));
            set('bareCpuUs', us(cpu.bare[i], 'bare'));
            set('originLoopUs', us(loopCpu.origin[i], 'origin'));
            set('bareLoopUs', us(loopCpu.bare[i], 'bare'));
            set('originLoopSystemUs', us(loopSystem.origin[i], 'origin'));
            set('bareLoopSystemUs', us(loopSystem.bare[i], 'bare'));
            const perAnswer = (n: number | null | undefined, side: 'origin' | 'bare') => (typeof n === 'number' && per[side][i]!.latencies.length ? round(n / per[side][i]!.latencies.length, 3) : undefined);
            const po = perAnswer(preempted.origin[i], 'origin');
            const pb = perAnswer(preempted.bare[i], 'bare');
            if (po !== undefined) out.originPreemptedPerAnswer = po;
            if (pb !== undefined) out.barePreemptedPerAnswer = pb;
            return out;
          }),
          loadAvg1: round(loads.reduce((a, b) => a + b, 0) / loads.length, 2),
        };
        hitPath.byConcurrency.push(entry);
        log(`  hit-path  ${hitCase.id} c${concurrency}: origin ${entry.origin.opsPerSec} req/s p50 ${entry.origin.p50} ms (hit ${entry.origin.regionHitRatio}) vs bare ${entry.bare.opsPerSec} req/s p50 ${entry.bare.p50} ms: ${entry.originVsBare}× (rounds ${entry.originVsBareRounds.min}–${entry.originVsBareRounds.max}), cpu µs/answer origin ${entry.origin.cpuUsPerOp ?? '?'} bare ${entry.bare.cpuUsPerOp ?? '?'} (main thread ${entry.origin.loopCpuUsPerOp ?? '?'} / ${entry.bare.loopCpuUsPerOp ?? '?'})  load ${entry.loadAvg1}${warm.errors ? '  warm-up errors' : ''}`);
        log(`      rounds of ${perRoundRequests} requests: ${entry.perRound.map((r) => `${r.originVsBare}× (${r.originSeconds} / ${r.bareSeconds} s, cpu µs ${r.originCpuUs ?? '?'} / ${r.bareCpuUs ?? '?'}, main ${r.originLoopUs ?? '?'} / ${r.bareLoopUs ?? '?'} of which kernel ${r.originLoopSystemUs ?? '?'} / ${r.bareLoopSystemUs ?? '?'}, preempted ${r.originPreemptedPerAnswer ?? '?'} / ${r.barePreemptedPerAnswer ?? '?'} per answer)`).join(', ')}`);
      }
    }

    // Pressure: bursts of concurrent cold requests (distinct variants) of one account. Up to slots +
    // half the queue are served; beyond that the origin answers 503 EBUSY with Retry-After at once (docs/origin.md).
    const pressure: PressureResult[] = [];
    const pressureCase = hitCase;
    if (o.mode !== 'smoke' && pressureCase) {
      // One account may hold every slot but at most half of the waiting places (origin/src/queue.ts: fairness across tenants).
      const bound = Number(process.env.PIXMESH_TRANSFORM_CONCURRENCY ?? os.availableParallelism()) + Math.max(1, Math.ceil(Number(process.env.PIXMESH_TRANSFORM_QUEUE ?? 64) / 2));
      for (const n of o.pressure) {
        const reqs = Array.from({ length: n }, (_, i) => signedReq(pressureCase.format, originPath(pressureCase, 200 + i, `?bench=pressure-${n}`)));
        const signedHeaders = await Promise.all(reqs.map((r) => r.headers()));
        const agent = keepAliveAgent(n);
        resetPeak(originPid);
        const l0 = load1();
        const t0 = performance.now();
        const results = await Promise.all(reqs.map((r, i) => timedGet(r.url, signedHeaders[i]!, agent, 60_000)));
        const wallMs = performance.now() - t0;
        agent.destroy();
        const ok = results.filter((r) => r.status === 200);
        const busy = results.filter((r) => r.status === 503 && String(r.headers['retry-after'] ?? '') !== '' && String(r.headers['ik-error'] ?? '').startsWith('EBUSY'));
        const lat = ok.map((r) => r.totalMs);
        const pr: PressureResult = {
          concurrent: n,
          bound,
          ok: ok.length,
          busyWithRetryAfter: busy.length,
          otherErrors: results.length - ok.length - busy.length,
          wallMs: round(wallMs, 0),
          p50: round(percentile(lat, 50), 1),
          p99: round(percentile(lat, 99), 1),
          peakRssMb: peakOf(originPid),
          loadAvg1: round((l0 + load1()) / 2, 2),
        };
        pressure.push(pr);
        log(`  pressure  ${n} concurrent cold ${pressureCase.id}: ${pr.ok} × 200, ${pr.busyWithRetryAfter} × 503 EBUSY + Retry-After, ${pr.otherErrors} other; bound ${bound}; ${pr.wallMs} ms; peak RSS ${pr.peakRssMb ?? '?'} MB  load ${pr.loadAvg1}`);
      }
    }

    // libvips threads × transform slots, on the raw loop (the same libvips work as the origin).
    const threadSweep: NonNullable<TransformResults['threadSweep']> = [];
    if (o.mode !== 'smoke' && o.sweepImages > 0) {
      for (const c of cases.filter((x) => x.id === 'jpeg-720' || x.id === 'avif-320')) {
        for (const vipsThreads of [1, 2, 3, 4]) {
          for (const slots of [1, 2, 3, 4]) {
            const widths = Array.from({ length: o.sweepImages }, (_, i) => c.width - 100 + i);
            const line = await raw.job({ input: inputFile, format: c.format, warmup: [c.width + 300], widths, concurrency: slots, maxSeconds: o.maxSeconds, vipsThreads });
            const res = JSON.parse(line) as { latencies: number[]; wallMs: number };
            const point = { case: c.id, vipsThreads, slots, opsPerSec: round(res.latencies.length / (res.wallMs / 1000), 1), loadAvg1: load1() };
            threadSweep.push(point);
          }
        }
        log(`  threads × slots ${c.id}: ${threadSweep.filter((x) => x.case === c.id).map((x) => `${x.vipsThreads}×${x.slots} ${x.opsPerSec}`).join(', ')} ops/s`);
      }
    }
    const results: TransformResults = {
      input: { width: meta.width ?? 0, height: meta.height ?? 0, bytes: input.length, description: 'synthetic photo-like JPEG q90 (gradient, blurred shapes, light Gaussian grain σ 4), sharp benchmark size' },
      encoder: ENCODER,
      ipxDifferences: [
        `ipx ${ipxInfo.sharp ? `uses its own sharp ${ipxInfo.sharp} / libvips ${ipxInfo.vips}` : 'uses its own sharp'}; the origin and raw loop use the project's sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}`,
        'ipx passes only quality to the encoder; progressive JPEG (its default) is switched off and WebP/AVIF effort set to 2 through sharpOptions; sharp 0.34 has no AVIF tune, so ipx encodes AVIF with libheif\'s default tune instead of ssim',
        'ipx reads the original from local disk on every request; the origin reads it from S3 (s3rver on loopback) through its originals cache',
      ],
      measurements,
      ratios,
      ...(hitPath ? { hitPath } : {}),
      ...(pressure.length ? { pressure } : {}),
      ...(threadSweep.length ? { threadSweep } : {}),
    };
    const { log: _l, outDir: _o, ...config } = o;
    const { file } = writeSuite<TransformResults>(
      {
        suite: 'transform',
        mode: o.mode,
        startedAt: started.toISOString(),
        durationS: round((performance.now() - t0) / 1000, 1),
        config,
        results,
        notes: [
          'Same machine, same run, same concurrency; the HTTP load generator runs in the bench process and shares the cores with the server under test (the raw loop has no client).',
          'Peak RSS is VmHWM of the serving process, reset (clear_refs 5) before each measurement: origin and ipx include their HTTP server and caches, raw only the loop. All three are long-lived processes.',
          'Cold = every request a distinct output width (a new variant); repeated = Zipf over the variant set, so the origin answers most from its region cache while ipx and raw transform every time.',
        ],
      },
      o.outDir,
    );
    return { file, results };
  } finally {
    if (rawChild && rawChild.exitCode === null) rawChild.kill('SIGKILL');
    if (bare && bare.exitCode === null) bare.kill('SIGKILL');
    if (ipx && ipx.exitCode === null) {
      ipx.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      if (ipx.exitCode === null) ipx.kill('SIGKILL');
    }
    await cluster?.stop().catch(() => undefined);
    if (!process.env.PIXMESH_KEEP_BENCH_DATA) fs.rmSync(dir, { recursive: true, force: true });
  }
}
