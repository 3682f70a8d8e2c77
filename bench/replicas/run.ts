/**
 * Suite: a region of many replicas, on real processes (s3rver, n origin processes, the cluster's
 * balancer — scripts/cluster.ts, as `PIXMESH_REPLICAS=n npm start` runs them).
 *   throughput  render calls through the region's balancer, every call a new variant (a miss:
 *               fetch the original from S3, resize, encode, store in L1 and the shared tier),
 *               with 1, 2 and 3 replicas of one transform slot each; ratios against the
 *               1-replica run of the same round, rounds in rotated order.
 *   hit ratio   a fixed working set requested again and again over 2 replicas: round-robin
 *               without the shared tier (PIXMESH_SHARED=off: each replica its own L1), round-robin
 *               with it, and the owner-hashing balancer with it.
 * Loopback only; the load generator and the balancer share the machine with the replicas.
 */
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { H } from '../../shared/headers.js';
import { internalRequest } from '../../shared/internal-fetch.js';
import { putObjects, startCluster, type Cluster } from '../../scripts/cluster.js';
import { keepAliveAgent, timedGet } from '../lib/http.js';
import { hashSeed, Rng } from '../lib/prng.js';
import { writeSuite } from '../lib/results.js';
import { round, summarise } from '../lib/stats.js';

const REGION = 'eu-central-1' as const;

export interface ReplicasOptions {
  mode: 'full' | 'smoke';
  rounds: number;
  replicaCounts: number[];
  /** Transform slots per replica (PIXMESH_TRANSFORM_CONCURRENCY): a 1-CPU replica. */
  slotsPerReplica: number;
  concurrency: number;
  /** Distinct variants (all misses) per throughput measurement. */
  throughputRequests: number;
  /** Hit-ratio workload: `hitVariants` variants, each requested `hitRepeats` times, shuffled. */
  hitVariants: number;
  hitRepeats: number;
  hitReplicas: number;
  seed: number;
  log: (m: string) => void;
}

export const DEFAULT_REPLICAS: ReplicasOptions = {
  mode: 'full',
  rounds: 3,
  replicaCounts: [1, 2, 3],
  slotsPerReplica: 1,
  concurrency: 6,
  throughputRequests: 120,
  hitVariants: 30,
  hitRepeats: 6,
  hitReplicas: 2,
  seed: 15,
  log: (m) => console.log(m),
};

export interface ThroughputRun {
  round: number;
  replicas: number;
  requests: number;
  errors: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  /** 1-minute load average before and after the measurement. */
  load: [number, number];
}
export type HitPolicy = 'round-robin, no shared tier' | 'round-robin, shared tier' | 'owner hashing, shared tier';
export interface HitRun {
  round: number;
  policy: HitPolicy;
  requests: number;
  errors: number;
  hits: number;
  hitRatio: number;
  /** Renders across the replicas (misses that did the work), from their metrics. */
  originalFetches: number;
  load: [number, number];
}
export interface ReplicasResults {
  input: { width: number; height: number; bytes: number };
  throughput: ThroughputRun[];
  /** Per replica count: ops/s ÷ the same round's 1-replica ops/s. */
  scaling: { replicas: number; median: number; min: number; max: number; perRound: number[] }[];
  hit: HitRun[];
  hitSummary: { policy: HitPolicy; median: number; min: number; max: number; ideal: number }[];
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
async function freeBase(span: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 24_000 + Math.floor(Math.random() * 500) * 16; // below the ephemeral range (32768+)
    let ok = true;
    for (let p = base; p < base + span && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no free port range');
}

async function photo(): Promise<Buffer> {
  const w = 1600;
  const h = 1200;
  const noise = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 90, g: 120, b: 160 }, noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).blur(2).raw().toBuffer();
  return sharp(noise, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 88 }).toBuffer();
}

interface Region {
  cluster: Cluster;
  dir: string;
  url: string;
  replicas: string[];
}

