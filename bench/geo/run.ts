/**
 * Suite 1 — geo simulation on the real cluster: s3rver, six origin processes, the edge worker in
 * workerd, with network delay injected between the tiers by loopback delay proxies:
 *
 *   client ──(client→colo leg, added to the measured time)──► edge (workerd, per-colo cache emulated)
 *     edge ──► proxy[r] (waits RTT(colo→r) from the ground truth, colo from x-pixmesh-edge-colo) ──► origin r
 *     origin r ──► forward proxy[r] (waits CloudPing RTT(r→home)) ──► origin home
 *     origin home ──► S3 proxy (waits a same-region S3 GET, counts original fetches) ──► s3rver
 *
 * Policies, each on its own account (so region caches never leak between runs) over the same
 * seeded request stream:
 *   pixmesh  the real edge: learned expected-latency routing, failover, breakers
 *   nearest  static nearest region by great-circle distance (fail over to the next nearest)
 *   home     the account's home region only
 *   oracle   knows the true RTTs, the degradation, dead regions and every region's cache contents
 * Non-pixmesh policies are played by this client: it signs the same internal render call the
 * edge makes (shared/internal-auth.ts) and sends it through the same delay proxies.
 *
 * Scenarios: steady; degrade (one region +150 ms mid-run); kill (one region SIGKILLed mid-run).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { AccountIndex, type Account } from '../../shared/accounts.js';
import { H } from '../../shared/headers.js';
import { signInternalRequest } from '../../shared/internal-auth.js';
import { REGION_IDS, type RegionId } from '../../shared/regions.js';
import { negotiateFormat, parseTransformation } from '../../shared/transform/index.js';
import { putObjects, startCluster, type Cluster } from '../../scripts/cluster.js';
import { startDelayProxy, type DelayProxy } from '../lib/delay-proxy.js';
import { hv, keepAliveAgent, pool, timedGet, type Timed } from '../lib/http.js';
import { hashSeed, Rng, Zipf } from '../lib/prng.js';
import { readSuite, writeSuite } from '../lib/results.js';
import { round, summarise, shareBelow, type LatencySummary } from '../lib/stats.js';
import { buildEdgeBundle, PASS_THROUGH_WORKER, startEdgeWorker, startInlineWorker, type RunningWorker } from '../lib/workerd.js';
import { COLO_POPULATION, GroundTruth, jitter, S3_SAME_REGION_MS, CLIENT_LEG_MEDIAN_MS, CLIENT_LEG_SIGMA } from './ground-truth.js';

export type Policy = 'pixmesh' | 'nearest' | 'home' | 'oracle';
export type Scenario = 'steady' | 'degrade' | 'kill';
export const POLICIES: Policy[] = ['pixmesh', 'nearest', 'home', 'oracle'];
export const SCENARIOS: Scenario[] = ['steady', 'degrade', 'kill'];

/** Simple, stable transformations (the grammar is being extended elsewhere; these never change). */
export const TRANSFORMS = ['w-320', 'w-640', 'w-960', 'w-400,h-300', 'w-200,h-200', 'w-800,q-60'];
/** [Accept header, weight]: modern browsers (AVIF+WebP), WebP-only, JPEG-only clients, bots. */
export const ACCEPTS: [string, number][] = [
  ['image/avif,image/webp,image/apng,image/*,*/*;q=0.8', 55],
  ['image/webp,*/*', 15],
  ['image/jpeg,image/png,*/*;q=0.5', 10],
  ['*/*', 20],
];

export interface GeoOptions {
  mode: 'full' | 'smoke';
  seed: number;
  /** Requests per policy run. */
  requests: number;
  concurrency: number;
  /** Leading fraction of each run left out of the summary (caches and learning warm up). */
  warmup: number;
  images: number;
  zipfS: number;
  scenarios: Scenario[];
  policies: Policy[];
  /** Per-scenario override of `policies` (the smoke run kills a region for one policy only). */
  policiesFor?: Partial<Record<Scenario, Policy[]>>;
  home: RegionId;
  degradeRegion: RegionId;
  degradeMs: number;
  killRegion: RegionId;
  /** The event happens when this fraction of the run's requests has been issued. */
  eventAt: number;
  /** Hard bound per policy run, seconds (requests not issued by then are dropped). */
  maxSecondsPerRun: number;
  /** Ports: S3 = base, regions base+1…+6, edge base+87, proxies base+111…, base+121…, base+130. */
  basePort: number;
  outDir?: string;
  log: (msg: string) => void;
}

