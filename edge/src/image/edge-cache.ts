/** Phase "edge-cache": the variant's key and this colo's copy; a fresh copy answers here (HIT). */
import { deliver } from '../delivery.js';
import { edgeCacheKey, readCached } from '../edge-cache.js';
import { edgePurgedAt } from '../edge-purge.js';
import type { ImagePhase } from './job.js';
import { rememberKey } from './recall.js';
import { withEdgeHeaders } from './respond.js';

export const edgeCache: ImagePhase = {
  name: 'edge-cache',
  async run(job) {
    const { c, account, request, started } = job;
    if (!job.recalled || !job.key) {
      job.key = await edgeCacheKey({ account, request, plan: job.plan, format: job.format, dpr: job.hints.dpr, width: job.hints.width, encoding: job.encoding });
      rememberKey(job, job.key.url);
    }
    job.cached = await readCached(job.key, started, () => edgePurgedAt(c.env, account.id, request.path));
    if (job.cached.fresh) {
      return deliver(withEdgeHeaders(job.cached.fresh, 'HIT', [`edge-cache;desc="HIT"`, `edge;dur=${Date.now() - started}`], job.varyOn, false), job.delivery);
    }
  },
};