async function startRegion(input: Buffer, n: number, o: ReplicasOptions, extra: { policy?: 'hash' | 'round-robin'; shared?: boolean }): Promise<Region> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-bench-replicas-'));
  const base = await freeBase(12);
  const accountsFile = path.join(dir, 'accounts.json');
  fs.writeFileSync(
    accountsFile,
    JSON.stringify({
      accounts: [
        {
          id: 'rep',
          homeRegion: REGION,
          privateKey: 'private_bench_rep',
          publicKey: 'public_bench_rep',
          endpoints: [{ prefix: '', origins: [{ type: 's3', bucket: 'bench-originals', endpoint: `http://127.0.0.1:${base}`, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }] }],
        },
      ],
    }),
  );
  const cluster = await startCluster({
    dataDir: path.join(dir, 'cluster'),
    accountsFile,
    host: '127.0.0.1',
    s3Port: base,
    regionPorts: { [REGION]: base + 1 },
    regions: [REGION],
    replicas: n,
    replicaPortStep: 1,
    balancerPolicy: extra.policy ?? 'hash',
    logs: { dir: path.join(dir, 'logs') },
    buckets: ['bench-originals'],
    edge: false,
    originEnv: {
      PIXMESH_LOG: 'warn',
      PIXMESH_TRANSFORM_CONCURRENCY: String(o.slotsPerReplica),
      PIXMESH_HEARTBEAT_MS: '300',
      PIXMESH_PURGE_POLL_MS: '500',
      ...(extra.shared === false ? { PIXMESH_SHARED: 'off' } : {}),
    },
  });
  await putObjects(cluster.s3Url, 'bench-originals', [{ key: 'a.jpg', body: input, contentType: 'image/jpeg' }]);
  const replicas = cluster.replicaUrls[REGION];
  // Every replica sees the whole live set before the measurement (owners agree).
  if (n > 1 && extra.shared !== false) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const details = await Promise.all(replicas.map(async (u) => ((await (await fetch(`${u}/readyz`)).json()) as { checks: { shared?: { detail?: string } } }).checks.shared?.detail ?? ''));
      if (details.every((d) => d.startsWith(`${n} live`))) break;
      if (Date.now() > deadline) throw new Error(`replicas did not see each other: ${details.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { cluster, dir, url: cluster.regionUrls[REGION], replicas };
}

async function stopRegion(r: Region | undefined): Promise<void> {
  if (!r) return;
  await r.cluster.stop();
  fs.rmSync(r.dir, { recursive: true, force: true });
}

async function drive(r: Region, secret: string, paths: string[], concurrency: number) {
  const agent = keepAliveAgent(concurrency * 2);
  const lat: number[] = [];
  let errors = 0;
  let hits = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < paths.length) {
      const p = paths[next++]!;
      const req = await internalRequest({ secret, baseUrl: r.url, target: REGION, pathAndQuery: p, headers: new Headers({ [H.format]: 'jpeg', [H.signed]: 'false', [H.requestId]: randomUUID() }) });
      const res = await timedGet(req.url, Object.fromEntries(req.headers), agent, 60_000);
      if (res.error || res.status !== 200) errors++;
      else {
        lat.push(res.totalMs);
        if (res.headers[H.regionCache] === 'HIT') hits++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - t0;
  agent.destroy();
  return { lat, errors, hits, wallMs };
}

/** Σ over the replicas of a counter in their Prometheus text. */
async function sumMetric(r: Region, name: string, labels: Record<string, string>): Promise<number> {
  let total = 0;
  for (const u of r.replicas) {
    const text = await (await fetch(`${u}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').at(-1));
    }
  }
  return total;
}

const rotate = <T>(xs: T[], k: number) => xs.map((_, i) => xs[(i + k) % xs.length]!);
const load = () => round(os.loadavg()[0]!, 2);
function spread(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { median: round(s[Math.floor(s.length / 2)]!, 2), min: round(s[0]!, 2), max: round(s.at(-1)!, 2) };
}

