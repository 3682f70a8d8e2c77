/**
 * The routing model (docs/routing.md): which region should serve an edge miss from this colo,
 * and in which order to fail over. Pure: no I/O, no clock (callers pass `now`), state in and out
 * as plain JSON-able objects.
 *
 *   expected(r) = RTT(colo → r) + service(r) + P(r misses) · [RTT(r → home) + service(home) + P(home misses) · work(home)] + healthPenalty(r)
 *   expected(home) = RTT(colo → home) + service(home) + P(home misses) · work(home)
 *
 * - RTT(colo → r): the generated prior (great circle × fibre × 2.1), blended with what this edge
 *   has measured (EWMA with a sample count that decays with age, so stale learning fades back
 *   to the prior).
 * - P(r misses): 1 − P(r's internal cache holds the variant), learned from what regions report
 *   (per region, refined per account, refined by whether this edge saw r serve the variant),
 *   with a prior of 0.5 until samples exist.
 * - service / work: learned from the regions' Server-Timing (a cached answer's proc = load and
 *   queueing; home's proc on a miss − that = fetch + transform).
 * - RTT(r → home): the CloudPing inter-region matrix (shared/regions.ts).
 * - health: open breakers are excluded unless every allowed region is open; half-open ones pay
 *   a penalty so they are tried only when nothing healthy is close.
 * Strict-residency accounts go to the home region only; requests on a custom domain go to the
 * home region first (docs/architecture.md, request flow step 3) with the rest as failover.
 */
import { INTER_REGION_RTT_MS, isRegionId, REGION_IDS, type RegionId } from '../../../shared/regions.js';
import type { BreakerStatus } from '../../../shared/breaker.js';
import { COLO_PRIOR, CONTINENT_PRIOR, COUNTRY_PRIOR, PRIOR_REGION_ORDER } from './prior.generated.js';
import { priorRttRow, validLatLon } from './prior.js';

// ───────────────────────────── configuration ─────────────────────────────

export interface RoutingConfig {
  /** How many fresh samples the RTT prior is worth when blended with learning. */
  priorWeight: number;
  /** Learned evidence (sample count) halves in weight every this many ms without new samples. */
  rttHalfLifeMs: number;
  /**
   * EWMA smoothing floor: a new sample moves the mean by at least this fraction. Low (0.05, a
   * window of ~40 samples): per-request jitter averages out; a real change is a level shift
   * (outlier runs below), which restarts the estimate instead of crawling towards it.
   */
  rttMinAlpha: number;
  /**
   * The loopback overhead (`loop|<region>`) is the median of the last this many loopback probes:
   * it follows the machine's load within a few probes, and a stall (or a run of them, which an
   * EWMA with spike runs took as a level shift: 27–106 ms in the loaded geo runs, over-correcting
   * every user sample at that region) moves it only when it lasts for more than half the window.
   */
  loopWindow: number;
  /** Samples outside [0, maxRttMs] are rejected as measurement errors. */
  maxRttMs: number;
  /** Prior hit ratio of a region's internal cache before it has reported anything. */
  hitPrior: number;
  /** How many reports the hit-ratio prior is worth. */
  hitPriorWeight: number;
  hitHalfLifeMs: number;
  hitMinAlpha: number;
  /** Upper bound on the (decayed) sample count kept per estimate. */
  maxCount: number;
  /** Added to the expected latency of a half-open region. */
  halfOpenPenaltyMs: number;
  /** RTT assumed for every region when nothing is known about where the request comes from. */
  unknownRttMs: number;
  /** Bounds on the persisted state. */
  maxColos: number;
  maxHitKeys: number;
  /**
   * Robust RTT learning (foldRtt): once an estimate has this many samples, a sample outside
   * mean ± max(outlierMinMs, outlierFraction · mean) is an outlier (above: a suspected queueing
   * spike; below: a drop) and moves the mean with suspectAlpha only (0: not at all — a spike of
   * +200 ms on 2 % of the samples biased the mean by +3 ms at 0.05); suspectRun outliers in a row
   * on the same side are a level shift (a slow region, or one that recovered) and restart the
   * estimate from their median.
   */
  outlierAfterSamples: number;
  outlierMinMs: number;
  outlierFraction: number;
  suspectAlpha: number;
  suspectRun: number;
  /** P(region holds the variant) when this edge saw the region serve it within seenTtlMs: prior and its weight. */
  seenHoldPrior: number;
  seenTtlMs: number;
  /** Service-time estimates (a region's time for a cached answer; the home's extra time to fetch and transform). */
  svcHalfLifeMs: number;
  svcMinAlpha: number;
  /** Assumed before anything is measured, ms. */
  defaultHitServiceMs: number;
  defaultMissWorkMs: number;
  /** The region picked last for this colo and account keeps it unless another is better by more than this (ms, or fraction). */
  hysteresisMs: number;
  hysteresisFraction: number;
  /** Exploration by probes (HEAD /healthz, off the request path): a (colo, region) pair is probed when it has fewer than probeMinSamples or its newest sample is older than probeRefreshMs, at most once per probeMinIntervalMs. */
  probeMinSamples: number;
  probeRefreshMs: number;
  probeMinIntervalMs: number;
  /** A closed region whose last answer failed is probed again at most this often (explore.ts `confirm`). */
  probeConfirmIntervalMs: number;
  /** A region's loopback probe (explore.ts `loopback`, where a loopback URL is configured) at most this often. */
  probeLoopbackIntervalMs: number;
  /**
   * Placement credit: a miss answered through a non-home region leaves the variant in that
   * region's cache, so the next requests for it from that region's side of the world are answered
   * there instead of at home. The ranking (not the expected latency reported) credits a region
   * with P(miss) × placementValue × max(0, (RTT(colo → home) + service(home)) − (RTT(colo → r) + service(r))):
   * placementValue is how many later requests are expected to find the variant there. 0 = rank
   * by this request's expected latency alone (myopic), the default since the edge fills the
   * colo's nearest region in the background instead (fillTarget): the warming then costs no user
   * a detour (in the geo simulation, bench/geo/sim.ts, credit 1 without fill was 2–19 % above
   * the oracle at p90 and up to 19 % above nearest at p50; fill with credit 0: below both at p90).
   * Only regions whose breaker is closed earn it.
   */
  placementValue: number;
  /**
   * Fills of the account's other near regions (fillTargets, docs/routing.md "Placement"): after an
   * answer, besides the requesting colo's nearest region, every region that is the nearest region
   * of at least this share of the account's recent edge misses (the account's region mix,
   * recordNearest) and does not hold the variant as far as the edge saw, is filled too, so the
   * first request from that side of the world finds it there. 1 (or more) = only the requesting
   * colo's nearest region, as before 2026-12-03. At most fillMaxRegions fills per answer.
   */
  fillMinShare: number;
  fillMaxRegions: number;
  /** The region mix's counts halve every this many ms. */
  fillMixHalfLifeMs: number;
  /**
   * Region-wide level shifts (a region that slows down is slow for every colo): when
   * shiftRun suspected spikes in a row at one region come from at least shiftMinColos colos, the
   * median of their excess over each pair's mean is a shift of that region, added to every colo's
   * estimate of it that has not been measured since (prior included), until shiftTtlMs after the
   * last confirming sample. A pair's own next suspect sample then folds from mean + shift.
   */
  shiftRun: number;
  shiftMinColos: number;
  /** …and only when the run's excesses agree: max − min ≤ max(outlierMinMs, shiftSpread × their median). */
  shiftSpread: number;
  /**
   * …and only when the run has lasted: its first suspect at least this long before the one that
   * confirms it (no sample at the region that was no spike in between). A stall of the machine
   * (every process on the path at once) adds the same excess to every sample in flight, so its
   * spikes agree as a real shift's do, but it is over in well under a second and the next
   * ordinary sample ends the run; a slow region stays slow. (The first geo runs with twin probes
   * confirmed 1–2 such shifts per steady run, each biasing that region's probe-only estimates.)
   */
  shiftMinSpanMs: number;
  /**
   * …unless the slowness is the region's alone: since the run began, at least
   * shiftIsolationRegions other regions answered ordinarily and none had a spike (from
   * shiftIsolationMarginMs before the run began). A stall of the machine delays every request in
   * flight, whatever its region, and its spikes all come back together when it ends, so no other
   * region can have answered ordinarily in between; a slow region leaves the others as they were.
   * (The span alone held a slow region's traffic 1.5 s longer: 6.8–15.8 % of the misses 0–10 s
   * after the degradation in the 14:20 UTC geo run, against 1.8–4.3 % without it.)
   */
  shiftIsolationRegions: number;
  shiftIsolationMarginMs: number;
  shiftTtlMs: number;
}

