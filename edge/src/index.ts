/**
 * pixmesh edge worker: small Hono apps composed in one place.
 *   /_health, /_routing   the edge's own endpoints (edge/src/ops.ts)
 *   /_internal/purge      a home region's purges, signed (edge/src/edge-purge.ts)
 *   /, /_dashboard        the landing page and the dashboard app (edge/src/dashboard/)
 *   /<account>/…          images (edge/src/images.ts); on a custom domain: /…; a repeat that is an
 *                         edge-cache HIT is answered before the router (image/edge-cache.ts fastHit)
 * The region for a miss is chosen in edge/src/routing/ (model) driven by edge/src/routing-state.ts.
 */
import { Hono } from 'hono';
import { notFound } from '../../shared/errors.js';
import type { Env } from './env.js';
import { countImageAnswer, dashboardRoutes, trafficMiddleware } from './dashboard/index.js';
import { edgePurgeRoutes } from './edge-purge.js';
import { errorResponse } from './errors.js';
import { fastHit } from './image/edge-cache.js';
import { imageRoutes } from './images.js';
import { homeAdviceRoutes } from './home-advice.js';
import { managementRoutes } from './management.js';
import { opsRoutes, probeRegions } from './ops.js';

export { RoutingStateDO } from './routing-state-do.js';

const app = new Hono<{ Bindings: Env }>();
// One error mapper for the whole edge (edge/src/errors.ts); unknown routes get an ik-error too.
app.onError((err, c) => errorResponse(err, c.req.path));
app.notFound((c) => errorResponse(notFound('no such route'), c.req.path));
// Counts image answers by colo, region and cache outcome for the dashboard's network view.
app.use('*', trafficMiddleware());
app.route('/', opsRoutes());
// The landing page and /_dashboard (edge/src/dashboard/).
app.route('/', dashboardRoutes());
// The home regions' purges, told to the edge (crash replays included: edge/src/edge-purge.ts).
app.route('/', edgePurgeRoutes());
// Paths starting with "_" are reserved for the edge's own endpoints.
app.all('/_*', () => {
  throw notFound('no such edge endpoint');
});
// Management API (/api/v1/…, /v1/…): "api" and "v1" are reserved account ids.
app.route('/', homeAdviceRoutes());
app.route('/', managementRoutes((req, env, ctx) => Promise.resolve(app.fetch(req, env, ctx))));
app.route('/', imageRoutes());

export default {
  // A repeat GET that is a HIT is answered before the router (image/edge-cache.ts fastHit), counted
  // as the middleware counts it; anything else — or any error on that path — takes the app.
  async fetch(request: Request, env: Env, ctx: ExecutionContext) {
    const hit = await fastHit(request, env).catch(() => undefined);
    if (!hit) return app.fetch(request, env, ctx);
    countImageAnswer(request, env, hit);
    return hit;
  },
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext) {
    // The cron's colo is not known: probes feed health (breakers) and the "global" RTT row only.
    ctx.waitUntil(probeRegions(env));
  },
} satisfies ExportedHandler<Env>;
