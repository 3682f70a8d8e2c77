/**
 * Home-region advice (docs/routing.md "Home-region advice"): which region should be an account's
 * home, given where its users are and how far each region is from the account's origins. Pure.
 *
 * A miss for a user at colo c, with home h, costs the best way to reach h plus h's fetch of the
 * original:
 *
 *   miss(c, h) = min over r [ RTT(c → r) + (r ≠ h ? RTT(r → h) : 0) ] + originMs(h)
 *
 * RTT(c → r) is the routing model's estimate (prior blended with what this edge learned), RTT(r → h)
 * the inter-region matrix, originMs(h) what region h measured to the account's origins (a sample
 * GET when given, else the round trip). The advice ranks regions by the mean of miss(c, h) over
 * the account's colo mix (the colos the edge saw its requests from, weighted by count).
 */
import { INTER_REGION_RTT_MS, REGION_IDS, type RegionId } from '../../../shared/regions.js';
import { decayedCount, resolveLocation, routingConfig, type RoutingConfig, type RoutingState } from './model.js';

export interface AdviceInput {
  /** colo (IATA) → weight (request count). */
  coloMix: Record<string, number>;
  /** Region → its measured time to fetch from the account's origins, ms; null = it could not reach them. */
  originMs: Partial<Record<RegionId, number | null>>;
  state?: RoutingState;
  now: number;
  /** Regions that may serve traffic (default all six). */
  regions?: readonly RegionId[];
  config?: Partial<RoutingConfig>;
}

export interface RegionAdvice {
  region: RegionId;
  /** Mean expected miss latency over the colo mix, ms (null when the region cannot reach the origins). */
  expectedMissMs: number | null;
  /** Mean of the network part (user's colo → serving region → this home), ms. */
  networkMs: number;
  originMs: number | null;
  /** The heaviest colos of the mix: how their misses would travel with this home. */
  colos: { colo: string; weight: number; via: RegionId; ms: number }[];
}

const r1 = (x: number) => Math.round(x * 10) / 10;

/** RTT colo → region as the routing model sees it (prior, blended with learning). */
function coloRtt(state: RoutingState | undefined, colo: string, region: RegionId, now: number, cfg: RoutingConfig): number {
  const loc = resolveLocation({ colo }, cfg);
  const prior = loc.prior[region];
  const e = loc.colo ? state?.rtt[loc.colo]?.[region] : undefined;
  if (!e) return prior;
  const n = decayedCount(e, now, cfg.rttHalfLifeMs);
  return (cfg.priorWeight * prior + n * e.mean) / (cfg.priorWeight + n);
}

export function rankHomeRegions(input: AdviceInput): RegionAdvice[] {
  const cfg = routingConfig(input.config);
  const regions = (input.regions ?? REGION_IDS).filter((r, i, all) => all.indexOf(r) === i);
  const mix = Object.entries(input.coloMix).filter(([, w]) => Number.isFinite(w) && w > 0);
  const total = mix.reduce((a, [, w]) => a + w, 0);
  const out: RegionAdvice[] = regions.map((home) => {
    const origin = input.originMs[home];
    const colos = mix.map(([colo, weight]) => {
      let best = { via: home, ms: Infinity };
      for (const r of regions) {
        const ms = coloRtt(input.state, colo, r, input.now, cfg) + (r === home ? 0 : INTER_REGION_RTT_MS[r][home]);
        if (ms < best.ms) best = { via: r, ms };
      }
      return { colo, weight, via: best.via, ms: best.ms };
    });
    const networkMs = total > 0 ? colos.reduce((a, c) => a + c.weight * c.ms, 0) / total : 0;
    const originOk = typeof origin === 'number' && Number.isFinite(origin) && origin >= 0;
    return {
      region: home,
      expectedMissMs: originOk && total > 0 ? r1(networkMs + origin) : null,
      networkMs: r1(networkMs),
      originMs: originOk ? r1(origin) : null,
      colos: colos
        .sort((a, b) => b.weight - a.weight || (a.colo < b.colo ? -1 : 1))
        .slice(0, 10)
        .map((c) => ({ ...c, ms: r1(c.ms) })),
    };
  });
  // Reachable regions first, by expected miss latency; ties by REGION_IDS order.
  return out.sort(
    (a, b) =>
      (a.expectedMissMs === null ? 1 : 0) - (b.expectedMissMs === null ? 1 : 0) ||
      (a.expectedMissMs ?? 0) - (b.expectedMissMs ?? 0) ||
      REGION_IDS.indexOf(a.region) - REGION_IDS.indexOf(b.region),
  );
}

/** Parses `SYD:3,FRA:1` (a colo mix given by the caller) → { SYD: 3, FRA: 1 }; undefined when malformed. */
export function parseColoMix(s: string): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const part of s.split(',')) {
    const m = /^\s*([A-Za-z]{3})(?::(\d+(?:\.\d+)?))?\s*$/.exec(part);
    if (!m) return undefined;
    const w = m[2] === undefined ? 1 : Number(m[2]);
    if (!(w > 0) || w > 1e9) return undefined;
    out[m[1]!.toUpperCase()] = (out[m[1]!.toUpperCase()] ?? 0) + w;
  }
  return Object.keys(out).length && Object.keys(out).length <= 64 ? out : undefined;
}