export const DEFAULT_ROUTING_CONFIG: Readonly<RoutingConfig> = {
  priorWeight: 3,
  rttHalfLifeMs: 60 * 60_000,
  rttMinAlpha: 0.05,
  loopWindow: 7,
  maxRttMs: 10_000,
  hitPrior: 0.5,
  hitPriorWeight: 4,
  hitHalfLifeMs: 30 * 60_000,
  hitMinAlpha: 0.05,
  maxCount: 200,
  halfOpenPenaltyMs: 300,
  unknownRttMs: 150,
  maxColos: 64,
  maxHitKeys: 512,
  outlierAfterSamples: 4,
  outlierMinMs: 8,
  outlierFraction: 0.25,
  suspectAlpha: 0,
  suspectRun: 3,
  seenHoldPrior: 0.95,
  seenTtlMs: 60 * 60_000,
  svcHalfLifeMs: 10 * 60_000,
  svcMinAlpha: 0.1,
  defaultHitServiceMs: 2,
  defaultMissWorkMs: 60,
  hysteresisMs: 3,
  hysteresisFraction: 0.03,
  probeMinSamples: 2,
  probeRefreshMs: 15_000,
  probeMinIntervalMs: 5_000,
  probeConfirmIntervalMs: 100,
  probeLoopbackIntervalMs: 2_000,
  placementValue: 0,
  fillMinShare: 0.1,
  fillMaxRegions: 5,
  fillMixHalfLifeMs: 10 * 60_000,
  shiftRun: 3,
  shiftMinColos: 2,
  shiftSpread: 0.3,
  shiftMinSpanMs: 1_500,
  shiftIsolationRegions: 2,
  shiftIsolationMarginMs: 1_000,
  shiftTtlMs: 60_000,
};

/**
 * Complete configurations (the defaults and every merge made here): passed on to the helpers as
 * `config`, they are used as they are. Before 2026-12-02 every helper spread the ~45 defaults
 * over the complete config it was handed, about 50 times per decision: 72 % of decideRoute's
 * time (43–56 µs per decision in Node; 4–6 µs without).
 */
const COMPLETE = new WeakSet<object>([DEFAULT_ROUTING_CONFIG]);

/** The configuration in force: the defaults overridden by `partial` (a complete one as it is). */
export function routingConfig(partial?: Partial<RoutingConfig>): RoutingConfig {
  if (!partial) return DEFAULT_ROUTING_CONFIG;
  if (COMPLETE.has(partial)) return partial as RoutingConfig;
  const cfg = { ...DEFAULT_ROUTING_CONFIG, ...partial };
  COMPLETE.add(cfg);
  return cfg;
}

const cfgOf = routingConfig;

// ───────────────────────────── state (JSON) ─────────────────────────────

/** A learned quantity: EWMA mean, sample count (as of `at`) and when it was last updated (ms). */
export interface Estimate {
  mean: number;
  n: number;
  at: number;
  /**
   * RTT only: the current run of outliers, all on the same side of the mean (suspected spikes
   * above it, drops below it; see RoutingConfig.outlierAfterSamples). suspectRun of them in a row
   * are a level shift and restart the estimate from their median.
   */
  run?: number[];
}

export interface RoutingState {
  version: 1;
  /** colo (IATA) → region → learned RTT in ms. */
  rtt: Record<string, Partial<Record<RegionId, Estimate>>>;
  /**
   * Hit ratio of a region's internal cache: key "<region>" (all traffic), "<region>|<accountId>",
   * or "<region>|<accountId>|seen" / "…|unseen" (variants this edge did / did not see the region serve).
   */
  hit: Record<string, Estimate>;
  /**
   * Service times, ms: "hit|<region>" = the region's own time for an answer from its cache (load,
   * queueing, disk); "work|<region>" = the extra time that region needs, as home, to fetch an
   * original and transform it (its proc on a MISS minus its hit time).
   */
  svc?: Record<string, Estimate>;
  /** Region-wide level shifts (RoutingConfig.shiftRun): region → the shift and the suspect run that leads to it. */
  shift?: Partial<Record<RegionId, RegionShift>>;
}

/**
 * A region's level shift. `run` holds the current run of suspected spikes at the region (colo and
 * excess over that pair's mean, ms; any sample that is no spike ends it). `mean` / `since` / `at`
 * are set once a run confirms a shift: the shift in ms, when it was confirmed, when last confirmed.
 */
export interface RegionShift {
  run: { colo: string; excess: number }[];
  /** When the current run's first suspect came (RoutingConfig.shiftMinSpanMs). */
  runSince?: number;
  /** When this region last gave a spike / an ordinary sample, from an estimate with outlierAfterSamples (RoutingConfig.shiftIsolationRegions). */
  spikeAt?: number;
  okAt?: number;
  mean?: number;
  since?: number;
  at?: number;
}

export function emptyState(): RoutingState {
  return { version: 1, rtt: {}, hit: {}, svc: {}, shift: {} };
}

/** Sample count after decay: evidence halves every half-life. */
export function decayedCount(e: Estimate, now: number, halfLifeMs: number): number {
  const age = Math.max(0, now - e.at);
  return e.n * Math.pow(2, -age / halfLifeMs);
}

function fold(prev: Estimate | undefined, x: number, now: number, halfLifeMs: number, minAlpha: number, maxCount: number): Estimate {
  if (!prev) return { mean: x, n: 1, at: now };
  const n = decayedCount(prev, now, halfLifeMs);
  const alpha = Math.max(minAlpha, 1 / (n + 1));
  return { mean: prev.mean + alpha * (x - prev.mean), n: Math.min(maxCount, n + 1), at: Math.max(now, prev.at) };
}

/**
 * The RTT fold: an EWMA that resists outliers (queueing spikes from local scheduling or a busy
 * socket; a drop from an over-corrected sample) but follows a real level shift. Once the estimate
 * has outlierAfterSamples samples, a sample outside mean ± max(outlierMinMs, outlierFraction ·
 * mean) is an outlier and moves the mean with suspectAlpha only; suspectRun outliers in a row on
 * the same side are a level shift (a slow region, or one that recovered): the estimate restarts
 * from their median, worth suspectRun samples. The EWMA's floor is rttMinAlpha (the loopback
 * overhead is a windowed median instead: recordService).
 */
