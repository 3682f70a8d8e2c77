/**
 * Everything one region origin holds, built once from its configuration: account directory,
 * result cache, originals store, transform queue, singleflight groups, metrics and purge.
 * `createOriginApp` builds it from the three boot-time dependencies; tests can build it too.
 */
import type { AccountDirectory } from './accounts.js';
import type { ResultCache } from './cache/result-cache.js';
import { WriteBehind } from './cache/write-behind.js';
import { SingleFlight } from './coalesce.js';
import type { ServerConfig } from './config.js';
import type { BreakerSet } from '../../shared/breaker.js';
import { homeBreakers } from './forward.js';
import { NonceMemory, type NonceStore } from './internal-auth.js';
import { AccountBudgets } from './budget.js';
import { OriginMetrics } from './metrics.js';
import { createPurgeFanout, dropLocalCopies, purgeLocal, type LocalPurgeResult, type PurgeReport } from './purge.js';
import { TransformQueue } from './queue.js';
import type { Produced } from './render.js';
import { OriginalStore } from './sources/index.js';
import { RegionState } from './region/index.js';

/** What main.ts (or a test) provides. */
export interface OriginDeps {
  config: ServerConfig;
  accounts: AccountDirectory;
  cache: ResultCache;
  /** Seen internal-call nonces; per process unless a shared store is given (replicas of one region). */
  nonces?: NonceStore;
}

export interface RegionServices extends OriginDeps {
  /** Per-account render budgets (pixel-operations per minute). */
  budgets: AccountBudgets;
  nonces: NonceStore;
  metrics: OriginMetrics;
  originals: OriginalStore;
  queue: TransformQueue;
  variantFlights: SingleFlight<Produced>;
  /** Result-cache writes done after their response (flushed at shutdown). */
  writes: WriteBehind;
  /** Render requests being handled right now (bounded by config.maxInflight). */
  inflight: { count: number };
  /** Skips a home region that stopped answering (fail over / refuse at once during a cool-down). */
  homeBreaker: BreakerSet;
  /** Bumped by every purge: work started before a purge neither stores its result nor is joined after it. */
  purgeEpoch: { value: number };
  /** Set on SIGTERM: /readyz answers 503 so load balancers stop sending work. */
  lifecycle: { draining: boolean };
  /** What the region's replicas share (shared result tier, purge records, peers); origin/src/region/. */
  region: RegionState;
  /** Remove a path's (or a prefix's) variants and originals in THIS region. */
  purgeLocal(account: string, pathOrPrefix: string, isPrefix: boolean): Promise<LocalPurgeResult>;
  /** Remove them in EVERY region (signed internal calls; this region directly). */
  purgeVariants(account: string, pathOrPrefix: string, isPrefix: boolean): Promise<PurgeReport>;
  /** A media-library file's saved customCoordinates ("x,y,w,h"), for fo-custom (set by app.ts once the media store exists). */
  customCoordinates?: (account: string, path: string) => Promise<string | null | undefined>;
}

export function buildServices(deps: OriginDeps): RegionServices {
  const metrics = new OriginMetrics(deps.config.region, {
    resultCache: () => deps.cache.stats(),
    originals: () => services.originals.cache.stats(),
  });
  const queue = new TransformQueue(deps.config.transformConcurrency, deps.config.transformQueue, {
    onChange: (active, queued) => {
      metrics.transformsActive.set(active);
      metrics.queueDepth.set(queued);
    },
    onRejected: () => metrics.queueRejected.inc(),
  });
  const services: RegionServices = {
    ...deps,
    nonces: deps.nonces ?? new NonceMemory(),
    budgets: new AccountBudgets(deps.config.accountRenderBudget),
    metrics,
    originals: new OriginalStore(deps.config, metrics),
    queue,
    variantFlights: new SingleFlight<Produced>(() => metrics.coalesced.inc({ kind: 'variant' })),
    inflight: { count: 0 },
    writes: new WriteBehind(),
    purgeEpoch: { value: 0 },
    homeBreaker: homeBreakers(deps.config.forwardTimeoutMs, Date.now, deps.config.homeBreakerCoolDownMs),
    lifecycle: { draining: false },
    region: undefined as unknown as RegionState,
    purgeLocal: (account, pathOrPrefix, isPrefix) => purgeLocal(services, account, pathOrPrefix, isPrefix),
    purgeVariants: (account, pathOrPrefix, isPrefix) => fanout(account, pathOrPrefix, isPrefix),
  };
  services.region = new RegionState(deps.config, deps.cache, metrics.hitRatio, (e) => dropLocalCopies(services, e.account, e.path, e.prefix));
  const fanout = createPurgeFanout(services);
  return services;
}
