/**
 * Phase "fetch-failover": ask the ranked regions in order within one deadline for the whole
 * request; a region that fails (network, timeout, a 5xx that is not request-scoped) hands over to
 * the next. Every attempt is reported to the routing model. Sets job.upstream when a region answered.
 */
import { PixmeshError, upstreamFailed } from '../../../shared/errors.js';
import { H } from '../../../shared/headers.js';
import { EDGE_ATTEMPT_TIMEOUT_MS, EDGE_REQUEST_DEADLINE_MS } from '../../../shared/deadlines.js';
import { internalFetch, InternalUnreachable } from '../../../shared/internal-fetch.js';
import type { RegionId } from '../../../shared/regions.js';
import type { Candidate } from '../routing/model.js';
import { chargeMiss } from '../client-budget.js';
import { procFromServerTiming, routingState } from '../routing-state.js';
import type { ImageJob, ImagePhase } from './job.js';

/** A background fill waits FILL_DELAY_MS plus up to as much again at random before it is sent. */
const FILL_DELAY_MS = 100;

/** The internal headers that tell the region what the edge decided (format, encoding, hints, signature). */
function internalHeaders(job: ImageJob): Headers {
  const { c, hints, decision } = job;
  const base = new Headers();
  base.set(H.format, job.format);
  base.set(H.signed, job.signature.signed ? 'true' : 'false');
  base.set(H.encoding, job.encoding);
  if (hints.dpr !== undefined) base.set(H.dpr, String(hints.dpr));
  if (hints.width !== undefined) base.set(H.width, String(hints.width));
  base.set(H.requestId, c.req.header('cf-ray') ?? crypto.randomUUID());
  if (decision.location.colo) base.set(H.edgeColo, decision.location.colo);
  return base;
}

/** Report one region's answer to the routing model (RTT sample, breaker, hit ratio, sighting); true when it is a request-scoped error. */
function reportAnswer(job: ImageJob, candidate: Candidate | undefined, res: Response, ttfbMs: number): boolean {
  const region = candidate?.region;
  if (!region) return false;
  const requestScoped = res.status >= 500 && res.headers.get(H.errorScope) === 'request';
  routingState.report({
    region,
    result: res.status,
    colo: job.decision.location.colo,
    accountId: job.account.id,
    ttfbMs,
    procMs: procFromServerTiming(res.headers.get('server-timing')),
    regionCache: res.headers.get(H.regionCache),
    regionHitRatio: res.headers.get(H.regionHitRatio),
    requestScopedError: requestScoped,
    variantKey: job.key.url,
    evidence: candidate.evidence,
    processedBy: res.headers.get(H.processedBy),
    home: job.account.homeRegion,
  });
  return requestScoped;
}

/**
 * Background fill (routing/model.ts fillTargets, docs/routing.md): the same render call, marked
 * H.fill (not usage), to the colo's nearest region after the user's answer came from elsewhere,
 * and to the account's other near regions (its region mix) that the edge has not seen hold the
 * variant, so those regions hold it for the next users. Off the request path (waitUntil); its
 * answer is reported like any other (an RTT sample, a sighting), its body dropped.
 */
async function fillInBackground(job: ImageJob, region: RegionId, internalPath: string, base: Headers): Promise<void> {
  const { c, decision, urls } = job;
  const variantKey = job.key.url;
  if (!routingState.beginFill(region, variantKey)) return;
  // After the user's answer has streamed (the client waits for its last byte, and the isolate is
  // single-threaded): the fill only has to land before the next user of that region asks.
  await new Promise((resolve) => setTimeout(resolve, FILL_DELAY_MS + Math.random() * FILL_DELAY_MS));
  const headers = new Headers(base);
  headers.set(H.fill, '1');
  headers.set(H.budget, String(EDGE_ATTEMPT_TIMEOUT_MS));
  let ok = false;
  const t0 = Date.now();
  try {
    const res = await internalFetch({ secret: c.env.PIXMESH_INTERNAL_SECRET, baseUrl: urls[region], target: region, pathAndQuery: internalPath, headers, timeoutMs: EDGE_ATTEMPT_TIMEOUT_MS });
    reportAnswer(job, decision.candidates.find((x) => x.region === region), res, Date.now() - t0);
    ok = res.ok;
    await res.body?.cancel();
  } catch (e) {
    if (e instanceof InternalUnreachable) routingState.report({ region, result: e.timedOut ? 'timeout' : 'network-error' });
  } finally {
    routingState.endFill(region, variantKey, ok);
  }
}

export const fetchWithFailover: ImagePhase = {
  name: 'fetch-failover',
  async run(job) {
    const { c, account, decision, urls } = job;
    const internalPath = `/internal/render/${encodeURIComponent(account.id)}${job.pathAfterAccount}${job.url.search}`;
    const base = internalHeaders(job);
    const deadline = job.started + EDGE_REQUEST_DEADLINE_MS;
    job.tried = [];

    for (const candidate of decision.candidates) {
      const region: RegionId = candidate.region;
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      if (!routingState.takeAttemptLease(region) && !decision.allOpen) continue;
      job.tried.push(region);
      const t0 = Date.now();
      const timeoutMs = Math.min(EDGE_ATTEMPT_TIMEOUT_MS, remaining);
      // the region answers within what this attempt waits (shared/deadlines.ts)
      const headers = new Headers(base);
      headers.set(H.budget, String(timeoutMs));
      let res: Response;
      try {
        res = await internalFetch({
          secret: c.env.PIXMESH_INTERNAL_SECRET,
          baseUrl: urls[region],
          target: region,
          pathAndQuery: internalPath,
          headers,
          timeoutMs,
        });
      } catch (e) {
        chargeMiss(c.env, account.id, job.client, Date.now() - t0);
        if (!(e instanceof InternalUnreachable)) throw e;
        routingState.report({ region, result: e.timedOut ? 'timeout' : 'network-error' });
        job.lastError = upstreamFailed(`${region} ${e.timedOut ? 'timed out' : 'unreachable'}`, e.timedOut ? 504 : 502);
        continue;
      }
      const ttfb = Date.now() - t0;
      // the region time this attempt held, charged to the client (../client-budget.ts)
      chargeMiss(c.env, account.id, job.client, procFromServerTiming(res.headers.get('server-timing')) ?? ttfb);
      const requestScoped = reportAnswer(job, candidate, res, ttfb);
      c.executionCtx.waitUntil(routingState.flush(c.env));
      // Another region would fail the same way on a request-scoped error: answer it, don't fail over.
      if (res.status >= 500 && !requestScoped) {
        job.lastError = new PixmeshError(res.status === 504 ? 504 : 502, 'EUPSTREAM', `${region} answered ${res.status}`);
        await res.body?.cancel();
        continue;
      }
      job.upstream = { res, region, ttfbMs: ttfb };
      // (a region this request already tried and lost is not filled: it just failed)
      for (const target of res.ok ? routingState.fillTargets(decision, region, account.id) : [])
        if (urls[target] && !job.tried.includes(target)) c.executionCtx.waitUntil(fillInBackground(job, target, internalPath, base));
      // This colo's new region-mix counts to the account's Durable Object, the merged mix back (after the fills were chosen: off the request path).
      c.executionCtx.waitUntil(routingState.flushMix(c.env, account.id, decision.location.colo));
      return;
    }
  },
};
