/**
 * GET /v1/accounts/home-region-advice (management API, HTTP Basic with the account's private key;
 * docs/routing.md "Home-region advice"): every region measures its distance to the account's
 * origins (GET /internal/origin-probe, SSRF-safe and rate-limited in the region), and the regions
 * are ranked by the expected miss latency for the account's users (edge/src/routing/advice.ts).
 *
 * Query: `colos=SYD:3,FRA:1` to state a colo mix (default: the colos this edge saw the account's
 * requests from), `sample=<path>` to time a real file from web origins (throughput).
 */
import { Hono } from 'hono';
import { badRequest } from '../../shared/errors.js';
import { internalFetch, InternalUnreachable } from '../../shared/internal-fetch.js';
import { parseRegionUrls, type RegionId } from '../../shared/regions.js';
import type { Env } from './env.js';
import { authenticate } from './management.js';
import { parseColoMix, rankHomeRegions } from './routing/advice.js';
import { knownRegions, routingState } from './routing-state.js';

const PROBE_TIMEOUT_MS = 15_000;

interface ProbeAnswer {
  origins?: { origin: string; type: string; rttMs: number | null; sample?: { ms: number; bytes: number; bytesPerSec: number } | { error: string }; error?: string }[];
  cached?: boolean;
  measuredAt?: number;
}

/** What a region's probe says a fetch of an original costs from there: the sample GET when timed, else the round trip (best origin). */
export function originCost(a: ProbeAnswer | null): number | null {
  const ms = (a?.origins ?? []).map((o) => (o.sample && 'ms' in o.sample ? o.sample.ms : o.rttMs)).filter((x): x is number => typeof x === 'number');
  return ms.length ? Math.min(...ms) : null;
}

export function homeAdviceRoutes(): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();
  app.get('/v1/accounts/home-region-advice', async (c) => {
    const account = await authenticate(c.env, c.req.header('authorization'));
    const coloParam = c.req.query('colos');
    const sample = c.req.query('sample');
    if (sample !== undefined && !/^[^\0\r\n?#]{1,1024}$/.test(sample)) throw badRequest('sample must be a file path (1–1024 characters, no query or fragment)');
    let coloMix: Record<string, number>;
    let mixSource: 'query' | 'observed';
    if (coloParam !== undefined) {
      const parsed = parseColoMix(coloParam);
      if (!parsed) throw badRequest('colos must look like SYD:3,FRA:1 (IATA codes with optional positive weights, at most 64)');
      coloMix = parsed;
      mixSource = 'query';
    } else {
      coloMix = Object.fromEntries(routingState.coloMix.get(account.id) ?? []);
      mixSource = 'observed';
    }
    const urls = parseRegionUrls((c.env as Env).PIXMESH_REGION_URLS);
    const regions = knownRegions(urls);
    const path = `/internal/origin-probe/${encodeURIComponent(account.id)}${sample !== undefined ? `?sample=${encodeURIComponent(sample)}` : ''}`;
    const probes = await Promise.all(
      regions.map(async (r: RegionId) => {
        try {
          const res = await internalFetch({ secret: (c.env as Env).PIXMESH_INTERNAL_SECRET, baseUrl: urls[r], target: r, pathAndQuery: path, timeoutMs: PROBE_TIMEOUT_MS });
          if (!res.ok) {
            await res.body?.cancel();
            return [r, null, `status ${res.status}`] as const;
          }
          return [r, (await res.json()) as ProbeAnswer, null] as const;
        } catch (e) {
          return [r, null, e instanceof InternalUnreachable && e.timedOut ? 'timeout' : 'unreachable'] as const;
        }
      }),
    );
    const originMs = Object.fromEntries(probes.map(([r, a]) => [r, originCost(a)]));
    const ranking = rankHomeRegions({ coloMix, originMs, state: routingState.state, now: Date.now(), regions });
    const probeBy = Object.fromEntries(probes.map(([r, a, err]) => [r, { answer: a, error: err }]));
    return c.json(
      {
        account: account.id,
        currentHome: account.homeRegion,
        advised: ranking[0]?.expectedMissMs !== null && ranking[0]?.expectedMissMs !== undefined ? ranking[0].region : null,
        coloMix: { source: mixSource, colos: coloMix, requests: Object.values(coloMix).reduce((a, b) => a + b, 0) },
        model: 'expectedMissMs = mean over the colo mix of min over serving region r [RTT(colo → r) + RTT(r → home)] + originMs(home)',
        regions: ranking.map((x) => ({
          ...x,
          isCurrentHome: x.region === account.homeRegion,
          probe: { origins: probeBy[x.region]?.answer?.origins ?? [], cached: probeBy[x.region]?.answer?.cached ?? false, error: probeBy[x.region]?.error ?? null },
        })),
      },
      200,
      { 'cache-control': 'no-store' },
    );
  });
  return app;
}
