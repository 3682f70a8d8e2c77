/**
 * Per-client budget at the edge (#12 point 7): one client (an IP, per account) cannot spend an
 * account's render budget for everyone. Every miss the edge sends to a region is charged to
 * (account, client) with the region time it took (the region's `proc` Server-Timing, else the
 * time to headers); a client whose bucket is in debt gets 429 EBUSY with Retry-After — before any
 * region is asked — while other clients of the same account go on. Cache hits cost nothing.
 *
 * The currency is region milliseconds: what a heavy render actually holds (a transform slot),
 * whatever made it heavy. Budget: PIXMESH_CLIENT_BUDGET_MS (default 60 000 ms of region time per
 * minute per client and account, burst one minute), per isolate — a client spread over many
 * colos gets one budget in each; the region's per-account budget and fair queue
 * (origin/src/budget.ts, origin/src/queue.ts) bound the total.
 *
 * The client is `cf-connecting-ip` (set by Cloudflare, not by the client); in local runs and tests
 * (PIXMESH_TRUST_GEO_HEADERS=true) an `x-pixmesh-client` header stands in for it.
 */
import { TokenBuckets } from '../../shared/token-buckets.js';
/** The one Env field this module reads (edge/src/env.ts). */
type Env = { PIXMESH_CLIENT_BUDGET_MS?: string };

export const DEFAULT_CLIENT_BUDGET_MS = 60_000;
export const CLIENT_HEADER = 'x-pixmesh-client';

export function clientOf(req: Request, trustHeaders: boolean): string {
  const stand = trustHeaders ? req.headers.get(CLIENT_HEADER) : null;
  return (stand || req.headers.get('cf-connecting-ip') || 'unknown').slice(0, 64);
}

let buckets: TokenBuckets | undefined;
function budgets(env: Env): TokenBuckets {
  const raw = Number(env.PIXMESH_CLIENT_BUDGET_MS);
  const perMinute = Number.isFinite(raw) && raw > 0 ? raw : DEFAULT_CLIENT_BUDGET_MS;
  if (!buckets || buckets.perMinute !== perMinute)
    buckets = new TokenBuckets(perMinute, 0, (n) => `this client's share of the account's rendering (${Math.round(n / 1000)} s of region time per minute) is used up; try again later`);
  return buckets;
}

/** Before a miss goes to a region: 429 EBUSY when the client is in debt. */
export function admitMiss(env: Env, accountId: string, client: string, now = Date.now()): void {
  budgets(env).take(`${accountId}\n${client}`, 1, now);
}

/** After a region answered (or failed): the region time it cost. */
export function chargeMiss(env: Env, accountId: string, client: string, regionMs: number, now = Date.now()): void {
  budgets(env).charge(`${accountId}\n${client}`, regionMs, now);
}