export const DEFAULT_GEO: GeoOptions = {
  mode: 'full',
  seed: 7,
  requests: 3000,
  concurrency: 16,
  warmup: 0.3,
  images: 24,
  zipfS: 1.0,
  scenarios: SCENARIOS,
  policies: POLICIES,
  home: 'eu-central-1',
  degradeRegion: 'us-east-1',
  degradeMs: 150,
  killRegion: 'ap-southeast-1',
  eventAt: 0.5,
  maxSecondsPerRun: 45,
  basePort: 9500,
  log: (m) => console.log(m),
};

interface Req {
  i: number;
  colo: string;
  image: string;
  tr: string;
  accept: string;
  clientLegMs: number;
}

interface Outcome {
  i: number;
  /** Seconds since the run started, when the request was issued. */
  t: number;
  colo: string;
  latencyMs: number;
  edgeHit: boolean;
  ok: boolean;
  status: number;
  region?: RegionId;
  /** Regions tried, in order (more than one = failover). */
  attempts: RegionId[];
  regionCache?: 'HIT' | 'MISS';
  /** Expected cost of the chosen region minus the best one, under the ground truth (edge misses only). */
  regretMs?: number;
  optimal?: boolean;
}

export interface PolicyRun {
  policy: Policy;
  account: string;
  requests: number;
  durationS: number;
  latency: LatencySummary;
  /** Latency of edge misses only (where the policies differ). */
  missLatency: LatencySummary;
  /** 1-minute load average at the start and end of the run (other work on the machine). */
  loadAvg1: [number, number];
  /** Share of requests answered within 50 ms (the "under 50 ms for 98 %" claim). */
  within50ms: number;
  edgeHitRatio: number;
  /** Among edge misses: answered from the serving region's result cache. */
  regionHitRatio: number;
  /** GETs of originals at the S3 proxy during the run. */
  originalFetches: number;
  errors: number;
  failovers: number;
  /** Mean expected-cost regret per edge miss vs. the oracle's choice (ground-truth model), ms. */
  decisionRegretMs: number;
  /** Share of edge misses sent to the region the oracle would pick. */
  optimalShare: number;
  /** This policy's latency percentiles minus the oracle run's (same request stream). */
  regretVsOracle?: { mean: number; p50: number; p90: number; p98: number; p99: number };
  regionShare: Partial<Record<RegionId, number>>;
  /** pixmesh only: the edge's RTT estimates at the end of the run (GET /_routing per colo) against the ground truth. */
  learning?: LearningReport;
  event?: EventReport;
  /** Buckets of `n` consecutive requests from index `i` (t = seconds at the bucket's first request). */
  timeline: { i: number; n: number; t: number; requests: number; p50: number; errors: number; shareToEventRegion: number | null }[];
}

export interface LearningReport {
  /** (colo, region) pairs with learned samples. */
  learnedPairs: number;
  /** Mean |estimate − true RTT| over those pairs, ms: the prior alone, the learned mean, and the blend the model uses. */
  priorMaeMs: number;
  learnedMaeMs: number;
  blendedMaeMs: number;
  /** Mean (learned − true), ms: positive = the edge sees regions slower than the network is (local overhead in its samples). */
  learnedBiasMs: number;
  /** Mean |prior − true| over every (colo, region) pair of the population. */
  priorMaeAllMs: number;
}

interface RoutingView {
  decision: { candidates: { region: RegionId; rttMs: number; priorRttMs: number; learnedRttMs: number | null; rttSamples: number }[]; excluded: { region: RegionId; rttMs: number; priorRttMs: number; learnedRttMs: number | null; rttSamples: number }[] };
}

