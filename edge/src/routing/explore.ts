/**
 * Exploration by probes (docs/routing.md "Exploration"): which regions this colo should measure
 * now with a light HEAD /healthz, off the request path (ctx.waitUntil), so the model learns the
 * RTT of regions it does not route to without making any user wait on a worse region. Bounded:
 * a (colo, region) pair is probed at most once per probeMinIntervalMs, and only while it has too
 * few samples or its newest one is older than probeRefreshMs (request samples refresh the region
 * in use, so at steady state only the alternatives are probed, about 60 000 / probeRefreshMs
 * times a minute each). A region whose last answer was a network error or a timeout (breaker
 * still closed, failures counting) is probed again at once (`confirm`, at most every
 * probeConfirmIntervalMs, from any colo): a dead region's breaker then opens after a few probes,
 * not after several users' requests. Where a loopback URL is configured (the same path to the
 * region without the network distance; the geo benchmark's one-machine calibration), a
 * `loopback` probe measures the local overhead of a round trip, at most every
 * probeLoopbackIntervalMs per region (model.ts networkRttMs subtracts it from every sample). Pure: the clock and the last probe times are parameters.
 */
import { REGION_IDS, type RegionId } from '../../../shared/regions.js';
import type { BreakerStatus } from '../../../shared/breaker.js';
import { decayedCount, normaliseColo, routingConfig, type RoutingConfig, type RoutingState } from './model.js';

export interface ProbePlanInput {
  state: RoutingState;
  colo: string | null | undefined;
  /** Regions the edge can reach. */
  regions?: readonly RegionId[];
  /** colo|region → when it was last probed (ms). */
  lastProbeAt: ReadonlyMap<string, number>;
  /** Breaker status per region: half-open regions get their trial as a probe, open ones none. */
  health?: Partial<Record<RegionId, BreakerStatus>>;
  /** Consecutive failures of regions whose breaker is still closed (a `confirm` probe each). */
  failing?: Partial<Record<RegionId, number>>;
  /** Regions with a loopback URL (the same path without the network distance): a `loopback` probe each, at most every probeLoopbackIntervalMs. */
  loopback?: readonly RegionId[];
  now: number;
  config?: Partial<RoutingConfig>;
}

export type ProbeReason = 'unmeasured' | 'stale' | 'trial' | 'confirm' | 'loopback';

export interface PlannedProbe {
  region: RegionId;
  reason: ProbeReason;
}

export const probeKey = (colo: string, region: RegionId) => `${colo}|${region}`;
/** lastProbeAt key of a region's confirm probes (one series for all colos). */
export const confirmKey = (region: RegionId) => `confirm|${region}`;
/** lastProbeAt key of a region's loopback probes (one series for the isolate: the overhead is local, not per colo). */
export const loopbackKey = (region: RegionId) => `loop|${region}`;

export function planProbes(input: ProbePlanInput): PlannedProbe[] {
  const cfg = routingConfig(input.config);
  const colo = normaliseColo(input.colo);
  const out: PlannedProbe[] = [];
  for (const region of input.regions ?? REGION_IDS) {
    const health = input.health?.[region] ?? 'closed';
    if (health === 'open') continue;
    if (input.loopback?.includes(region)) {
      const at = input.lastProbeAt.get(loopbackKey(region));
      if (at === undefined || input.now - at >= cfg.probeLoopbackIntervalMs) out.push({ region, reason: 'loopback' });
    }
    if (health === 'closed' && (input.failing?.[region] ?? 0) > 0) {
      const at = input.lastProbeAt.get(confirmKey(region));
      if (at === undefined || input.now - at >= cfg.probeConfirmIntervalMs) out.push({ region, reason: 'confirm' });
      continue;
    }
    const key = colo ? probeKey(colo, region) : `global|${region}`;
    const last = input.lastProbeAt.get(key);
    if (last !== undefined && input.now - last < cfg.probeMinIntervalMs) continue;
    if (health === 'half-open') {
      out.push({ region, reason: 'trial' });
      continue;
    }
    if (!colo) continue;
    const e = input.state.rtt[colo]?.[region];
    if (!e || decayedCount(e, input.now, cfg.rttHalfLifeMs) < cfg.probeMinSamples) out.push({ region, reason: 'unmeasured' });
    else if (input.now - e.at > cfg.probeRefreshMs) out.push({ region, reason: 'stale' });
  }
  return out;
}
