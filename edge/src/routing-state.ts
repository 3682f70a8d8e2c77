/**
 * The routing model's I/O side for one isolate: learned state and breakers in memory, samples
 * from every proxied request, and persistence through a Durable Object per colo so a new isolate
 * starts warm (docs/routing.md, "Persistence"). The decision itself is edge/src/routing/model.ts.
 */
import type { Account } from '../../shared/accounts.js';
import { H } from '../../shared/headers.js';
import { isRegionId, REGION_IDS, type RegionId } from '../../shared/regions.js';
import {
  beginAttempt,
  breakerStatuses,
  classifyOutcome,
  newBreakers,
  recordOutcome,
  type Breakers,
} from '../../shared/breaker.js';
import { confirmKey, loopbackKey, planProbes, probeKey, type PlannedProbe } from './routing/explore.js';
import {
  decideRoute,
  emptyState,
  fillTargets,
  mergeMixes,
  mixIsEmpty,
  mixShares,
  restoreMix,
  nearestRegion,
  recordNearest,
  mergeStates,
  LOOPBACK_HOLD_HEADER,
  networkRttMs,
  recordHit,
  recordSample,
  recordService,
  resolveLocation,
  restoreState,
  serviceMs,
  twinRttMs,
  type Evidence,
  type RegionMix,
  type RequestLocation,
  type RouteDecision,
  type RoutingConfig,
  type RoutingState,
} from './routing/model.js';
import { newVariantMemory, recordSighting, variantEvidence, type VariantMemory } from './routing/variants.js';
import type { Env } from './env.js';

/** Persist at most once per this interval per isolate and colo (the DO write budget). */
const FLUSH_INTERVAL_MS = 10_000;
const LOAD_RETRY_MS = 30_000;
/** Flush an account's region-mix counts at most once per this interval per isolate and colo (the mix's DO write budget). */
export const MIX_FLUSH_INTERVAL_MS = 10_000;
/** account|colo entries of the region mix per isolate (least recently used dropped first). */
const MAX_MIX_KEYS = 256;
/** Background fills in flight per isolate (each is one render call to a region, off the request path). */
const MAX_FILLS_IN_FLIGHT = 16;

export interface AttemptReport {
  region: RegionId;
  /** HTTP status, or a transport failure. */
  result: number | 'timeout' | 'network-error';
  colo?: string | null;
  accountId?: string;
  /** Time to response headers measured at the edge, ms. */
  ttfbMs?: number;
  /** The region's own processing time (Server-Timing `proc`), ms. */
  procMs?: number;
  /** x-pixmesh-region-cache of the answer. */
  regionCache?: string | null;
  /** x-pixmesh-region-hit-ratio of the answer. */
  regionHitRatio?: string | null;
  /** The answer is an error about this request (x-pixmesh-error-scope: request), not about the region. */
  requestScopedError?: boolean;
  /** The variant's key (the edge cache key) and what the decision knew about it. */
  variantKey?: string;
  evidence?: Evidence;
  /** x-pixmesh-processed-by of the answer. */
  processedBy?: string | null;
  /** The account's home region (a MISS answered there measures its fetch + transform work). */
  home?: RegionId;
  /** A probe (HEAD /healthz), not a user request. */
  probe?: boolean;
  /** The network RTT already measured against a twin (twinRttMs): the sample, as it is. */
  networkMs?: number;
}

/** Exploration counters for /_routing (the probes this isolate sent). */
export interface ExplorationStats {
  probes: number;
  probeFailures: number;
  byReason: Record<PlannedProbe['reason'], number>;
  /** colo|region → last probe (ms). */
  lastProbeAt: Record<string, number>;
}

/** One account's region mix in one isolate for one colo (IsolateRouting.regionMix). */
export interface MixEntry {
  accountId: string;
  local: RegionMix;
  pending: RegionMix;
  /** Counts sent, not yet answered. */
  inFlight?: RegionMix;
  /** The merged mix of every colo, as the Durable Object answered the last flush. */
  shared?: RegionMix;
  lastFlush: number;
}

export class IsolateRouting {
  /** Overrides of the routing model's defaults (tests and the geo simulator; the edge uses the defaults). */
  constructor(readonly config?: Partial<RoutingConfig>) {}

