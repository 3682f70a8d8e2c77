/** Phase "route": rank the regions by expected latency (and exploration's half-open trials). */
import { routingState } from '../routing-state.js';
import type { ImagePhase } from './job.js';

export const route: ImagePhase = {
  name: 'route',
  async run(job) {
    const { c, geo } = job;
    await routingState.ensureLoaded(c.env, geo.colo ?? null);
    // Exploration first: it claims half-open trials (as probes), so the decision routes no user there.
    c.executionCtx.waitUntil(routingState.explore(job.urls, geo.colo ?? null, job.regions));
    job.decision = routingState.decide(geo, job.account, job.viaCustomDomain, job.regions, Date.now(), job.key.url);
  },
};
