/**
 * Phase "edge-cache": the variant's key and this colo's copy; a fresh copy answers here (HIT).
 * Also the HIT fast path (fastHit, called by ../index.ts before the router) for a repeat whose
 * phase results are kept (recall.ts).
 */
import type { DeliveryOptions } from '../delivery.js';
import { deliver } from '../delivery.js';
import { cachedResponse, cleanHeaders, edgeCacheKey, lookupCached, type CachedEntry } from '../edge-cache.js';
import { edgePurgedAt } from '../edge-purge.js';
import type { Env } from '../env.js';
import type { ImagePhase } from './job.js';
import { recallForHit, rememberKey } from './recall.js';
import { setEdgeHeaders } from './respond.js';

/** The HIT answer: the entry's headers copied once, the edge's set on them, one Response (deliver). */
function answerHit(entry: CachedEntry, started: number, varyOn: string[], delivery: DeliveryOptions): Promise<Response> {
  const headers = cleanHeaders(entry.hit);
  setEdgeHeaders(headers, 'HIT', [`edge-cache;desc="HIT"`, `edge;dur=${Date.now() - started}`], varyOn);
  return deliver(entry.hit, delivery, headers);
}

/** What fastHit looked up for a request it then left to the route (no fresh entry): not looked up twice. */
const handedOver = new WeakMap<Request, { keyUrl: string; entry: CachedEntry | undefined }>();

export const edgeCache: ImagePhase = {
  name: 'edge-cache',
  async run(job) {
    const { c, account, request, started } = job;
    if (!job.recalled || !job.key) {
      job.key = await edgeCacheKey({ account, request, plan: job.plan, format: job.format, dpr: job.hints.dpr, width: job.hints.width, encoding: job.encoding });
      rememberKey(job, job.key.url);
    }
    const handed = handedOver.get(c.req.raw);
    const entry = handed && handed.keyUrl === job.key.url ? handed.entry : await lookupCached(job.key, started, () => edgePurgedAt(c.env, account.id, request.path));
    if (entry?.fresh) {
      job.cached = {};
      return answerHit(entry, started, job.varyOn, job.delivery);
    }
    job.cached = entry ? cachedResponse(entry) : {};
  },
};

/**
 * The HIT fast path: a GET whose phase results and edge-cache key are kept (recall.ts; only a
 * request that went through the image route has them, so the router would send it there again)
 * is answered from a fresh entry without the router and the phases before edge-cache — the same
 * answer the route gives (answerHit). Anything else (nothing kept, no fresh entry) is undefined:
 * the request then takes the route, which reuses this lookup.
 */
export async function fastHit(request: Request, env: Env): Promise<Response | undefined> {
  if (request.method !== 'GET') return undefined;
  const started = Date.now();
  const kept = await recallForHit(request, new URL(request.url), env);
  if (!kept) return undefined;
  const entry = await lookupCached(new Request(kept.keyUrl), started, () => edgePurgedAt(env, kept.account.id, kept.request.path));
  if (entry?.fresh) return answerHit(entry, started, kept.varyOn, kept.delivery);
  handedOver.set(request, { keyUrl: kept.keyUrl, entry });
  return undefined;
}
