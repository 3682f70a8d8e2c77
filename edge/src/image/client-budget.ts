/**
 * Phase "client-budget": a miss is admitted only while this client's share of the account's
 * rendering is not used up (../client-budget.ts); over it, a stale copy is served if there is
 * one, else 429 EBUSY with Retry-After. fetch-failover charges each attempt's region time.
 */
import { admitMiss, clientOf } from '../client-budget.js';
import { deliver } from '../delivery.js';
import type { ImagePhase } from './job.js';
import { withEdgeHeaders } from './respond.js';

export const clientBudget: ImagePhase = {
  name: 'client-budget',
  run(job) {
    const { c, cached } = job;
    job.client = clientOf(c.req.raw, c.env.PIXMESH_TRUST_GEO_HEADERS === 'true');
    try {
      admitMiss(c.env, job.account.id, job.client);
    } catch (e) {
      if (cached.stale) return deliver(withEdgeHeaders(cached.stale, 'STALE', [`edge-cache;desc="STALE"`], job.varyOn, false), job.delivery);
      throw e;
    }
  },
};
