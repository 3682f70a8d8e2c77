/**
 * The image route, as named phases run in this order (one file per phase in ./image/):
 * recall → parse → verify → negotiate → remember → edge-cache (HIT answers) → client-budget (429 answers) → route →
 * fetch-failover → store (answers).
 * Each phase reads the job earlier phases filled and may answer early; see ./image/job.ts.
 */
import { Hono } from 'hono';
import { parseRegionUrls } from '../../shared/regions.js';
import type { Env } from './env.js';
import { readGeo } from './geo.js';
import { clientBudget } from './image/client-budget.js';
import { edgeCache } from './image/edge-cache.js';
import { fetchWithFailover } from './image/fetch-failover.js';
import type { ImageContext, ImageJob, ImagePhase } from './image/job.js';
import { negotiate } from './image/negotiate.js';
import { parse } from './image/parse.js';
import { recall, remember } from './image/recall.js';
import { route } from './image/route.js';
import { store } from './image/store.js';
import { verify } from './image/verify.js';
import { knownRegions } from './routing-state.js';

/** The processing order, declared once. */
export const IMAGE_PHASES: readonly ImagePhase[] = [recall, parse, verify, negotiate, remember, edgeCache, clientBudget, route, fetchWithFailover, store];

/** The region URLs parsed once per value of the variable (not per request). */
let regionUrls: { json: string | undefined; urls: ReturnType<typeof parseRegionUrls>; regions: ReturnType<typeof knownRegions> } | undefined;
function regionsOf(json: string | undefined) {
  if (!regionUrls || regionUrls.json !== json) {
    const urls = parseRegionUrls(json);
    regionUrls = { json, urls, regions: knownRegions(urls) };
  }
  return regionUrls;
}

function newJob(c: ImageContext): ImageJob {
  const { urls, regions } = regionsOf(c.env.PIXMESH_REGION_URLS);
  // The phases fill in the rest (see the field comments in job.ts).
  return {
    c,
    started: Date.now(),
    head: c.req.method === 'HEAD',
    url: new URL(c.req.url),
    geo: readGeo(c.req.raw, c.env.PIXMESH_TRUST_GEO_HEADERS === 'true'),
    urls,
    regions,
  } as ImageJob;
}

export async function runImagePhases(job: ImageJob, phases: readonly ImagePhase[] = IMAGE_PHASES): Promise<Response> {
  for (const phase of phases) {
    if (phase.memoised && job.recalled) continue;
    const answer = await phase.run(job);
    if (answer) return answer;
  }
  throw new Error(`image phases ended without an answer (last: ${phases.at(-1)?.name})`);
}

export function imageRoutes(): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();
  app.on(['GET', 'HEAD'], '*', (c) => runImagePhases(newJob(c)));
  return app;
}
