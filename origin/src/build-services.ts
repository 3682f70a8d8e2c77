/** Builds a region's services (./services.ts declares them) from the boot-time dependencies. */
import { SingleFlight } from './coalesce.js';
import { WriteBehind } from './cache/write-behind.js';
import { HitAnswers } from './cache/hit-answers.js';
import { homeBreakers } from './forward.js';
import { NonceMemory } from './internal-auth.js';
import { AccountBudgets } from './budget.js';
import { OriginMetrics } from './metrics.js';
import { createPurgeFanout, dropLocalCopies, purgeLocal } from './purge.js';
import { TransformQueue } from './queue.js';
import { OriginalStore } from './sources/index.js';
import { RegionState } from './region/index.js';
import type { OriginDeps, Produced, RegionServices } from './services.js';

export function buildServices(deps: OriginDeps): RegionServices {
  const metrics = new OriginMetrics(deps.config.region, {
    resultCache: () => deps.cache.stats(),
    originals: () => services.originals.cache.stats(),
  });
  let lastBusy = 0;
  const queue = new TransformQueue(deps.config.transformConcurrency, deps.config.transformQueue, {
    onChange: (active, queued) => {
      lastBusy = performance.now();
      metrics.transformsActive.set(active);
      metrics.queueDepth.set(queued);
    },
    onRejected: () => metrics.queueRejected.inc(),
  }, 1, 1); // one reserve slot: an account with nothing running never waits behind others' cheap renders
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
    hitAnswers: new HitAnswers(),
    purgeEpoch: { value: 0 },
    homeBreaker: homeBreakers(deps.config.forwardTimeoutMs, Date.now, deps.config.homeBreakerCoolDownMs),
    lifecycle: { draining: false },
    region: undefined as unknown as RegionState,
    purgeLocal: (account, pathOrPrefix, isPrefix) => purgeLocal(services, account, pathOrPrefix, isPrefix),
    purgeVariants: (account, pathOrPrefix, isPrefix) => fanout(account, pathOrPrefix, isPrefix),
  };
  services.region = new RegionState(deps.config, deps.cache, metrics.hitRatio, (e) => dropLocalCopies(services, e.account, e.path, e.prefix));
  // Shared-tier copies of a replica alone in its region wait for a pause: no render running or
  // waiting for 100 ms (a PUT is S3-client CPU and a socket write beside the next render otherwise).
  services.region.idle = () => queue.running === 0 && queue.depth === 0 && performance.now() - lastBusy > 100;
  const fanout = createPurgeFanout(services);
  return services;
}