export function foldRtt(prev: Estimate | undefined, x: number, now: number, cfg: RoutingConfig): Estimate {
  if (!prev) return { mean: x, n: 1, at: now };
  const n = decayedCount(prev, now, cfg.rttHalfLifeMs);
  const side = n >= cfg.outlierAfterSamples ? outlierSide(prev.mean, x, cfg) : 0;
  const at = Math.max(now, prev.at);
  if (side === 0) {
    // The third sample: the median of the first three (one bad sample among them does not set the estimate; from the fourth, outliers are suspected).
    if (prev.run?.length === 2 && n < 2.5) return { mean: median([...prev.run, x]), n: Math.min(cfg.maxCount, n + 1), at };
    const alpha = Math.max(cfg.rttMinAlpha, 1 / (n + 1));
    const next: Estimate = { mean: prev.mean + alpha * (x - prev.mean), n: Math.min(cfg.maxCount, n + 1), at };
    if (n < 1.5) next.run = [prev.mean, x];
    return next;
  }
  const before = prev.run ?? [];
  const run = before.length && Math.sign(before[0]! - prev.mean) === side ? [...before, x] : [x];
  if (run.length >= cfg.suspectRun) return { mean: median(run), n: run.length, at };
  return { mean: prev.mean + cfg.suspectAlpha * (x - prev.mean), n: Math.min(cfg.maxCount, n + 1), at, run };
}

/** +1: a suspected spike above the mean; −1: a drop below it; 0: an ordinary sample. */
function outlierSide(mean: number, x: number, cfg: RoutingConfig): -1 | 0 | 1 {
  const margin = Math.max(cfg.outlierMinMs, cfg.outlierFraction * mean);
  return x > mean + margin ? 1 : x < mean - margin ? -1 : 0;
}

/** Weighted blend of a learned estimate with a prior worth `priorWeight` samples. */
function blend(e: Estimate | undefined, prior: number, priorWeight: number, now: number, halfLifeMs: number): { value: number; n: number } {
  if (!e) return { value: prior, n: 0 };
  const n = decayedCount(e, now, halfLifeMs);
  if (priorWeight + n <= 0) return { value: prior, n: 0 };
  return { value: (priorWeight * prior + n * e.mean) / (priorWeight + n), n };
}

const COLO_RE = /^[A-Z]{3}$/;

/** Upper-case IATA code, or undefined when it does not look like one. */
export function normaliseColo(colo: unknown): string | undefined {
  if (typeof colo !== 'string') return undefined;
  const c = colo.trim().toUpperCase();
  return COLO_RE.test(c) ? c : undefined;
}

function newest(entries: Partial<Record<string, Estimate>>): number {
  let t = -Infinity;
  for (const e of Object.values(entries)) if (e && e.at > t) t = e.at;
  return t;
}

/** Drop the least recently updated keys beyond `max`. */
function bound<T>(rec: Record<string, T>, max: number, time: (v: T) => number): Record<string, T> {
  const keys = Object.keys(rec);
  if (keys.length <= max) return rec;
  const keep = keys.sort((a, b) => time(rec[b]!) - time(rec[a]!) || (a < b ? -1 : 1)).slice(0, max);
  return Object.fromEntries(keep.map((k) => [k, rec[k]!]));
}

export type SampleResult = { state: RoutingState; accepted: true } | { state: RoutingState; accepted: false; reason: string };

/**
 * Fold one RTT sample (ms, edge ↔ region network time: time to response headers minus the
 * region's own server time, which must include any forward to the home region).
 * Rejected samples leave the state untouched (same object).
 */
export function recordSample(
  state: RoutingState,
  colo: string,
  region: RegionId,
  rttMs: number,
  now: number,
  config?: Partial<RoutingConfig>,
): SampleResult {
  const cfg = cfgOf(config);
  const c = normaliseColo(colo);
  if (!c) return { state, accepted: false, reason: `not a colo code: ${JSON.stringify(colo)}` };
  if (!isRegionId(region)) return { state, accepted: false, reason: `unknown region ${JSON.stringify(region)}` };
  if (typeof rttMs !== 'number' || !Number.isFinite(rttMs) || rttMs < 0 || rttMs > cfg.maxRttMs)
    return { state, accepted: false, reason: `RTT ${rttMs} ms outside [0, ${cfg.maxRttMs}]` };
  if (!Number.isFinite(now)) return { state, accepted: false, reason: 'bad clock' };
  const row = state.rtt[c] ?? {};
  let prev = row[region];
  // A confirmed region-wide shift this pair has not absorbed yet: fold from mean + shift — when
  // this pair's own sample agrees (is nearer mean + shift than the mean). Otherwise the shift,
  // learned from other colos, does not hold here (or was no shift): the pair keeps its estimate,
  // and as the pair is now measured after the shift, the shift no longer applies to it.
  const pending = prev ? shiftFor(state, region, prev.at, now, cfg) : 0;
  if (prev && pending !== 0 && Math.abs(rttMs - (prev.mean + pending)) <= Math.abs(rttMs - prev.mean)) prev = { mean: prev.mean + pending, n: prev.n, at: prev.at };
  const shifts = { ...(state.shift ?? {}) };
  if (prev && decayedCount(prev, now, cfg.rttHalfLifeMs) >= cfg.outlierAfterSamples) {
    const sh = shifts[region] ?? { run: [] };
    if (isSpike(prev.mean, rttMs, cfg)) {
      const run = [...sh.run, { colo: c, excess: rttMs - prev.mean }].slice(-cfg.shiftRun);
      const runSince = sh.run.length && sh.runSince !== undefined ? sh.runSince : now;
      const confirmed =
        run.length >= cfg.shiftRun &&
        new Set(run.map((x) => x.colo)).size >= cfg.shiftMinColos &&
        consistent(run.map((x) => x.excess), cfg) &&
        (now - runSince >= cfg.shiftMinSpanMs || slowAlone(shifts, region, runSince, cfg));
      if (confirmed) {
        const shift = median(run.map((x) => x.excess));
        shifts[region] = { run: [], mean: shift, since: now, at: now, spikeAt: now, ...(sh.okAt !== undefined ? { okAt: sh.okAt } : {}) };
        // This sample confirmed it: the pair takes the shared shift at once (and folds its own sample from there).
        prev = { mean: prev.mean + shift, n: prev.n, at: prev.at };
      } else shifts[region] = { ...sh, run, runSince, spikeAt: now };
    } else {
      const { runSince: _ended, ...rest } = sh;
      shifts[region] = { ...rest, run: [], okAt: now };
    }
  }
  const nextRow = { ...row, [region]: foldRtt(prev, rttMs, now, cfg) };
  const rtt = bound({ ...state.rtt, [c]: nextRow }, cfg.maxColos, newest);
  return { state: { ...state, rtt, shift: shifts }, accepted: true };
}

/**
 * The region's run of spikes is its own (RoutingConfig.shiftIsolationRegions): since `since`, at
 * least shiftIsolationRegions other regions answered ordinarily, and none had a spike from
 * shiftIsolationMarginMs before it.
 */
function slowAlone(shifts: Partial<Record<RegionId, RegionShift>>, region: RegionId, since: number, cfg: RoutingConfig): boolean {
  let ordinary = 0;
  for (const r of REGION_IDS) {
    const o = r === region ? undefined : shifts[r];
    if (!o) continue;
    if (o.spikeAt !== undefined && o.spikeAt >= since - cfg.shiftIsolationMarginMs) return false;
    if (o.okAt !== undefined && o.okAt >= since) ordinary++;
  }
  return ordinary >= cfg.shiftIsolationRegions;
}

function isSpike(mean: number, x: number, cfg: RoutingConfig): boolean {
  return outlierSide(mean, x, cfg) === 1;
}

/**
 * A real shift adds about the same to every colo's samples; a local stall (every process on the
 * path at once) adds spikes of any size. The excesses agree when their spread is within
 * max(outlierMinMs, shiftSpread · median).
 */