/** Ask the pixmesh edge what it has learned, colo by colo, and compare with the ground truth. */
async function learningReport(ctx: RunCtx, accountId: string): Promise<LearningReport | undefined> {
  const prior: number[] = [];
  const priorAll: number[] = [];
  const learned: number[] = [];
  const blended: number[] = [];
  const bias: number[] = [];
  for (const [colo] of COLO_POPULATION) {
    const res = await fetch(`${ctx.edge.url}/_routing?account=${accountId}`, { headers: { 'x-pixmesh-colo': colo, authorization: `Basic ${Buffer.from(`private_bench_${accountId}:`).toString('base64')}` } });
    if (!res.ok) continue;
    const view = (await res.json()) as RoutingView;
    for (const c of [...view.decision.candidates, ...view.decision.excluded]) {
      const truth = ctx.world.truth.rtt(colo, c.region) + (ctx.world.extraMs[c.region] ?? 0);
      priorAll.push(Math.abs(c.priorRttMs - truth));
      if (c.learnedRttMs === null || c.rttSamples <= 0) continue;
      prior.push(Math.abs(c.priorRttMs - truth));
      learned.push(Math.abs(c.learnedRttMs - truth));
      blended.push(Math.abs(c.rttMs - truth));
      bias.push(c.learnedRttMs - truth);
    }
  }
  if (!priorAll.length) return undefined;
  const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
  return { learnedPairs: learned.length, priorMaeMs: mean(prior), learnedMaeMs: mean(learned), blendedMaeMs: mean(blended), learnedBiasMs: mean(bias), priorMaeAllMs: mean(priorAll) };
}

export interface EventReport {
  kind: 'degrade' | 'kill';
  region: RegionId;
  atS: number;
  /** Request index at which the event happened. */
  atIndex: number;
  /** Edge-miss requests that went to (or tried) the region before/after the event, as shares of edge misses. */
  shareBefore: number;
  shareAfter: number;
  /** After the event: requests answered by (degrade) or attempted at (kill) the region. */
  requestsToRegionAfter: number;
  /** Seconds from the event to the last request answered by / attempting the region (null: none after). */
  lastToRegionAfterS: number | null;
  /** Requests issued between the event and that last request. */
  requestsUntilMoved: number | null;
  errorsAfter: number;
  failoversAfter: number;
  /** Latency of requests issued in the 10 s after the event. */
  windowLatency: LatencySummary;
}

export interface GeoResults {
  groundTruth: { seed: number; colos: number; linkInflation: { min: number; median: number; max: number } };
  hitServiceMs: { value: number; source: string };
  scenarios: Partial<Record<Scenario, PolicyRun[]>>;
}

function makeStream(o: GeoOptions, images: string[]): Req[] {
  const rng = new Rng(hashSeed(o.seed, 'stream'));
  const zImg = new Zipf(images.length, o.zipfS);
  const zTr = new Zipf(TRANSFORMS.length, 0.8);
  const coloW = COLO_POPULATION.map(([, w]) => w);
  const acceptW = ACCEPTS.map(([, w]) => w);
  return Array.from({ length: o.requests }, (_, i) => ({
    i,
    colo: COLO_POPULATION[rng.weighted(coloW)]![0],
    image: images[zImg.sample(rng)]!,
    tr: TRANSFORMS[zTr.sample(rng)]!,
    accept: ACCEPTS[rng.weighted(acceptW)]![0],
    clientLegMs: Math.round(rng.logNormal(CLIENT_LEG_MEDIAN_MS, CLIENT_LEG_SIGMA) * 10) / 10,
  }));
}

async function makeImages(n: number, seed: number): Promise<{ key: string; body: Buffer; contentType: string }[]> {
  const rng = new Rng(hashSeed(seed, 'images'));
  const out = [];
  for (let i = 0; i < n; i++) {
    const w = 1000 + 200 * rng.int(5);
    const h = Math.round(w * (0.6 + 0.4 * rng.next()));
    const hue = rng.int(360);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},70%,60%)"/><stop offset="1" stop-color="hsl(${(hue + 90) % 360},60%,30%)"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>${Array.from({ length: 14 }, () => `<circle cx="${rng.int(w)}" cy="${rng.int(h)}" r="${20 + rng.int(Math.round(h / 4))}" fill="hsl(${rng.int(360)},60%,55%)" fill-opacity="0.6"/>`).join('')}</svg>`;
    const body = await sharp(Buffer.from(svg)).jpeg({ quality: 88 }).toBuffer();
    out.push({ key: `bench/img-${String(i).padStart(3, '0')}.jpg`, body, contentType: 'image/jpeg' });
  }
  return out;
}

function accountsJson(ids: string[], home: RegionId, s3ProxyUrl: string) {
  return {
    accounts: ids.map((id) => ({
      id,
      homeRegion: home,
      privateKey: `private_bench_${id}`,
      publicKey: `public_bench_${id}`,
      endpoints: [
        {
          prefix: '',
          origins: [{ type: 's3', bucket: 'bench-originals', endpoint: s3ProxyUrl, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }],
        },
      ],
    })),
  };
}

/** The world the proxies consult: ground truth plus what the scenario has done to it. */
interface World {
  truth: GroundTruth;
  extraMs: Partial<Record<RegionId, number>>;
  rng: Rng;
}