export async function runReplicas(opts: Partial<ReplicasOptions> = {}): Promise<{ file: string; results: ReplicasResults }> {
  const o = { ...DEFAULT_REPLICAS, ...opts };
  const started = new Date();
  const t0 = performance.now();
  const input = await photo();
  const meta = await sharp(input).metadata();
  const throughput: ThroughputRun[] = [];
  const hit: HitRun[] = [];

  for (let roundNo = 1; roundNo <= o.rounds; roundNo++) {
    for (const n of rotate(o.replicaCounts, roundNo - 1)) {
      let region: Region | undefined;
      try {
        region = await startRegion(input, n, o, {});
        const secret = region.cluster.internalSecret;
        // Warm-up: the original into each replica's originals cache is part of the work, but the first
        // requests also pay JIT and libvips start-up; three variants no measurement reuses.
        await drive(region, secret, [0, 1, 2].map((i) => `/internal/render/rep/tr:w-${100 + i}/a.jpg?warm=${roundNo}-${n}`), 3);
        // Wide outputs (a full decode of the 1600-px original, no shrink-on-load) so the render, not the
        // HTTP and S3 around it, is most of the work; the query gives every (round, n) its own variants.
        const paths = Array.from({ length: o.throughputRequests }, (_, i) => `/internal/render/rep/tr:w-${900 + i}/a.jpg?run=${roundNo}-${n}`);
        const before = load();
        const r = await drive(region, secret, paths, o.concurrency);
        const s = summarise(r.lat);
        const run: ThroughputRun = { round: roundNo, replicas: n, requests: paths.length, errors: r.errors, opsPerSec: round(r.lat.length / (r.wallMs / 1000), 2), p50: s.p50, p99: s.p99, load: [before, load()] };
        throughput.push(run);
        o.log(`replicas: round ${roundNo}, ${n} replica(s): ${run.opsPerSec} renders/s (p50 ${run.p50} ms, errors ${run.errors}, load ${run.load.join('→')})`);
      } finally {
        await stopRegion(region);
      }
    }
    const policies: { policy: HitPolicy; balancer: 'hash' | 'round-robin'; shared: boolean }[] = [
      { policy: 'round-robin, no shared tier', balancer: 'round-robin', shared: false },
      { policy: 'round-robin, shared tier', balancer: 'round-robin', shared: true },
      { policy: 'owner hashing, shared tier', balancer: 'hash', shared: true },
    ];
    for (const p of rotate(policies, roundNo - 1)) {
      let region: Region | undefined;
      try {
        region = await startRegion(input, o.hitReplicas, o, { policy: p.balancer, shared: p.shared });
        const rng = new Rng(hashSeed(o.seed, roundNo, 'hit'));
        const seq = Array.from({ length: o.hitVariants * o.hitRepeats }, (_, i) => i % o.hitVariants);
        for (let i = seq.length - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [seq[i], seq[j]] = [seq[j]!, seq[i]!];
        }
        const paths = seq.map((v) => `/internal/render/rep/tr:w-${1000 + v}/a.jpg`);
        const before = load();
        const r = await drive(region, region.cluster.internalSecret, paths, o.concurrency);
        const fetches = await sumMetric(region, 'pixmesh_origin_original_fetches_total', { source: 's3', outcome: 'found' });
        const run: HitRun = { round: roundNo, policy: p.policy, requests: paths.length, errors: r.errors, hits: r.hits, hitRatio: round(r.hits / Math.max(1, paths.length), 3), originalFetches: fetches, load: [before, load()] };
        hit.push(run);
        o.log(`replicas: round ${roundNo}, ${p.policy}: hit ratio ${run.hitRatio} (${run.hits}/${run.requests}, original fetches ${fetches}, errors ${run.errors}, load ${run.load.join('→')})`);
      } finally {
        await stopRegion(region);
      }
    }
  }

  const scaling = o.replicaCounts.map((n) => {
    const perRound = Array.from({ length: o.rounds }, (_, i) => {
      const one = throughput.find((t) => t.round === i + 1 && t.replicas === 1)!;
      const this_ = throughput.find((t) => t.round === i + 1 && t.replicas === n)!;
      return round(this_.opsPerSec / one.opsPerSec, 2);
    });
    return { replicas: n, ...spread(perRound), perRound };
  });
  const total = o.hitVariants * o.hitRepeats;
  const ideal: Record<HitPolicy, number> = {
    // Each replica misses each variant once.
    'round-robin, no shared tier': round(1 - Math.min(o.hitReplicas, o.hitRepeats) * o.hitVariants / total, 3),
    // The region misses each variant once.
    'round-robin, shared tier': round(1 - o.hitVariants / total, 3),
    'owner hashing, shared tier': round(1 - o.hitVariants / total, 3),
  };
  const hitSummary = (Object.keys(ideal) as HitPolicy[]).map((policy) => ({ policy, ...spread(hit.filter((h) => h.policy === policy).map((h) => h.hitRatio)), ideal: ideal[policy] }));
  const results: ReplicasResults = { input: { width: meta.width!, height: meta.height!, bytes: input.length }, throughput, scaling, hit, hitSummary };
  const { file } = writeSuite({
    suite: 'replicas',
    mode: o.mode,
    startedAt: started.toISOString(),
    durationS: round((performance.now() - t0) / 1000, 1),
    config: { ...o, log: undefined },
    results,
    notes: [
      `${os.availableParallelism()} cores: with ${o.slotsPerReplica} transform slot(s) per replica, more replicas than cores cannot add throughput; the load generator and the balancer run on the same cores.`,
      'Every throughput request is a distinct variant (a miss). Ratios are against the 1-replica run of the same round; rounds run the replica counts in rotated order.',
      `Hit ratio: ${o.hitVariants} variants × ${o.hitRepeats} requests, shuffled, ${o.concurrency} in flight, over ${o.hitReplicas} replicas; "ideal" counts one miss per variant per L1 (no shared tier) or per region (shared tier). Concurrent first requests of a variant can each count as a miss (coalesced, not cached yet).`,
    ],
  });
  return { file, results };
}