function consistent(excess: number[], cfg: RoutingConfig): boolean {
  const spread = Math.max(...excess) - Math.min(...excess);
  return spread <= Math.max(cfg.outlierMinMs, cfg.shiftSpread * median(excess));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The region-wide shift that applies to one (colo, region) estimate now, ms: the region's
 * confirmed shift while it is fresh (shiftTtlMs since its last confirmation), for an estimate not
 * updated since the shift was confirmed (`pairAt` undefined: no samples, the prior alone). 0 otherwise.
 */
export function shiftFor(state: RoutingState | undefined, region: RegionId, pairAt: number | undefined, now: number, config?: Partial<RoutingConfig>): number {
  const cfg = cfgOf(config);
  const sh = state?.shift?.[region];
  if (!sh || sh.mean === undefined || sh.since === undefined || sh.at === undefined) return 0;
  if (now - sh.at > cfg.shiftTtlMs) return 0;
  if (pairAt !== undefined && pairAt >= sh.since) return 0;
  return sh.mean;
}

/**
 * The loopback's hold request (bench calibration, docs/routing.md "Twin probes"): a loopback URL
 * that honours it holds the request this many ms before passing it on, so a twin probe sent with
 * a network probe travels the same local path at the same moments.
 */
export const LOOPBACK_HOLD_HEADER = 'x-pixmesh-loopback-hold-ms';

/**
 * Network RTT from a probe and its twin, ms: the twin (a loopback held for `holdMs`, sent at the
 * same moment) sees the same local overhead at the same moments as the probe, so the difference
 * of their times to headers is the network's RTT minus the hold: holdMs + (probe − twin).
 * Not clamped at 0 before the hold is added; undefined when an input is not a finite number.
 */
export function twinRttMs(probeTtfbMs: number, twinTtfbMs: number, holdMs: number): number | undefined {
  if (![probeTtfbMs, twinTtfbMs, holdMs].every(Number.isFinite)) return undefined;
  return Math.max(0, holdMs + probeTtfbMs - twinTtfbMs);
}

/**
 * Network time of one answer, ms: time to response headers at the edge − the region's own
 * Server-Timing `proc` − the local round-trip overhead measured to that region without the
 * network distance (loopback probes, `recordService(…, 'loop', …)`; 0 when none is configured).
 */
export function networkRttMs(ttfbMs: number, procMs: number, loopbackMs = 0): number {
  return Math.max(0, ttfbMs - procMs - (Number.isFinite(loopbackMs) ? loopbackMs : 0));
}

/**
 * Fold a report about a region's internal cache: `true`/`false` for one response
 * (x-pixmesh-region-cache HIT/MISS) or a ratio in [0, 1] the region reported. With `accountId`
 * the report also refines that account's estimate (its variants may be colder than the region's).
 */
export function recordHit(
  state: RoutingState,
  region: RegionId,
  hit: boolean | number,
  now: number,
  accountId?: string,
  config?: Partial<RoutingConfig>,
  /** What this edge knew about the variant when it chose the region (refines the account's estimate). */
  evidence?: Evidence,
): SampleResult {
  const cfg = cfgOf(config);
  if (!isRegionId(region)) return { state, accepted: false, reason: `unknown region ${JSON.stringify(region)}` };
  const x = typeof hit === 'boolean' ? (hit ? 1 : 0) : hit;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 1) return { state, accepted: false, reason: `hit ratio ${hit} outside [0, 1]` };
  if (!Number.isFinite(now)) return { state, accepted: false, reason: 'bad clock' };
  const keys = [region as string];
  if (accountId) keys.push(`${region}|${accountId}`);
  if (accountId && evidence && evidence !== 'none') keys.push(`${region}|${accountId}|${evidence}`);
  let hitMap = { ...state.hit };
  for (const k of keys) hitMap[k] = fold(hitMap[k], x, now, cfg.hitHalfLifeMs, cfg.hitMinAlpha, cfg.maxCount);
  hitMap = bound(hitMap, cfg.maxHitKeys, (e) => e.at);
  return { state: { ...state, hit: hitMap }, accepted: true };
}

/**
 * `hit`: a region's time for an answer from its cache; `work`: home's extra time to fetch and
 * transform; `loop`: the local overhead of one round trip to the region without the network
 * distance (time to headers − proc of a loopback probe: the edge's and the region's scheduling,
 * socket and parsing time on the path), subtracted from every RTT sample (networkRttMs).
 */
export type ServiceKind = 'hit' | 'work' | 'loop';
const SERVICE_KINDS: readonly string[] = ['hit', 'work', 'loop'];

/**
 * Fold a service-time sample (ms): `hit` = the region's Server-Timing proc for an answer from its
 * cache; `work` = the home region's proc on a MISS minus its hit time (fetch + queue + transform).
 */
export function recordService(state: RoutingState, kind: ServiceKind, region: RegionId, ms: number, now: number, config?: Partial<RoutingConfig>): SampleResult {
  const cfg = cfgOf(config);
  if (!isRegionId(region)) return { state, accepted: false, reason: `unknown region ${JSON.stringify(region)}` };
  if (!SERVICE_KINDS.includes(kind)) return { state, accepted: false, reason: `unknown service kind ${JSON.stringify(kind)}` };
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > cfg.maxRttMs) return { state, accepted: false, reason: `service time ${ms} ms outside [0, ${cfg.maxRttMs}]` };
  if (!Number.isFinite(now)) return { state, accepted: false, reason: 'bad clock' };
  const k = `${kind}|${region}`;
  const svc = { ...(state.svc ?? {}) };
  // The loopback overhead: the median of the last loopWindow probes (the window kept in `run`), so a
  // stall moves it only when it lasts; the samples it is subtracted from reject their own spikes.
  svc[k] = kind === 'loop' ? foldMedianWindow(svc[k], ms, now, cfg) : fold(svc[k], ms, now, cfg.svcHalfLifeMs, cfg.svcMinAlpha, cfg.maxCount);
  return { state: { ...state, svc }, accepted: true };
}

function foldMedianWindow(prev: Estimate | undefined, x: number, now: number, cfg: RoutingConfig): Estimate {
  // A state without the window (restored from an older version) starts it from its mean.
  const run = [...(prev ? (prev.run ?? [prev.mean]) : []), x].slice(-cfg.loopWindow);
  const n = (prev ? decayedCount(prev, now, cfg.svcHalfLifeMs) : 0) + 1;
  return { mean: median(run), n: Math.min(cfg.maxCount, n), at: prev ? Math.max(now, prev.at) : now, run };
}

/** A learned service time blended with its default (worth 2 samples). */
export function serviceMs(state: RoutingState | undefined, kind: ServiceKind, region: RegionId, now: number, config?: Partial<RoutingConfig>): { ms: number; samples: number } {
  const cfg = cfgOf(config);
  const prior = kind === 'hit' ? cfg.defaultHitServiceMs : kind === 'work' ? cfg.defaultMissWorkMs : 0;
  // The loopback overhead has no prior worth blending: it is 0 until measured, then the measurement.
  const b = blend(state?.svc?.[`${kind}|${region}`], prior, kind === 'loop' ? 0 : 2, now, cfg.svcHalfLifeMs);
  return { ms: b.value, samples: b.n };
}

/** An estimate's kept samples (Estimate.run) from untrusted JSON: 1…maxLength values in [0, maxRttMs], copied; else undefined. */
function validRun(e: object, maxLength: number, cfg: RoutingConfig): number[] | undefined {
  const run = (e as { run?: unknown }).run;
  return Array.isArray(run) && run.length >= 1 && run.length <= maxLength && run.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= cfg.maxRttMs) ? [...run] : undefined;
}