  state: RoutingState = emptyState();
  breakers: Breakers = newBreakers();
  /** Per colo: loaded, or when the last load failed (retried after LOAD_RETRY_MS). */
  private readonly loadedColos = new Map<string, { loaded: true } | { failedAt: number }>();
  private dirtyColos = new Set<string>();
  private lastFlush = 0;
  samples = 0;
  /** Which regions this isolate saw serve which variants (not persisted: it is per-isolate evidence). */
  variants: VariantMemory = newVariantMemory();
  /** colo|account → the region picked last (hysteresis). */
  private readonly lastPick = new Map<string, RegionId>();
  private readonly lastProbeAt = new Map<string, number>();
  readonly exploration = { twins: 0, probes: 0, probeFailures: 0, byReason: { unmeasured: 0, stale: 0, trial: 0, confirm: 0, loopback: 0 }, shiftsConfirmed: 0, fills: 0, fillFailures: 0, fillsSkipped: 0 };
  /** region|variant → background fills in flight (model.ts fillTarget), at most MAX_FILLS_IN_FLIGHT. */
  private readonly fillsInFlight = new Set<string>();

  /** Claim a background fill of `variantKey` at `region`: false when one is in flight already or too many are. */
  beginFill(region: RegionId, variantKey: string): boolean {
    const k = `${region}|${variantKey}`;
    if (this.fillsInFlight.has(k) || this.fillsInFlight.size >= MAX_FILLS_IN_FLIGHT) {
      this.exploration.fillsSkipped++;
      return false;
    }
    this.fillsInFlight.add(k);
    this.exploration.fills++;
    return true;
  }

  endFill(region: RegionId, variantKey: string, ok: boolean): void {
    this.fillsInFlight.delete(`${region}|${variantKey}`);
    if (!ok) this.exploration.fillFailures++;
  }
  /** account → colo → edge misses routed (the account's colo mix, for the home-region advice; bounded, per isolate). */
  readonly coloMix = new Map<string, Map<string, number>>();

  private countColo(accountId: string, colo: string | null | undefined): void {
    if (!colo) return;
    let m = this.coloMix.get(accountId);
    if (!m) {
      if (this.coloMix.size >= 256) this.coloMix.delete(this.coloMix.keys().next().value as string);
      this.coloMix.set(accountId, (m = new Map()));
    }
    if (!m.has(colo) && m.size >= 64) return;
    m.set(colo, (m.get(colo) ?? 0) + 1);
  }

  /**
   * account|colo → the account's region mix as this isolate knows it (model.ts recordNearest;
   * docs/routing.md "Persistence: the shared region mix"): `local` counts only this colo's edge
   * misses, `pending` the part of them not yet flushed to the account's Durable Object
   * (`mix:<account>`), `shared` the merged mix of every colo the Durable Object answered the last
   * flush with. Keyed by colo too, so one isolate that serves many colos (the geo benchmark's
   * single worker) learns about the other colos only through the Durable Object, as one isolate
   * per colo does in a deployment. Bounded (LRU, MAX_MIX_KEYS).
   */
  readonly regionMix = new Map<string, MixEntry>();

  private mixEntry(accountId: string, colo: string | null | undefined, create: boolean): MixEntry | undefined {
    const key = `${accountId}|${colo ?? ''}`;
    const e = this.regionMix.get(key);
    if (e) {
      this.regionMix.delete(key);
      this.regionMix.set(key, e);
      return e;
    }
    if (!create) return undefined;
    if (this.regionMix.size >= MAX_MIX_KEYS) this.regionMix.delete(this.regionMix.keys().next().value as string);
    const fresh: MixEntry = { accountId, local: {}, pending: {}, lastFlush: -Infinity };
    this.regionMix.set(key, fresh);
    return fresh;
  }

  private countNearest(accountId: string, d: RouteDecision, now: number): void {
    const r = nearestRegion(d);
    if (!r) return;
    const e = this.mixEntry(accountId, d.location.colo, true)!;
    e.local = recordNearest(e.local, r, now, this.config);
    e.pending = recordNearest(e.pending, r, now, this.config);
  }