function serverTimingFailover(st: string | undefined): RegionId[] {
  const m = st ? /failover;desc="([^"]+)"/.exec(st) : null;
  return m ? (m[1]!.split('>') as RegionId[]) : [];
}
const procMs = (st: string | undefined): number | undefined => {
  const m = st ? /(?:^|,)\s*proc;dur=([\d.]+)/.exec(st) : null;
  return m ? Number(m[1]) : undefined;
};

interface RunCtx {
  o: GeoOptions;
  cluster: Cluster;
  world: World;
  edge: RunningWorker;
  passThrough: RunningWorker;
  edgeProxies: Record<RegionId, DelayProxy>;
  s3Proxy: DelayProxy;
  accounts: AccountIndex;
  hitServiceMs: number;
  agent: http.Agent;
}

async function runPolicy(ctx: RunCtx, scenario: Scenario, policy: Policy, stream: Req[]): Promise<{ run: PolicyRun; outcomes: Outcome[] }> {
  const { o, world } = ctx;
  const accountId = `${scenario}-${policy}`;
  const account = ctx.accounts.get(accountId) as Account;
  const home = account.homeRegion;
  const edgeCache = new Map<string, Set<string>>();
  const regionHas = Object.fromEntries(REGION_IDS.map((r) => [r, new Set<string>()])) as Record<RegionId, Set<string>>;
  const dead = new Set<RegionId>();
  let missWorkMs = 60; // EWMA of fetch + transform at home, for the oracle's cost model
  const eventIndex = scenario === 'steady' ? -1 : Math.floor(o.eventAt * stream.length);
  const eventRegion = scenario === 'degrade' ? o.degradeRegion : scenario === 'kill' ? o.killRegion : undefined;
  let eventAtS: number | undefined;
  const outcomes: Outcome[] = [];
  const s3Before = ctx.s3Proxy.counts.GET ?? 0;
  const loadStart = round(os.loadavg()[0]!, 2);
  const t0 = performance.now();
  const deadline = t0 + o.maxSecondsPerRun * 1000;

  const trueCost = (colo: string, r: RegionId, key: string): number => {
    if (dead.has(r)) return Infinity;
    const net = world.truth.rtt(colo, r) + (world.extraMs[r] ?? 0);
    if (regionHas[r].has(key)) return net;
    if (r === home) return net + missWorkMs;
    return net + world.truth.interRegion(r, home) + (regionHas[home].has(key) ? 0 : missWorkMs);
  };

  const trigger = async () => {
    if (!eventRegion) return;
    eventAtS = (performance.now() - t0) / 1000;
    if (scenario === 'degrade') world.extraMs[eventRegion] = o.degradeMs;
    else {
      dead.add(eventRegion);
      await ctx.cluster.stopRegion(eventRegion, 'SIGKILL');
    }
    o.log(`    ${scenario}: ${eventRegion} ${scenario === 'degrade' ? `+${o.degradeMs} ms` : 'killed'} at ${eventAtS.toFixed(1)} s`);
  };

  const direct = async (r: RegionId, req: Req, format: string): Promise<Timed> => {
    const internalPath = `/internal/render/${encodeURIComponent(accountId)}/tr:${req.tr}/${req.image}`;
    const headers = new Headers();
    headers.set(H.format, format);
    headers.set(H.signed, 'false');
    headers.set(H.requestId, randomUUID());
    headers.set(H.edgeColo, req.colo);
    await signInternalRequest(ctx.cluster.internalSecret, headers, { method: 'GET', pathAndQuery: internalPath, region: r });
    headers.set('x-bench-target', ctx.edgeProxies[r].url + internalPath);
    const res = await timedGet(ctx.passThrough.url + internalPath, Object.fromEntries(headers), ctx.agent, 20_000);
    // 599 = the worker could not reach the region (a network error at the edge).
    return res.status === 599 ? { ...res, status: 0, error: 'unreachable' } : res;
  };

  await pool(stream, o.concurrency, async (req) => {
    if (performance.now() > deadline) return;
    if (req.i === eventIndex) await trigger();
    const t = (performance.now() - t0) / 1000;
    const plan = parseTransformation(req.tr, { namedTransforms: account.namedTransforms, namedOnly: account.namedOnly });
    const { format } = negotiateFormat(plan, req.accept, account.defaults);
    const key = `${req.image}|${req.tr}|${format}`;
    let colCache = edgeCache.get(req.colo);
    if (!colCache) edgeCache.set(req.colo, (colCache = new Set()));
    if (colCache.has(key)) {
      outcomes.push({ i: req.i, t, colo: req.colo, latencyMs: req.clientLegMs + ctx.hitServiceMs, edgeHit: true, ok: true, status: 200, attempts: [] });
      return;
    }
    // Decision-time costs under the ground truth (for regret and for the oracle).
    const costs = Object.fromEntries(REGION_IDS.map((r) => [r, trueCost(req.colo, r, key)])) as Record<RegionId, number>;
    const best = Math.min(...Object.values(costs));
    let res: Timed | undefined;
    let attempts: RegionId[] = [];
    let elapsed = 0;
    if (policy === 'pixmesh') {
      res = await timedGet(`${ctx.edge.url}/${accountId}/tr:${req.tr}/${req.image}`, { 'x-pixmesh-colo': req.colo, accept: req.accept }, ctx.agent, 25_000);
      elapsed = res.totalMs;
      const fo = serverTimingFailover(hv(res.headers, 'server-timing'));
      const answered = hv(res.headers, H.region) as RegionId | undefined;
      attempts = fo.length ? fo : answered ? [answered] : [];
    } else {
      const order: RegionId[] =
        policy === 'home' ? [home] : policy === 'nearest' ? world.truth.nearestByDistance(req.colo) : [...REGION_IDS].filter((r) => !dead.has(r)).sort((a, b) => costs[a] - costs[b]);
      for (const r of order) {
        attempts.push(r);
        const a = await direct(r, req, format);
        elapsed += a.totalMs;
        res = a;
        if (!a.error && a.status < 500) break;
      }
    }
    const ok = !!res && !res.error && res.status === 200;
    const region = ok ? ((hv(res!.headers, H.region) as RegionId | undefined) ?? attempts[attempts.length - 1]) : undefined;
    const regionCache = ok ? (hv(res!.headers, H.regionCache) as 'HIT' | 'MISS' | undefined) : undefined;
    if (ok && region) {
      colCache.add(key);
      regionHas[region].add(key);
      if (regionCache === 'MISS' && region !== home) regionHas[home].add(key);
      const p = procMs(hv(res!.headers, 'server-timing'));
      if (regionCache === 'MISS' && region === home && p !== undefined) missWorkMs += 0.1 * (p - missWorkMs);
    }
    // Regret of the first choice; a choice of a dead region costs the wasted attempt plus the region that answered.
    const chosen = attempts[0];
    let regretMs: number | undefined;
    if (chosen !== undefined && Number.isFinite(costs[chosen])) regretMs = Math.max(0, costs[chosen] - best);
    else if (chosen !== undefined && ok && region && Number.isFinite(costs[region])) regretMs = Math.max(0, world.truth.rtt(req.colo, chosen) + costs[region] - best);
    outcomes.push({
      i: req.i,
      t,
      colo: req.colo,
      latencyMs: req.clientLegMs + elapsed,
      edgeHit: false,
      ok,
      status: res?.status ?? 0,
      region,
      attempts,
      regionCache,
      regretMs,
      optimal: chosen !== undefined ? costs[chosen] <= best + 1e-9 : undefined,
    });
  });
  const durationS = (performance.now() - t0) / 1000;
  const learning = policy === 'pixmesh' ? await learningReport(ctx, accountId).catch(() => undefined) : undefined;
  // Undo the scenario's damage for the next run.
  if (eventRegion) {
    delete world.extraMs[eventRegion];
    if (scenario === 'kill' && dead.has(eventRegion)) await ctx.cluster.startRegion(eventRegion);
  }
  const originalFetches = (ctx.s3Proxy.counts.GET ?? 0) - s3Before;
  outcomes.sort((a, b) => a.i - b.i);
  const run = summariseRun(o, policy, accountId, outcomes, durationS, originalFetches, eventRegion, eventAtS, scenario);
  run.loadAvg1[0] = loadStart;
  if (learning) run.learning = learning;
  return { run, outcomes };
}