function validEstimate(v: unknown, maxMean: number): v is Estimate {
  if (typeof v !== 'object' || v === null) return false;
  const { mean, n, at } = v as Record<string, unknown>;
  return (
    typeof mean === 'number' && Number.isFinite(mean) && mean >= 0 && mean <= maxMean &&
    typeof n === 'number' && Number.isFinite(n) && n > 0 &&
    typeof at === 'number' && Number.isFinite(at)
  );
}

/**
 * Rebuild a state from untrusted JSON (KV, a Durable Object, an older version): invalid entries
 * are dropped, counts clamped, sizes bounded. Never throws.
 */
export function restoreState(json: unknown, config?: Partial<RoutingConfig>): RoutingState {
  const cfg = cfgOf(config);
  const out = emptyState();
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch {
      return out;
    }
  }
  if (typeof json !== 'object' || json === null || (json as { version?: unknown }).version !== 1) return out;
  const { rtt, hit } = json as { rtt?: unknown; hit?: unknown };
  if (typeof rtt === 'object' && rtt !== null) {
    for (const [colo, row] of Object.entries(rtt)) {
      const c = normaliseColo(colo);
      if (!c || c !== colo || typeof row !== 'object' || row === null) continue;
      const clean: Partial<Record<RegionId, Estimate>> = {};
      for (const [r, e] of Object.entries(row)) {
        if (!isRegionId(r) || !validEstimate(e, cfg.maxRttMs)) continue;
        clean[r] = { mean: e.mean, n: Math.min(cfg.maxCount, e.n), at: e.at };
        const run = validRun(e, cfg.suspectRun, cfg);
        if (run) clean[r]!.run = run;
      }
      if (Object.keys(clean).length) out.rtt[c] = clean;
    }
  }
  if (typeof hit === 'object' && hit !== null) {
    for (const [k, e] of Object.entries(hit)) {
      const region = k.split('|', 1)[0];
      if (isRegionId(region) && k.length <= 200 && validEstimate(e, 1)) out.hit[k] = { mean: e.mean, n: Math.min(cfg.maxCount, e.n), at: e.at };
    }
  }
  const svc = (json as { svc?: unknown }).svc;
  if (typeof svc === 'object' && svc !== null) {
    for (const [k, e] of Object.entries(svc)) {
      const [kind, region, extra] = k.split('|');
      if (SERVICE_KINDS.includes(kind!) && isRegionId(region) && extra === undefined && validEstimate(e, cfg.maxRttMs)) {
        out.svc![k] = { mean: e.mean, n: Math.min(cfg.maxCount, e.n), at: e.at };
        // The loopback overhead's window of probes (foldMedianWindow) survives a restore too.
        const run = kind === 'loop' ? validRun(e, cfg.loopWindow, cfg) : undefined;
        if (run) out.svc![k]!.run = run;
      }
    }
  }
  const shift = (json as { shift?: unknown }).shift;
  if (typeof shift === 'object' && shift !== null) {
    for (const [r, v] of Object.entries(shift)) {
      const clean = isRegionId(r) ? validShift(v, cfg) : undefined;
      if (clean) out.shift![r as RegionId] = clean;
    }
  }
  out.rtt = bound(out.rtt, cfg.maxColos, newest);
  out.hit = bound(out.hit, cfg.maxHitKeys, (e) => e.at);
  return out;
}

function validShift(v: unknown, cfg: RoutingConfig): RegionShift | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { run, mean, since, at, runSince } = v as Record<string, unknown>;
  const fin = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  const cleanRun = (Array.isArray(run) ? run : [])
    .filter((x): x is { colo: string; excess: number } => typeof x === 'object' && x !== null && normaliseColo((x as { colo?: unknown }).colo) === (x as { colo?: unknown }).colo && fin((x as { excess?: unknown }).excess))
    .slice(-cfg.shiftRun)
    .map((x) => ({ colo: x.colo, excess: Math.min(cfg.maxRttMs, Math.max(-cfg.maxRttMs, x.excess)) }));
  const out: RegionShift = { run: cleanRun };
  if (cleanRun.length && fin(runSince)) out.runSince = runSince;
  const { spikeAt, okAt } = v as Record<string, unknown>;
  if (fin(spikeAt)) out.spikeAt = spikeAt;
  if (fin(okAt)) out.okAt = okAt;
  if (fin(mean) && Math.abs(mean) <= cfg.maxRttMs && fin(since) && fin(at) && at >= since) Object.assign(out, { mean, since, at });
  return out;
}

/**
 * Merge two states (e.g. this isolate's and the persisted one): per estimate, the more recently
 * updated wins (the larger count on a tie). Samples are not added twice.
 */
export function mergeStates(a: RoutingState, b: RoutingState, config?: Partial<RoutingConfig>): RoutingState {
  const cfg = cfgOf(config);
  const pick = (x: Estimate | undefined, y: Estimate | undefined) => (!x ? y : !y ? x : y.at > x.at || (y.at === x.at && y.n > x.n) ? y : x);
  const rtt: RoutingState['rtt'] = {};
  for (const colo of new Set([...Object.keys(a.rtt), ...Object.keys(b.rtt)])) {
    const row: Partial<Record<RegionId, Estimate>> = {};
    for (const r of REGION_IDS) {
      const e = pick(a.rtt[colo]?.[r], b.rtt[colo]?.[r]);
      if (e) row[r] = e;
    }
    rtt[colo] = row;
  }
  const hit: RoutingState['hit'] = {};
  for (const k of new Set([...Object.keys(a.hit), ...Object.keys(b.hit)])) hit[k] = pick(a.hit[k], b.hit[k])!;
  const svc: NonNullable<RoutingState['svc']> = {};
  for (const k of new Set([...Object.keys(a.svc ?? {}), ...Object.keys(b.svc ?? {})])) svc[k] = pick(a.svc?.[k], b.svc?.[k])!;
  // A region's shift: the more recently confirmed one.
  const shift: NonNullable<RoutingState['shift']> = {};
  for (const r of REGION_IDS) {
    const x = a.shift?.[r];
    const y = b.shift?.[r];
    const chosen = !x ? y : !y ? x : (y.at ?? -Infinity) > (x.at ?? -Infinity) ? y : x;
    if (chosen) shift[r] = chosen;
  }
  return { version: 1, rtt: bound(rtt, cfg.maxColos, newest), hit: bound(hit, cfg.maxHitKeys, (e) => e.at), svc, shift };
}

// ───────────────────────────── location → prior ─────────────────────────────

/** What request.cf (or the x-pixmesh-* stand-ins in local runs) says; anything may be missing. */
export interface RequestLocation {
  colo?: string | null;
  latitude?: number | string | null;
  longitude?: number | string | null;
  country?: string | null;
  continent?: string | null;
}

export type LocationSource = 'colo' | 'latlon' | 'country' | 'continent' | 'none';

export interface ResolvedLocation {
  /** Normalised colo code (learning is keyed by it), even when the table does not know it. */
  colo: string | null;
  /** Which input the prior came from. */
  source: LocationSource;
  /** Prior RTT per region, ms. */
  prior: Record<RegionId, number>;
}

const rowToRecord = (row: readonly number[]): Record<RegionId, number> =>
  Object.fromEntries(PRIOR_REGION_ORDER.map((r, i) => [r, row[i]!])) as Record<RegionId, number>;

/**
 * Where the prior comes from, most precise first: the colo's own row; the request's
 * latitude/longitude (the client is near its colo); the country's mean over its colos; the
 * continent's mean; a flat unknownRttMs (which makes the home region win).
 */