  /** The account's region mix as seen from this colo: the merged mix read back (plus what is not yet in it), or, before the first read, this colo's own. */
  mixView(accountId: string, colo: string | null | undefined, now = Date.now()): RegionMix | undefined {
    const e = this.mixEntry(accountId, colo, false);
    if (!e) return undefined;
    return e.shared ? mergeMixes([e.shared, e.inFlight, e.pending], now, this.config) : e.local;
  }

  /** Where to fill after `answered` served this decision's request (model.ts fillTargets), for this account's region mix as the decision's colo sees it. */
  fillTargets(d: RouteDecision, answered: RegionId, accountId: string, now = Date.now()): RegionId[] {
    return fillTargets(d, answered, this.mixView(accountId, d.location.colo, now), now, this.config);
  }

  /**
   * Send this colo's unflushed region-mix counts of the account to its Durable Object and keep
   * the merged mix it answers (call in ctx.waitUntil, after the answer: never on the request
   * path). At most once per MIX_FLUSH_INTERVAL_MS per account and colo, one at a time, nothing
   * when there is nothing new; a failed flush keeps its counts for the next one.
   */
  async flushMix(env: Env, accountId: string, colo: string | null | undefined, now = Date.now()): Promise<void> {
    const ns = env.ROUTING_STATE;
    const e = this.mixEntry(accountId, colo, false);
    if (!ns || !e || e.inFlight || mixIsEmpty(e.pending) || now - e.lastFlush < MIX_FLUSH_INTERVAL_MS) return;
    e.lastFlush = now;
    e.inFlight = e.pending;
    e.pending = {};
    this.mixFlushes++;
    try {
      const stub = ns.get(ns.idFromName(`mix:${accountId}`));
      const res = await stub.fetch('https://routing-state/mix', { method: 'POST', body: JSON.stringify({ delta: e.inFlight }) });
      if (res.ok === false) throw new Error('mix flush refused');
      e.shared = restoreMix(await res.text(), now, this.config);
    } catch {
      e.pending = mergeMixes([e.pending, e.inFlight], now, this.config);
      this.mixFlushFailures++;
    } finally {
      e.inFlight = undefined;
    }
  }
  mixFlushes = 0;
  mixFlushFailures = 0;

  decide(location: RequestLocation, account: Account, viaCustomDomain: boolean, regions: RegionId[], now = Date.now(), variantKey?: string): RouteDecision {
    const pickKey = `${location.colo ?? ''}|${account.id}`;
    const d = decideRoute({
      location,
      account: { id: account.id, homeRegion: account.homeRegion, residency: account.residency },
      viaCustomDomain,
      health: breakerStatuses(this.breakers, now),
      state: this.state,
      now,
      regions,
      variant: variantKey !== undefined ? variantEvidence(this.variants, variantKey) : undefined,
      previous: this.lastPick.get(pickKey),
      config: this.config,
    });
    if (variantKey !== undefined) {
      this.countColo(account.id, d.location.colo);
      this.countNearest(account.id, d, now);
    }
    if (variantKey !== undefined && d.candidates[0]) {
      this.lastPick.set(pickKey, d.candidates[0].region);
      if (this.lastPick.size > 4096) this.lastPick.delete(this.lastPick.keys().next().value as string);
    }
    return d;
  }

  /** Regions this colo should probe now (bounded; claims the slots so concurrent requests do not repeat them). */
  planProbes(colo: string | null, regions: RegionId[], now = Date.now(), loopback: readonly RegionId[] = []): PlannedProbe[] {
    const failing: Partial<Record<RegionId, number>> = {};
    for (const r of regions) if (this.breakers[r].failures > 0) failing[r] = this.breakers[r].failures;
    const plan = planProbes({ state: this.state, colo, regions, lastProbeAt: this.lastProbeAt, health: breakerStatuses(this.breakers, now), failing, loopback, now, config: this.config });
    const out: PlannedProbe[] = [];
    for (const p of plan) {
      if (p.reason === 'trial') {
        // A half-open region's one trial is the probe, so no user request waits on a region that may be dead.
        const lease = beginAttempt(this.breakers[p.region], now);
        if (!lease.allowed) continue;
        this.breakers[p.region] = lease.state;
      }
      this.lastProbeAt.set(p.reason === 'confirm' ? confirmKey(p.region) : p.reason === 'loopback' ? loopbackKey(p.region) : colo ? probeKey(colo, p.region) : `global|${p.region}`, now);
      out.push(p);
    }
    while (this.lastProbeAt.size > 4096) this.lastProbeAt.delete(this.lastProbeAt.keys().next().value as string);
    return out;
  }