function summariseRun(
  o: GeoOptions,
  policy: Policy,
  account: string,
  all: Outcome[],
  durationS: number,
  originalFetches: number,
  eventRegion: RegionId | undefined,
  eventAtS: number | undefined,
  scenario: Scenario,
): PolicyRun {
  const measured = all.filter((x) => x.i >= Math.floor(o.warmup * o.requests));
  const lat = measured.filter((x) => x.ok).map((x) => x.latencyMs);
  const misses = measured.filter((x) => !x.edgeHit);
  const okMisses = misses.filter((x) => x.ok);
  const decided = misses.filter((x) => x.regretMs !== undefined);
  const regionShare: Partial<Record<RegionId, number>> = {};
  for (const x of okMisses) if (x.region) regionShare[x.region] = (regionShare[x.region] ?? 0) + 1 / okMisses.length;
  for (const k of Object.keys(regionShare) as RegionId[]) regionShare[k] = round(regionShare[k]!, 3);
  const touches = (x: Outcome) => (scenario === 'kill' ? x.attempts.includes(eventRegion!) : x.region === eventRegion);
  // Buckets by request index (the event happens at the same index for every policy, so runs line up).
  const timeline: PolicyRun['timeline'] = [];
  const size = Math.max(1, Math.round(o.requests / 30));
  for (let i0 = 0; i0 < o.requests; i0 += size) {
    const b = all.filter((x) => x.i >= i0 && x.i < i0 + size);
    if (!b.length) continue;
    const bm = b.filter((x) => !x.edgeHit);
    timeline.push({
      i: i0,
      n: size,
      t: round(Math.min(...b.map((x) => x.t)), 2),
      requests: b.length,
      p50: round(summarise(b.filter((x) => x.ok).map((x) => x.latencyMs)).p50),
      errors: b.filter((x) => !x.ok).length,
      shareToEventRegion: eventRegion && bm.length ? round(bm.filter(touches).length / bm.length, 3) : null,
    });
  }
  let event: EventReport | undefined;
  if (eventRegion && eventAtS !== undefined) {
    const before = all.filter((x) => x.t < eventAtS && !x.edgeHit && x.i >= Math.floor(o.warmup * o.requests));
    const after = all.filter((x) => x.t >= eventAtS);
    const afterMiss = after.filter((x) => !x.edgeHit);
    const touching = afterMiss.filter(touches);
    const last = touching.length ? touching[touching.length - 1]! : undefined;
    event = {
      kind: scenario as 'degrade' | 'kill',
      region: eventRegion,
      atS: round(eventAtS, 2),
      atIndex: Math.floor(o.eventAt * o.requests),
      shareBefore: before.length ? round(before.filter(touches).length / before.length, 3) : 0,
      shareAfter: afterMiss.length ? round(touching.length / afterMiss.length, 3) : 0,
      requestsToRegionAfter: touching.length,
      lastToRegionAfterS: last ? round(last.t - eventAtS, 2) : null,
      requestsUntilMoved: last ? after.filter((x) => x.i <= last.i).length : null,
      errorsAfter: after.filter((x) => !x.ok).length,
      failoversAfter: after.filter((x) => x.attempts.length > 1).length,
      windowLatency: summarise(after.filter((x) => x.ok && x.t < eventAtS + 10).map((x) => x.latencyMs)),
    };
  }
  return {
    policy,
    account,
    requests: all.length,
    durationS: round(durationS, 1),
    latency: summarise(lat),
    missLatency: summarise(okMisses.map((x) => x.latencyMs)),
    loadAvg1: [0, round(os.loadavg()[0]!, 2)],
    within50ms: round(shareBelow(measured.map((x) => (x.ok ? x.latencyMs : Infinity)), 50), 3),
    edgeHitRatio: round(measured.filter((x) => x.edgeHit).length / Math.max(1, measured.length), 3),
    regionHitRatio: round(okMisses.filter((x) => x.regionCache === 'HIT').length / Math.max(1, okMisses.length), 3),
    originalFetches,
    errors: measured.filter((x) => !x.ok).length,
    failovers: measured.filter((x) => x.attempts.length > 1).length,
    decisionRegretMs: round(decided.reduce((a, x) => a + x.regretMs!, 0) / Math.max(1, decided.length)),
    optimalShare: round(misses.filter((x) => x.optimal).length / Math.max(1, misses.filter((x) => x.optimal !== undefined).length), 3),
    regionShare,
    event,
    timeline,
  };
}