export function resolveLocation(loc: RequestLocation, config?: Partial<RoutingConfig>): ResolvedLocation {
  const cfg = cfgOf(config);
  const colo = normaliseColo(loc.colo) ?? null;
  const known = colo ? COLO_PRIOR[colo] : undefined;
  if (known) return { colo, source: 'colo', prior: rowToRecord(known[4]) };
  const ll = validLatLon(loc.latitude, loc.longitude);
  if (ll) return { colo, source: 'latlon', prior: rowToRecord(priorRttRow(ll.lat, ll.lon)) };
  const country = typeof loc.country === 'string' ? COUNTRY_PRIOR[loc.country.toUpperCase()] : undefined;
  if (country) return { colo, source: 'country', prior: rowToRecord(country) };
  const continent = typeof loc.continent === 'string' ? CONTINENT_PRIOR[loc.continent.toUpperCase()] : undefined;
  if (continent) return { colo, source: 'continent', prior: rowToRecord(continent) };
  return { colo, source: 'none', prior: rowToRecord(REGION_IDS.map(() => cfg.unknownRttMs)) };
}

// ───────────────────────────── decision ─────────────────────────────

export interface RoutingAccount {
  id?: string;
  homeRegion: RegionId;
  residency: 'flexible' | 'strict';
}

export interface RouteInput {
  location: RequestLocation;
  account: RoutingAccount;
  /** The request came in on one of the account's custom domains. */
  viaCustomDomain?: boolean;
  /** Breaker status per region (missing = closed). */
  health?: Partial<Record<RegionId, BreakerStatus>>;
  state?: RoutingState;
  now: number;
  /** Regions the edge can reach (those with an origin URL); default all six. */
  regions?: readonly RegionId[];
  /**
   * What this edge knows about the requested variant: when it last saw each region serve it
   * (edge/src/routing/variants.ts). Absent: nothing is known per variant, the account's hit
   * ratios alone give P(region holds it).
   */
  variant?: VariantEvidence;
  /** The region picked last time for this colo and account (hysteresis). */
  previous?: RegionId;
  config?: Partial<RoutingConfig>;
}

/** Per-variant knowledge: region → ms timestamp of the last time this edge saw it serve the variant. */
export interface VariantEvidence {
  seen: Partial<Record<RegionId, number>>;
}

/** Which hit-ratio estimate applies: the edge saw the region serve the variant recently, did not, or knows nothing per variant. */
export type Evidence = 'seen' | 'unseen' | 'none';

export interface Candidate {
  region: RegionId;
  /** The quantity minimised, ms. */
  expectedMs: number;
  /** RTT(colo → region) used, ms: prior blended with learning. */
  rttMs: number;
  priorRttMs: number;
  /** Learned mean, ms, or null without samples from this colo. */
  learnedRttMs: number | null;
  /** Decayed sample count behind learnedRttMs. */
  rttSamples: number;
  /** The region-wide shift included in rttMs (shiftFor): confirmed by other colos, not yet measured from this one. */
  shiftMs: number;
  /** P(the region's internal cache holds the variant) used: the estimate for `evidence`, blended with its prior. */
  hitRatio: number;
  hitSamples: number;
  /** Which estimate hitRatio comes from. */
  evidence: Evidence;
  /** 1 − hitRatio (at home too: a miss there costs the fetch and transform). */
  missProbability: number;
  /** RTT(region → home) from the CloudPing matrix, 0 at home. */
  forwardRttMs: number;
  /** The region's learned time for a cached answer (load, queueing), ms. */
  serviceMs: number;
  /** P(home holds the variant) and home's learned fetch + transform time, as used in the miss cost. */
  homeHitRatio: number;
  homeWorkMs: number;
  /** What a miss here adds: (1 − hitRatio) × (forward + home's service + P(home misses) × home's work); at home (1 − hitRatio) × work. */
  missCostMs: number;
  /** Subtracted from expectedMs for the ranking only (RoutingConfig.placementValue); 0 at home. */
  placementCreditMs: number;
  healthPenaltyMs: number;
  health: BreakerStatus;
  isHome: boolean;
}

/** `forced`: the order came from the geo benchmark's policy override (forceOrder), not from the model. */
export type RoutePolicy = 'expected-latency' | 'home-first' | 'home-only' | 'forced';