  /**
   * One probe: HEAD /healthz with the colo named (as on a render call), timed to headers. A good
   * answer is an RTT sample and a breaker success; a failure counts against the breaker.
   */
  async probe(urls: Partial<Record<string, string>>, region: RegionId, colo: string | null, reason: PlannedProbe['reason'], timeoutMs = 5_000, loopbackUrl?: string): Promise<number | string> {
    const base = urls[region];
    if (!base) return 'no url';
    this.exploration.probes++;
    this.exploration.byReason[reason]++;
    const headers: Record<string, string> = {};
    if (colo) headers[H.edgeColo] = colo;
    // Twin (bench calibration): the same HEAD over the loopback, held for the RTT this colo expects, sent at the same moment.
    const holdMs = loopbackUrl && colo ? Math.round(this.state.rtt[colo]?.[region]?.mean ?? resolveLocation({ colo }, this.config).prior[region]) : undefined;
    const twin = holdMs !== undefined ? this.timeHead(`${loopbackUrl}/healthz`, { [LOOPBACK_HOLD_HEADER]: String(holdMs) }, timeoutMs + holdMs) : undefined;
    const t0 = Date.now();
    try {
      const res = await fetch(`${base}/healthz`, { method: 'HEAD', headers, signal: AbortSignal.timeout(timeoutMs) });
      const rtt = Date.now() - t0;
      await res.body?.cancel();
      const proc = procFromServerTiming(res.headers.get('server-timing')) ?? 0;
      const twinMs = twin ? await twin : undefined;
      const networkMs = twinMs !== undefined && holdMs !== undefined && res.ok ? twinRttMs(rtt - proc, twinMs, holdMs) : undefined;
      if (networkMs !== undefined) this.exploration.twins++;
      this.report({ region, result: res.status, colo, ttfbMs: rtt, procMs: proc, probe: true, networkMs });
      if (!res.ok) this.exploration.probeFailures++;
      return res.ok ? rtt : `status ${res.status}`;
    } catch (e) {
      const timedOut = (e as Error).name === 'TimeoutError';
      this.exploration.probeFailures++;
      this.report({ region, result: timedOut ? 'timeout' : 'network-error', probe: true });
      return timedOut ? 'timeout' : 'unreachable';
    }
  }

