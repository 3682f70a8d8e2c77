/** Phase "route": rank the regions by expected latency (and exploration's half-open trials). */
import { parseRegionUrls } from '../../../shared/regions.js';
import { BENCH_ROUTE_HEADER, forceOrder, parseForcedOrder } from '../routing/model.js';
import { routingState } from '../routing-state.js';
import type { ImagePhase } from './job.js';

export const route: ImagePhase = {
  name: 'route',
  async run(job) {
    const { c, geo } = job;
    await routingState.ensureLoaded(c.env, geo.colo ?? null);
    // Exploration first: it claims half-open trials (as probes), so the decision routes no user there.
    const loopback = parseRegionUrls(c.env.PIXMESH_LOOPBACK_URLS, 'PIXMESH_LOOPBACK_URLS');
    c.executionCtx.waitUntil(routingState.explore(job.urls, geo.colo ?? null, job.regions, Date.now(), loopback));
    job.decision = routingState.decide(geo, job.account, job.viaCustomDomain, job.regions, Date.now(), job.key.url);
    // The geo benchmark's baselines: the same worker, the region order named by the bench (docs/routing.md).
    if (c.env.PIXMESH_BENCH_ROUTE_OVERRIDE === 'true') {
      const order = parseForcedOrder(c.req.header(BENCH_ROUTE_HEADER), job.regions);
      if (order) job.decision = forceOrder(job.decision, order);
    }
  },
};
