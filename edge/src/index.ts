/**
 * pixmesh edge worker: small Hono apps composed in one place.
 *   /_health, /_routing   the edge's own endpoints (edge/src/ops.ts)
 *   /<account>/…          images (edge/src/images.ts); on a custom domain: /…
 * The region for a miss is chosen in edge/src/routing/ (model) driven by edge/src/routing-state.ts.
 */
import { Hono } from 'hono';
import { notFound } from '../../shared/errors.js';
import type { Env } from './env.js';
import { errorResponse } from './errors.js';
import { imageRoutes } from './images.js';
import { homeAdviceRoutes } from './home-advice.js';
import { managementRoutes } from './management.js';
import { opsRoutes, probeRegions } from './ops.js';

export { RoutingStateDO } from './routing-state-do.js';

const app = new Hono<{ Bindings: Env }>();
app.onError((err) => errorResponse(err));
app.route('/', opsRoutes());
// Paths starting with "_" are reserved for the edge's own endpoints.
app.all('/_*', () => errorResponse(notFound('no such edge endpoint')));
// Management API (/api/v1/…, /v1/…): "api" and "v1" are reserved account ids.
app.route('/', homeAdviceRoutes());
app.route('/', managementRoutes());
app.route('/', imageRoutes());

export default {
  fetch: app.fetch,
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext) {
    // The cron's colo is not known: probes feed health (breakers) and the "global" RTT row only.
    ctx.waitUntil(probeRegions(env));
  },
} satisfies ExportedHandler<Env>;
