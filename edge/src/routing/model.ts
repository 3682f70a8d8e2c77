/**
 * The routing model (docs/routing.md): which region should serve an edge miss from this colo,
 * and in which order to fail over. Pure: no I/O, no clock (callers pass `now`), state in and out
 * as plain JSON-able objects.
 *
 *   expected(r) = RTT(colo → r) + P(miss at r) · RTT(r → home) + healthPenalty(r)
 *
 * - RTT(colo → r): the generated prior (great circle × fibre × 2.1), blended with what this edge
 *   has measured (EWMA with a sample count that decays with age, so stale learning fades back
 *   to the prior).
 * - P(miss at r): 1 − the hit ratio of r's internal cache, learned from what regions report
 *   (per region, refined per account), with a prior of 0.5 until samples exist; 0 cost at home.
 * - RTT(r → home): the CloudPing inter-region matrix (shared/regions.ts).
 * - health: open breakers are excluded unless every allowed region is open; half-open ones pay
 *   a penalty so they are tried only when nothing healthy is close.
 * Strict-residency accounts go to the home region only; requests on a custom domain go to the
 * home region first (DESIGN.md, request flow step 3) with the rest as failover.
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
  /** EWMA smoothing floor: a new sample moves the mean by at least this fraction. */
  rttMinAlpha: number;
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
}

export const DEFAULT_ROUTING_CONFIG: Readonly<RoutingConfig> = {
  priorWeight: 3,
  rttHalfLifeMs: 60 * 60_000,
  rttMinAlpha: 0.2,
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
};

function cfgOf(partial?: Partial<RoutingConfig>): RoutingConfig {
  return partial ? { ...DEFAULT_ROUTING_CONFIG, ...partial } : DEFAULT_ROUTING_CONFIG;
}

// ───────────────────────────── state (JSON) ─────────────────────────────

/** A learned quantity: EWMA mean, sample count (as of `at`) and when it was last updated (ms). */
export interface Estimate {
  mean: number;
  n: number;
  at: number;
}

export interface RoutingState {
  version: 1;
  /** colo (IATA) → region → learned RTT in ms. */
  rtt: Record<string, Partial<Record<RegionId, Estimate>>>;
  /** Hit ratio of a region's internal cache: key "<region>" (all traffic) or "<region>|<accountId>". */
  hit: Record<string, Estimate>;
}

export function emptyState(): RoutingState {
  return { version: 1, rtt: {}, hit: {} };
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

/** Weighted blend of a learned estimate with a prior worth `priorWeight` samples. */
function blend(e: Estimate | undefined, prior: number, priorWeight: number, now: number, halfLifeMs: number): { value: number; n: number } {
  if (!e) return { value: prior, n: 0 };
  const n = decayedCount(e, now, halfLifeMs);
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
  const nextRow = { ...row, [region]: fold(row[region], rttMs, now, cfg.rttHalfLifeMs, cfg.rttMinAlpha, cfg.maxCount) };
  const rtt = bound({ ...state.rtt, [c]: nextRow }, cfg.maxColos, newest);
  return { state: { ...state, rtt }, accepted: true };
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
): SampleResult {
  const cfg = cfgOf(config);
  if (!isRegionId(region)) return { state, accepted: false, reason: `unknown region ${JSON.stringify(region)}` };
  const x = typeof hit === 'boolean' ? (hit ? 1 : 0) : hit;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 1) return { state, accepted: false, reason: `hit ratio ${hit} outside [0, 1]` };
  if (!Number.isFinite(now)) return { state, accepted: false, reason: 'bad clock' };
  const keys = [region as string];
  if (accountId) keys.push(`${region}|${accountId}`);
  let hitMap = { ...state.hit };
  for (const k of keys) hitMap[k] = fold(hitMap[k], x, now, cfg.hitHalfLifeMs, cfg.hitMinAlpha, cfg.maxCount);
  hitMap = bound(hitMap, cfg.maxHitKeys, (e) => e.at);
  return { state: { ...state, hit: hitMap }, accepted: true };
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
        if (isRegionId(r) && validEstimate(e, cfg.maxRttMs)) clean[r] = { mean: e.mean, n: Math.min(cfg.maxCount, e.n), at: e.at };
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
  out.rtt = bound(out.rtt, cfg.maxColos, newest);
  out.hit = bound(out.hit, cfg.maxHitKeys, (e) => e.at);
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
  return { version: 1, rtt: bound(rtt, cfg.maxColos, newest), hit: bound(hit, cfg.maxHitKeys, (e) => e.at) };
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
  config?: Partial<RoutingConfig>;
}

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
  /** Hit ratio of the region's internal cache used (blended with its prior). */
  hitRatio: number;
  hitSamples: number;
  /** P(miss at region), 0 at home (a miss there costs no extra hop). */
  missProbability: number;
  /** RTT(region → home) from the CloudPing matrix, 0 at home. */
  forwardRttMs: number;
  /** missProbability × forwardRttMs. */
  missCostMs: number;
  healthPenaltyMs: number;
  health: BreakerStatus;
  isHome: boolean;
}

export type RoutePolicy = 'expected-latency' | 'home-first' | 'home-only';

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

/** Every component of the estimate for one region. */
export function estimate(
  region: RegionId,
  input: Pick<RouteInput, 'account' | 'health' | 'state' | 'now' | 'config'>,
  loc: ResolvedLocation,
): Candidate & { sortKey: number } {
  const cfg = cfgOf(input.config);
  const home = input.account.homeRegion;
  const learned = loc.colo ? input.state?.rtt[loc.colo]?.[region] : undefined;
  const prior = loc.prior[region];
  const rtt = blend(learned, prior, cfg.priorWeight, input.now, cfg.rttHalfLifeMs);
  const isHome = region === home;
  const hit = hitRatio(input.state, region, input.account.id, input.now, cfg);
  const missProbability = isHome ? 0 : 1 - hit.ratio;
  const forwardRttMs = isHome ? 0 : INTER_REGION_RTT_MS[region][home];
  const health = input.health?.[region] ?? 'closed';
  const healthPenaltyMs = health === 'half-open' ? cfg.halfOpenPenaltyMs : 0;
  const exact = rtt.value + missProbability * forwardRttMs + healthPenaltyMs;
  return {
    region,
    expectedMs: r1(exact),
    rttMs: r1(rtt.value),
    priorRttMs: prior,
    learnedRttMs: learned ? r1(learned.mean) : null,
    rttSamples: r1(rtt.n),
    hitRatio: r3(hit.ratio),
    hitSamples: r1(hit.samples),
    missProbability: r3(missProbability),
    forwardRttMs,
    missCostMs: r1(missProbability * forwardRttMs),
    healthPenaltyMs,
    health,
    isHome,
    sortKey: exact,
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
  };
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