export interface RouteDecision {
  policy: RoutePolicy;
  reason: string;
  home: RegionId;
  location: ResolvedLocation;
  /** Failover order: candidates[0] is the pick. Never contains open regions unless allOpen. */
  candidates: Candidate[];
  /** Regions left out because their breaker is open (for /_routing). */
  excluded: Candidate[];
  /** Every allowed region is open: candidates holds them anyway, best first (the edge may force a try or serve stale). */
  allOpen: boolean;
  /** Set when hysteresis kept the previous pick although `best` was estimated faster by `byMs`. */
  hysteresis: { kept: RegionId; best: RegionId; byMs: number } | null;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** The hit ratio for a region (and account): region report blended with the prior, then the account's own. */
export function hitRatio(state: RoutingState | undefined, region: RegionId, accountId: string | undefined, now: number, config?: Partial<RoutingConfig>): { ratio: number; samples: number } {
  const cfg = cfgOf(config);
  const regional = blend(state?.hit[region], cfg.hitPrior, cfg.hitPriorWeight, now, cfg.hitHalfLifeMs);
  if (!accountId) return { ratio: regional.value, samples: regional.n };
  const own = blend(state?.hit[`${region}|${accountId}`], regional.value, cfg.hitPriorWeight, now, cfg.hitHalfLifeMs);
  return { ratio: own.value, samples: own.n };
}

/** Which estimate of P(region holds the variant) applies for this request. */
export function evidenceFor(variant: VariantEvidence | undefined, region: RegionId, now: number, config?: Partial<RoutingConfig>): Evidence {
  if (!variant) return 'none';
  const at = variant.seen[region];
  return at !== undefined && now - at <= cfgOf(config).seenTtlMs ? 'seen' : 'unseen';
}

/**
 * P(the region's cache holds the variant): for `none` the account's hit ratio (hitRatio); for
 * `seen` the learned ratio of variants this edge saw the region serve (prior seenHoldPrior); for
 * `unseen` the learned ratio of the others (prior: the account's ratio). Both are learned from
 * the HIT/MISS answers to requests routed under that evidence, so the model finds out how much
 * the edge's own sightings are worth (little when many isolates share a region, a lot when few).
 */
export function holdProbability(state: RoutingState | undefined, region: RegionId, accountId: string | undefined, evidence: Evidence, now: number, config?: Partial<RoutingConfig>): { ratio: number; samples: number } {
  const cfg = cfgOf(config);
  const base = hitRatio(state, region, accountId, now, cfg);
  if (evidence === 'none' || !accountId) return base;
  const prior = evidence === 'seen' ? cfg.seenHoldPrior : base.ratio;
  const own = blend(state?.hit[`${region}|${accountId}|${evidence}`], prior, cfg.hitPriorWeight, now, cfg.hitHalfLifeMs);
  return { ratio: own.value, samples: own.n };
}

/** Every component of the estimate for one region. */
export function estimate(
  region: RegionId,
  input: Pick<RouteInput, 'account' | 'health' | 'state' | 'now' | 'config' | 'variant'>,
  loc: ResolvedLocation,
): Candidate & { sortKey: number } {
  const cfg = cfgOf(input.config);
  const home = input.account.homeRegion;
  const learned = loc.colo ? input.state?.rtt[loc.colo]?.[region] : undefined;
  const prior = loc.prior[region];
  const blended = blend(learned, prior, cfg.priorWeight, input.now, cfg.rttHalfLifeMs);
  const shiftMs = shiftFor(input.state, region, learned?.at, input.now, cfg);
  const rtt = { value: blended.value + shiftMs, n: blended.n };
  const isHome = region === home;
  const evidence = evidenceFor(input.variant, region, input.now, cfg);
  const hit = holdProbability(input.state, region, input.account.id, evidence, input.now, cfg);
  const homeHit = isHome ? hit : holdProbability(input.state, home, input.account.id, evidenceFor(input.variant, home, input.now, cfg), input.now, cfg);
  const service = serviceMs(input.state, 'hit', region, input.now, cfg).ms;
  const homeService = serviceMs(input.state, 'hit', home, input.now, cfg).ms;
  const homeWork = serviceMs(input.state, 'work', home, input.now, cfg).ms;
  const missProbability = 1 - hit.ratio;
  const forwardRttMs = isHome ? 0 : INTER_REGION_RTT_MS[region][home];
  // A miss at home costs the fetch and transform; a miss elsewhere the forward, plus that whenever home misses too.
  const missCost = isHome ? missProbability * homeWork : missProbability * (forwardRttMs + homeService + (1 - homeHit.ratio) * homeWork);
  const health = input.health?.[region] ?? 'closed';
  const healthPenaltyMs = health === 'half-open' ? cfg.halfOpenPenaltyMs : 0;
  const exact = rtt.value + service + missCost + healthPenaltyMs;
  // What a later request from here would save by finding the variant in this region rather than at home.
  let placementCredit = 0;
  if (!isHome && cfg.placementValue > 0 && health === 'closed') {
    const homeLearned = loc.colo ? input.state?.rtt[loc.colo]?.[home] : undefined;
    const homeRtt = blend(homeLearned, loc.prior[home], cfg.priorWeight, input.now, cfg.rttHalfLifeMs).value + shiftFor(input.state, home, homeLearned?.at, input.now, cfg);
    placementCredit = missProbability * cfg.placementValue * Math.max(0, homeRtt + homeService - (rtt.value + service));
  }
  return {
    region,
    expectedMs: r1(exact),
    rttMs: r1(rtt.value),
    priorRttMs: prior,
    learnedRttMs: learned ? r1(learned.mean) : null,
    rttSamples: r1(rtt.n),
    shiftMs: r1(shiftMs),
    hitRatio: r3(hit.ratio),
    hitSamples: r1(hit.samples),
    evidence,
    missProbability: r3(missProbability),
    forwardRttMs,
    serviceMs: r1(service),
    homeHitRatio: r3(homeHit.ratio),
    homeWorkMs: r1(homeWork),
    missCostMs: r1(missCost),
    placementCreditMs: r1(placementCredit),
    healthPenaltyMs,
    health,
    isHome,
    sortKey: exact - placementCredit,
  };
}

function byExpected(a: Candidate & { sortKey: number }, b: Candidate & { sortKey: number }): number {
  return (
    a.sortKey - b.sortKey ||
    Number(b.isHome) - Number(a.isHome) ||
    a.rttMs - b.rttMs ||
    REGION_IDS.indexOf(a.region) - REGION_IDS.indexOf(b.region)
  );
}

const strip = ({ sortKey: _sortKey, ...c }: Candidate & { sortKey: number }): Candidate => c;

/** Rank the regions for one request. */
export function decideRoute(input: RouteInput): RouteDecision {
  const home = input.account.homeRegion;
  const loc = resolveLocation(input.location, input.config);
  const reachable = (input.regions ?? REGION_IDS).filter((r, i, all) => isRegionId(r) && all.indexOf(r) === i);
  let policy: RoutePolicy;
  let reason: string;
  let allowed: RegionId[];
  if (input.account.residency === 'strict') {
    policy = 'home-only';
    reason = `strict residency: only ${home} may store or process this account's bytes`;
    allowed = reachable.filter((r) => r === home);
  } else if (input.viaCustomDomain) {
    policy = 'home-first';
    reason = `custom domain: home region ${home} first, the rest by expected latency`;
    allowed = reachable;
  } else {
    policy = 'expected-latency';
    reason = `minimum expected latency from ${loc.colo ?? 'unknown colo'} (prior from ${loc.source})`;
    allowed = reachable;
  }
  const all = allowed.map((r) => estimate(r, input, loc)).sort(byExpected);
  if (policy === 'home-first') {
    const i = all.findIndex((c) => c.isHome);
    if (i > 0) all.unshift(...all.splice(i, 1));
  }
  const open = all.filter((c) => c.health === 'open');
  const usable = all.filter((c) => c.health !== 'open');
  const allOpen = all.length > 0 && usable.length === 0;
  // Hysteresis: keep last time's pick while it is within a small margin of the best (no flapping on near-ties).
  let hysteresis: RouteDecision['hysteresis'] = null;
  const cfg = cfgOf(input.config);
  const prevAt = policy === 'expected-latency' && input.previous ? usable.findIndex((c) => c.region === input.previous) : -1;
  if (prevAt > 0) {
    const best = usable[0]!;
    const by = usable[prevAt]!.sortKey - best.sortKey;
    if (by <= Math.max(cfg.hysteresisMs, cfg.hysteresisFraction * best.sortKey)) {
      usable.unshift(...usable.splice(prevAt, 1));
      hysteresis = { kept: input.previous!, best: best.region, byMs: r1(by) };
    }
  }
  if (all.length === 0) reason += '; no reachable region is allowed';
  else if (allOpen) reason += '; every allowed region is open';
  return {
    policy,
    reason,
    home,
    location: loc,
    candidates: (allOpen ? open : usable).map(strip),
    excluded: allOpen ? [] : open.map(strip),
    allOpen,
    hysteresis,
  };
}

/**
 * Background fill (docs/routing.md, "Placement: background fill"). The decision prices this
 * request alone (placementValue 0 by default), so a variant the colo's nearest region does not
 * hold goes wherever it is cheapest now — often straight home, or to another region that holds
 * it. That region near the users then stays cold, and the next requests for the variant from
 * its side of the world (other colos that use it) pay a forward to home. So after the user's
 * answer the edge sends the same render call to the colo's nearest region (lowest RTT, breaker
 * closed) off the request path: it misses, fetches the variant from home (which now holds it)
 * and keeps it. Returns that region, or undefined when there is nothing to fill: it answered, the
 * edge saw it serve the variant recently (evidence `seen`), the policy is not expected-latency
 * (strict residency, custom domains and the benchmark's forced orders never fill), or every
 * region is open.
 */
export function fillTarget(d: RouteDecision, answered: RegionId): RegionId | undefined {
  if (d.policy !== 'expected-latency' || d.allOpen) return undefined;
  const natural = nearestCandidate(d);
  if (!natural || natural.region === answered || natural.evidence === 'seen') return undefined;
  return natural.region;
}

/** The colo's nearest region in this decision: the closed candidate with the lowest RTT used (ties: REGION_IDS order). */
function nearestCandidate(d: RouteDecision): Candidate | undefined {
  let natural: Candidate | undefined;
  for (const c of d.candidates) {
    if (c.health !== 'closed') continue;
    if (!natural || c.rttMs < natural.rttMs || (c.rttMs === natural.rttMs && REGION_IDS.indexOf(c.region) < REGION_IDS.indexOf(natural.region))) natural = c;
  }
  return natural;
}

/** The colo's nearest region for this decision (see fillTarget); undefined when no region is closed or the policy never fills. */
export function nearestRegion(d: RouteDecision): RegionId | undefined {
  if (d.policy !== 'expected-latency' || d.allOpen) return undefined;
  return nearestCandidate(d)?.region;
}

/**
 * An account's region mix: per region, the (decayed) count of the account's edge misses whose
 * colo has that region as its nearest (nearestRegion). Plain data, per isolate.
 */
export type RegionMix = Partial<Record<RegionId, { n: number; at: number }>>;

/** The mix with one more edge miss whose nearest region is `region` (a new object; the input is not changed). */
export function recordNearest(mix: RegionMix | undefined, region: RegionId, now: number, config?: Partial<RoutingConfig>): RegionMix {
  const cfg = cfgOf(config);
  const n = mixCount(mix?.[region], now, cfg.fillMixHalfLifeMs);
  return { ...mix, [region]: { n: Math.min(cfg.maxCount * 50, n + 1), at: now } };
}

/**
 * One region's count in a mix, decayed to `now` (halving every `halfLifeMs`; an `at` in the future
 * counts as now); 0 when absent or not a finite positive count at a finite time (mixes may come
 * from JSON).
 */
function mixCount(e: { n: number; at: number } | undefined, now: number, halfLifeMs: number): number {
  if (!e || typeof e.n !== 'number' || !Number.isFinite(e.n) || e.n <= 0 || typeof e.at !== 'number' || !Number.isFinite(e.at)) return 0;
  return e.n * Math.pow(2, -Math.max(0, now - e.at) / halfLifeMs);
}

/** Counts below this (after decay) are dropped from a merged mix. */
const MIX_MIN_COUNT = 1e-3;

/**
 * The sum of region mixes at `now` (docs/routing.md, "Persistence: the shared region mix"): each
 * count decayed to `now` (halving every fillMixHalfLifeMs; an `at` in the future counts as now),
 * then added per region, capped like recordNearest, counts under 1e-3 dropped. Pure, order-free
 * and plain data: the Durable Object of an account merges each isolate's delta into its mix with
 * it, and an isolate adds its unflushed delta to the merged mix it read back. Entries that are not
 * a known region or not a finite positive count are ignored (the input may come from JSON).
 */
export function mergeMixes(mixes: readonly (RegionMix | undefined)[], now: number, config?: Partial<RoutingConfig>): RegionMix {
  const cfg = cfgOf(config);
  const out: RegionMix = {};
  for (const r of REGION_IDS) {
    let n = 0;
    for (const m of mixes) n += mixCount(m?.[r], now, cfg.fillMixHalfLifeMs);
    if (n >= MIX_MIN_COUNT) out[r] = { n: Math.min(cfg.maxCount * 50, n), at: now };
  }
  return out;
}

/** A region mix from JSON (a Durable Object's storage or answer): only known regions with finite positive counts; {} for anything else. */
export function restoreMix(json: unknown, now: number, config?: Partial<RoutingConfig>): RegionMix {
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch {
      return {};
    }
  }
  if (typeof json !== 'object' || json === null) return {};
  return mergeMixes([json as RegionMix], now, config);
}