export async function runGeo(partial: Partial<GeoOptions> = {}): Promise<{ file: string; results: GeoResults }> {
  const o: GeoOptions = { ...DEFAULT_GEO, ...partial };
  const started = new Date();
  const t0 = performance.now();
  const host = '127.0.0.1';
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-bench-geo-'));
  const truth = new GroundTruth(o.seed);
  const world: World = { truth, extraMs: {}, rng: new Rng(hashSeed(o.seed, 'jitter')) };
  const regionPorts = Object.fromEntries(REGION_IDS.map((id, i) => [id, o.basePort + 1 + i])) as Record<RegionId, number>;
  const regionUrl = (r: RegionId) => `http://${host}:${regionPorts[r]}`;
  const proxies: DelayProxy[] = [];
  let cluster: Cluster | undefined;
  let edge: RunningWorker | undefined;
  let passThrough: RunningWorker | undefined;
  const log = o.log;
  try {
    // Delay proxies: edge → region r (RTT by the colo the edge names), region r → peer (CloudPing), region → S3.
    const edgeProxies = {} as Record<RegionId, DelayProxy>;
    for (const [i, r] of REGION_IDS.entries()) {
      edgeProxies[r] = await startDelayProxy(host, o.basePort + 111 + i, (req) => {
        const colo = String(req.headers[H.edgeColo] ?? '').toUpperCase();
        const base = truth.coloRtt[colo]?.[r] ?? 0;
        return { target: regionUrl(r), delayMs: base * jitter(world.rng) + (world.extraMs[r] ?? 0) };
      });
      proxies.push(edgeProxies[r]);
    }
    const forwardProxies = {} as Record<RegionId, DelayProxy>;
    for (const [i, from] of REGION_IDS.entries()) {
      forwardProxies[from] = await startDelayProxy(host, o.basePort + 121 + i, (req) => {
        const m = /^\/_to\/([a-z0-9-]+)(\/.*)$/.exec(req.url ?? '');
        const to = m?.[1] as RegionId | undefined;
        if (!m || !to || !REGION_IDS.includes(to)) return null;
        return { target: regionUrl(to), path: m[2]!, delayMs: truth.interRegion(from, to) * jitter(world.rng) };
      });
      proxies.push(forwardProxies[from]);
    }
    const s3Port = o.basePort;
    const s3Proxy = await startDelayProxy(host, o.basePort + 130, () => ({ target: `http://${host}:${s3Port}`, delayMs: S3_SAME_REGION_MS }));
    proxies.push(s3Proxy);

    const ids = o.scenarios.flatMap((s) => (o.policiesFor?.[s] ?? o.policies).map((p) => `${s}-${p}`));
    const accounts = accountsJson(ids, o.home, s3Proxy.url);
    const accountsFile = path.join(dataDir, 'accounts.json');
    fs.writeFileSync(accountsFile, JSON.stringify(accounts, null, 2));
    const accountIndex = AccountIndex.fromJson(JSON.stringify(accounts));

    log(`geo: starting cluster (s3 ${s3Port}, regions ${regionPorts['us-east-1']}–${regionPorts['ap-southeast-1']}) in ${dataDir}`);
    const originEnvByRegion = Object.fromEntries(
      REGION_IDS.map((from) => [from, { PIXMESH_REGION_URLS: JSON.stringify(Object.fromEntries(REGION_IDS.map((to) => [to, `${forwardProxies[from].url}/_to/${to}`]))) }]),
    );
    cluster = await startCluster({
      dataDir,
      accountsFile,
      host,
      s3Port,
      edgePort: o.basePort + 87,
      regionPorts,
      logs: { dir: path.join(dataDir, 'logs') },
      buckets: ['bench-originals'],
      originEnvByRegion,
      edge: false,
    });
    const images = await makeImages(o.images, o.seed);
    await putObjects(cluster.s3Url, 'bench-originals', images);
    log(`geo: ${images.length} originals uploaded; bundling the edge`);
    const bundle = buildEdgeBundle(path.join(dataDir, 'edge-bundle'));

    const edgeJson = readSuite<{ hit: { pixmesh: { p50: number } } }>('edge', o.outDir);
    const hitServiceMs = edgeJson?.results?.hit?.pixmesh?.p50 ?? 2;
    const hitSource = edgeJson?.results?.hit?.pixmesh?.p50 !== undefined ? `p50 of a HIT through the edge worker (bench/results/edge.json, ${edgeJson.mode})` : 'assumed (no edge.json yet)';

    passThrough = await startInlineWorker({ script: PASS_THROUGH_WORKER, host, port: o.basePort + 88 });
    const stream = makeStream(o, images.map((i) => i.key));
    const agent = keepAliveAgent(256);
    const scenarios: GeoResults['scenarios'] = {};
    for (const scenario of o.scenarios) {
      const runs: PolicyRun[] = [];
      for (const policy of o.policiesFor?.[scenario] ?? o.policies) {
        // A fresh edge per run: the pixmesh policy starts from the prior every time (no state carried over).
        edge = await startEdgeWorker({
          scriptPath: bundle,
          host,
          port: o.basePort + 87,
          cache: false,
          bindings: {
            PIXMESH_REGION_URLS: JSON.stringify(Object.fromEntries(REGION_IDS.map((r) => [r, edgeProxies[r].url]))),
            PIXMESH_INTERNAL_SECRET: cluster.internalSecret,
            PIXMESH_TRUST_GEO_HEADERS: 'true',
            PIXMESH_ACCOUNTS_JSON: JSON.stringify(accounts),
          },
        });
        log(`  ${scenario} / ${policy}: ${stream.length} requests, concurrency ${o.concurrency}`);
        const ctx: RunCtx = { o, cluster, world, edge, passThrough, edgeProxies, s3Proxy, accounts: accountIndex, hitServiceMs, agent };
        const { run } = await runPolicy(ctx, scenario, policy, stream);
        log(
          `    p50 ${run.latency.p50} p90 ${run.latency.p90} p98 ${run.latency.p98} p99 ${run.latency.p99} ms; edge hit ${run.edgeHitRatio}, region hit ${run.regionHitRatio}, originals ${run.originalFetches}, errors ${run.errors}, regret ${run.decisionRegretMs} ms (${run.durationS} s)`,
        );
        runs.push(run);
        await edge.dispose();
        edge = undefined;
      }
      const oracle = runs.find((r) => r.policy === 'oracle');
      if (oracle) {
        for (const r of runs) {
          r.regretVsOracle = {
            mean: round(r.latency.mean - oracle.latency.mean),
            p50: round(r.latency.p50 - oracle.latency.p50),
            p90: round(r.latency.p90 - oracle.latency.p90),
            p98: round(r.latency.p98 - oracle.latency.p98),
            p99: round(r.latency.p99 - oracle.latency.p99),
          };
        }
      }
      scenarios[scenario] = runs;
    }
    agent.destroy();
    const infl = Object.values(truth.inflation).flatMap((row) => Object.values(row)).sort((a, b) => a - b);
    const results: GeoResults = {
      groundTruth: { seed: o.seed, colos: COLO_POPULATION.length, linkInflation: { min: infl[0]!, median: infl[Math.floor(infl.length / 2)]!, max: infl[infl.length - 1]! } },
      hitServiceMs: { value: hitServiceMs, source: hitSource },
      scenarios,
    };
    const { log: _log, outDir: _out, policiesFor: _pf, ...config } = o;
    const { file } = writeSuite<GeoResults>(
      {
        suite: 'geo',
        mode: o.mode,
        startedAt: started.toISOString(),
        durationS: round((performance.now() - t0) / 1000, 1),
        config: { ...config, transforms: TRANSFORMS, accepts: ACCEPTS, colos: COLO_POPULATION },
        results,
        notes: [
          'Latency = client→colo leg (drawn per request) + time measured by this client to the last body byte; proxies add one ground-truth RTT per internal hop.',
          'Edge caches are per colo and emulated by the client for every policy (wrangler/Miniflare has one cache for all simulated colos); an emulated HIT costs the client leg + hitServiceMs. The pixmesh edge runs with its Cache API off, so every request it sees is a per-colo miss and is routed.',
          'Baseline policies send the same signed internal call the edge makes through the same proxies, via a minimal pass-through worker in workerd, so every policy pays a workerd hop on a miss; pixmesh additionally pays its own parsing, routing and signing (see the edge suite).',
          'decisionRegretMs prices each edge-miss choice with the ground-truth model (true RTT + degradation + forward + estimated fetch/transform work, knowing every region cache); regretVsOracle compares measured percentiles with the oracle run over the same request stream.',
          'Originals live in one S3 bucket behind a single proxy (same-region GET delay); a non-home region that fetches an original on home failure is not charged the cross-region S3 leg (no scenario kills the home region).',
          'All processes share one machine: transforms, workerd, six origins and the client compete for the same cores, so absolute transform times are inflated versus a real deployment.',
        ],
      },
      o.outDir,
    );
    return { file, results };
  } finally {
    await edge?.dispose().catch(() => undefined);
    await passThrough?.dispose().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    await Promise.all(proxies.map((p) => p.close().catch(() => undefined)));
    if (!process.env.PIXMESH_KEEP_BENCH_DATA) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