  /** Time to headers − proc of a HEAD, ms; undefined when it failed. */
  private async timeHead(url: string, headers: Record<string, string>, timeoutMs: number): Promise<number | undefined> {
    const t0 = Date.now();
    try {
      const res = await fetch(url, { method: 'HEAD', headers, signal: AbortSignal.timeout(timeoutMs) });
      const ms = Date.now() - t0;
      await res.body?.cancel();
      return res.ok ? ms - (procFromServerTiming(res.headers.get('server-timing')) ?? 0) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * One loopback probe: HEAD /healthz over the region's loopback URL (the same path without the
   * network distance), no colo named. Its time to headers − proc is the local overhead of a round
   * trip to that region (`loop|<region>`), subtracted from the RTT samples; it says nothing about
   * the region's health (no breaker outcome).
   */
  async probeLoopback(loopbackUrls: Partial<Record<string, string>>, region: RegionId, timeoutMs = 5_000, delayMs = 20 + Math.random() * 200): Promise<void> {
    const base = loopbackUrls[region];
    if (!base) return;
    this.exploration.probes++;
    this.exploration.byReason.loopback++;
    // Off the burst: explore runs while the request and its network probes are being sent, and a
    // loopback answer (back within a millisecond) would time that burst, not the path; the network
    // answers arrive an RTT later. A random wait samples the path at an ordinary moment.
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const ms = await this.timeHead(`${base}/healthz`, {}, timeoutMs);
    if (ms === undefined) {
      this.exploration.probeFailures++;
      return;
    }
    const r = recordService(this.state, 'loop', region, Math.max(0, ms), Date.now(), this.config);
    if (r.accepted) this.state = r.state;
  }

  /** Plan and send this colo's probes (call in ctx.waitUntil). */
  async explore(urls: Partial<Record<string, string>>, colo: string | null, regions: RegionId[], now = Date.now(), loopbackUrls: Partial<Record<string, string>> = {}): Promise<void> {
    const loopback = regions.filter((r) => loopbackUrls[r]);
    await Promise.all(
      this.planProbes(colo, regions, now, loopback).map((p) => (p.reason === 'loopback' ? this.probeLoopback(loopbackUrls, p.region) : this.probe(urls, p.region, colo, p.reason, undefined, loopbackUrls[p.region]))),
    );
  }

  /**
   * Before an attempt at a region: true when it may be sent. In half-open this TAKES the one trial
   * lease (other callers get false until it reports or the lease expires); false while open.
   */
  takeAttemptLease(region: RegionId, now = Date.now()): boolean {
    const r = beginAttempt(this.breakers[region], now);
    this.breakers[region] = r.state;
    return r.allowed;
  }

  report(a: AttemptReport, now = Date.now()): void {
    // A 5xx the region marks as about the request (a customer's failing origin, a render over its
    // deadline) proves the region is up: it is no failure of the region.
    const outcome = a.requestScopedError ? 'success' : classifyOutcome(a.result);
    this.breakers[a.region] = recordOutcome(this.breakers[a.region], outcome, now);
    if (typeof a.result !== 'number' || (a.result >= 500 && !a.requestScopedError)) return;
    // Network time = time to headers − the region's own work (which includes any forward to home) − the measured local overhead;
    // or, for a twinned probe, the difference to its twin.
    if (a.colo && (a.networkMs !== undefined || (a.ttfbMs !== undefined && a.procMs !== undefined && Number.isFinite(a.procMs)))) {
      const since = this.state.shift?.[a.region]?.since;
      const ms = a.networkMs ?? networkRttMs(a.ttfbMs!, a.procMs!, serviceMs(this.state, 'loop', a.region, now, this.config).ms);
      const r = recordSample(this.state, a.colo, a.region, ms, now, this.config);
      if (r.accepted) {
        if (r.state.shift?.[a.region]?.since !== since) this.exploration.shiftsConfirmed++;
        this.state = r.state;
        this.dirtyColos.add(a.colo);
        this.samples++;
      }
    }
    // The region's rolling ratio describes all its traffic; this answer's HIT/MISS describes the account's.
    const ratio = a.regionHitRatio !== undefined && a.regionHitRatio !== null && a.regionHitRatio !== '' ? Number(a.regionHitRatio) : NaN;
    if (Number.isFinite(ratio)) {
      const r = recordHit(this.state, a.region, ratio, now, undefined, this.config);
      if (r.accepted) this.state = r.state;
    }
    if (a.accountId && (a.regionCache === 'HIT' || a.regionCache === 'MISS')) {
      const r = recordHit(this.state, a.region, a.regionCache === 'HIT', now, a.accountId, this.config, a.evidence);
      if (r.accepted) this.state = r.state;
    }
    // Service times: a HIT's proc is the region's load and queueing; home's proc on a MISS it processed itself, minus that, its work.
    if (a.procMs !== undefined && Number.isFinite(a.procMs) && a.result === 200) {
      if (a.regionCache === 'HIT') {
        const r = recordService(this.state, 'hit', a.region, a.procMs, now, this.config);
        if (r.accepted) this.state = r.state;
      } else if (a.regionCache === 'MISS' && a.home === a.region && (!a.processedBy || a.processedBy === a.region)) {
        const hitMs = serviceMs(this.state, 'hit', a.region, now, this.config).ms;
        const r = recordService(this.state, 'work', a.region, Math.max(0, a.procMs - hitMs), now, this.config);
        if (r.accepted) this.state = r.state;
      }
    }
    if (a.variantKey !== undefined && a.result === 200) recordSighting(this.variants, a.variantKey, a.region, now, a.processedBy);
  }

  /** Load the persisted state for a colo once per isolate (retrying later after a failure). */
  async ensureLoaded(env: Env, colo: string | null, now = Date.now()): Promise<void> {
    const key = colo ?? 'global';
    const at = this.loadedColos.get(key);
    if (at && ('loaded' in at || now - at.failedAt < LOAD_RETRY_MS)) return;
    if (!env.ROUTING_STATE) return;
    try {
      const stub = env.ROUTING_STATE.get(env.ROUTING_STATE.idFromName(key));
      const saved = restoreState(await (await stub.fetch('https://routing-state/state')).text());
      this.state = mergeStates(this.state, saved);
      this.loadedColos.set(key, { loaded: true });
    } catch {
      this.loadedColos.set(key, { failedAt: now });
    }
  }

  /** Push learned state to each dirty colo's Durable Object, at most once per interval. */
  async flush(env: Env, now = Date.now(), force = false): Promise<void> {
    if (!env.ROUTING_STATE || this.dirtyColos.size === 0) return;
    if (!force && now - this.lastFlush < FLUSH_INTERVAL_MS) return;
    this.lastFlush = now;
    const colos = [...this.dirtyColos];
    this.dirtyColos = new Set();
    await Promise.all(
      colos.map(async (colo) => {
        const stub = env.ROUTING_STATE!.get(env.ROUTING_STATE!.idFromName(colo));
        const slice: RoutingState = { version: 1, rtt: { [colo]: this.state.rtt[colo] ?? {} }, hit: this.state.hit, svc: this.state.svc ?? {} };
        await stub.fetch('https://routing-state/state', { method: 'POST', body: JSON.stringify(slice) }).catch(() => this.dirtyColos.add(colo));
      }),
    );
  }

  /** The public /_routing view: breakers, this colo's learned RTTs, regional (not per-account) hit ratios. */
  describePublic(location: RequestLocation, now = Date.now()) {
    const colo = location.colo ?? null;
    return {
      breakers: Object.fromEntries(REGION_IDS.map((r) => [r, { status: breakerStatuses(this.breakers, now)[r], ...this.breakers[r] }])),
      learned: { colo, rtt: colo ? (this.state.rtt[colo] ?? {}) : {}, hit: Object.fromEntries(Object.entries(this.state.hit).filter(([k]) => !k.includes('|'))) },
    };
  }

  /** The /_routing view for one location and account (the account's own hit ratios only). */
  describe(location: RequestLocation, account: Account, viaCustomDomain: boolean, regions: RegionId[], now = Date.now()) {
    const decision = this.decide(location, account, viaCustomDomain, regions, now);
    return {
      account: account.id,
      home: account.homeRegion,
      residency: account.residency,
      decision,
      breakers: Object.fromEntries(REGION_IDS.map((r) => [r, { status: breakerStatuses(this.breakers, now)[r], ...this.breakers[r] }])),
      learned: {
        colo: decision.location.colo,
        rtt: decision.location.colo ? (this.state.rtt[decision.location.colo] ?? {}) : {},
        hit: Object.fromEntries(Object.entries(this.state.hit).filter(([k]) => !k.includes('|') || k.endsWith(`|${account.id}`))),
        svc: this.state.svc ?? {},
        shift: this.state.shift ?? {},
      },
      exploration: { ...this.exploration, byReason: { ...this.exploration.byReason }, variantsRemembered: this.variants.entries.size, mixFlushes: this.mixFlushes, mixFlushFailures: this.mixFlushFailures },
      /** The account's region mix as shares (model.ts mixShares): the regions its background fills go to (fillMinShare). */
      regionMix: mixShares(this.mixView(account.id, decision.location.colo, now), now, this.config),
      regionMixShared: Boolean(this.mixEntry(account.id, decision.location.colo, false)?.shared),
      samplesThisIsolate: this.samples,
    };
  }
}

/** The routing state of this isolate (one per isolate; not a Hono router). */
export const routingState = new IsolateRouting();

/** Parses `proc;dur=12.3` out of a Server-Timing header. */
export function procFromServerTiming(header: string | null): number | undefined {
  const m = header ? /(?:^|,)\s*proc;dur=([\d.]+)/.exec(header) : null;
  return m ? Number(m[1]) : undefined;
}

export const knownRegions = (urls: Partial<Record<string, string>>): RegionId[] => Object.keys(urls).filter(isRegionId);