/** True when the mix holds no count. */
export function mixIsEmpty(mix: RegionMix | undefined): boolean {
  return !mix || !REGION_IDS.some((r) => (mix[r]?.n ?? 0) > 0);
}

/** Each region's share of the mix at `now` (decayed counts; empty when nothing is recorded). */
export function mixShares(mix: RegionMix | undefined, now: number, config?: Partial<RoutingConfig>): Partial<Record<RegionId, number>> {
  const cfg = cfgOf(config);
  const counts: Partial<Record<RegionId, number>> = {};
  let total = 0;
  for (const r of REGION_IDS) {
    const n = mixCount(mix?.[r], now, cfg.fillMixHalfLifeMs);
    if (n <= 0) continue;
    counts[r] = n;
    total += n;
  }
  const out: Partial<Record<RegionId, number>> = {};
  if (total > 0) for (const r of REGION_IDS) if (counts[r] !== undefined) out[r] = counts[r]! / total;
  return out;
}

/**
 * Background fills after an answer from `answered` (docs/routing.md, "Placement: background
 * fill"): the requesting colo's nearest region (fillTarget), then every other region that is the
 * nearest region of at least fillMinShare of the account's recent edge misses (`mix`), largest
 * share first — each only when its breaker is closed, it did not answer, and the edge has not seen
 * it serve the variant (evidence `seen`). At most fillMaxRegions. Nearest warms a region only when
 * a user near it misses there; this warms the account's near regions on the variant's first
 * answer, so the first request from each of those sides of the world is a near-region hit.
 * Never for strict residency, custom domains, forced orders, or when every region is open.
 */
export function fillTargets(d: RouteDecision, answered: RegionId, mix: RegionMix | undefined, now: number, config?: Partial<RoutingConfig>): RegionId[] {
  if (d.policy !== 'expected-latency' || d.allOpen) return [];
  const cfg = cfgOf(config);
  const out: RegionId[] = [];
  const own = fillTarget(d, answered);
  if (own) out.push(own);
  const shares = mixShares(mix, now, cfg);
  const others = d.candidates
    .filter((c) => c.health === 'closed' && c.region !== answered && c.evidence !== 'seen' && !out.includes(c.region) && (shares[c.region] ?? 0) >= cfg.fillMinShare)
    .sort((a, b) => shares[b.region]! - shares[a.region]! || REGION_IDS.indexOf(a.region) - REGION_IDS.indexOf(b.region));
  for (const c of others) out.push(c.region);
  return out.slice(0, Math.max(0, Math.floor(cfg.fillMaxRegions)));
}

/**
 * The geo benchmark's policy override (docs/routing.md, "The geo benchmark"): every baseline
 * policy runs through the same edge worker as pixmesh and names its region order in this header,
 * so the only difference between the policies is the region choice. The edge reads it only when
 * the binding PIXMESH_BENCH_ROUTE_OVERRIDE is "true" (never set in a deployment).
 */
export const BENCH_ROUTE_HEADER = 'x-pixmesh-bench-route';

/** The override's region order: comma-separated region ids, reachable ones only, first occurrence kept; undefined when none is left. */
export function parseForcedOrder(header: string | null | undefined, reachable: readonly RegionId[]): RegionId[] | undefined {
  if (typeof header !== 'string') return undefined;
  const out: RegionId[] = [];
  for (const part of header.split(',')) {
    const r = part.trim();
    if (isRegionId(r) && reachable.includes(r) && !out.includes(r)) out.push(r);
  }
  return out.length ? out : undefined;
}

/**
 * The decision with its candidates replaced by `order` (each keeps the model's estimate for
 * /_routing and the learning reports). `allOpen` is set so the edge tries every listed region in
 * that order whatever its breaker says: a static policy does not look at health. Regions the
 * decision did not rank (not allowed, e.g. strict residency) are left out.
 */
export function forceOrder(d: RouteDecision, order: readonly RegionId[]): RouteDecision {
  const known = [...d.candidates, ...d.excluded];
  const candidates = order.map((r) => known.find((c) => c.region === r)).filter((c): c is Candidate => !!c);
  return { ...d, policy: 'forced', reason: `forced order ${order.join('>')} (bench override)`, candidates, excluded: [], allOpen: true, hysteresis: null };
}

/**
 * A Server-Timing entry for the decision, e.g.
 * `route;desc="ap-southeast-2 rtt=5.0 miss=0.500x251.8 via=colo";dur=130.9`.
 */
export function routeServerTiming(d: RouteDecision, name = 'route'): string {
  const c = d.candidates[0];
  if (!c) return `${name};desc="none"`;
  const desc = `${c.region} rtt=${c.rttMs.toFixed(1)} miss=${c.missProbability.toFixed(3)}x${c.forwardRttMs.toFixed(1)} via=${d.location.source} policy=${d.policy}`;
  return `${name};desc="${desc}";dur=${c.expectedMs.toFixed(1)}`;
}
