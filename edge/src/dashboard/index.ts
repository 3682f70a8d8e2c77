/**
 * The dashboard on the edge (docs/dashboard.md):
 *
 *   GET /                          a landing page linking the dashboard
 *   GET /_dashboard[/]             the app (static files built into the Worker: assets.generated.ts)
 *   GET /_dashboard/<file>         its scripts and styles
 *   GET /_dashboard/api/session    who the HTTP Basic private key belongs to (401 otherwise)
 *   GET /_dashboard/api/network    the operator view: regions, health, metrics, colos, routing
 *
 * The app signs in with an account id and its private key, kept in sessionStorage and sent as
 * the management API's HTTP Basic; the media library and URL builder use the management API
 * itself. The network view is for operators: accounts listed in PIXMESH_OPERATOR_ACCOUNTS.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import type { Account } from '../../../shared/accounts.js';
import { PixmeshError } from '../../../shared/errors.js';
import { internalFetch } from '../../../shared/internal-fetch.js';
import { parseRegionUrls, REGIONS, type RegionId } from '../../../shared/regions.js';
import { authenticate } from '../management.js';
import { knownRegions, routingState as router } from '../routing-state.js';
import { COLO_PRIOR } from '../routing/prior.generated.js';
import { breakerStatuses } from '../../../shared/breaker.js';
import { ASSETS } from './assets.generated.js';
import { MetricsWindow } from './metrics.js';
import type { Env } from '../env.js';
import { readGeo } from '../geo.js';
import { traffic } from './traffic.js';

export const DASHBOARD_PATH = '/_dashboard';
/** At most this many colos get a routing decision in one answer (the most recently seen first). */
const MAX_COLOS = 60;
const SCRAPE_TIMEOUT_MS = 2_000;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const metricsWindow = new MetricsWindow();

/** `PIXMESH_OPERATOR_ACCOUNTS`: comma-separated account ids whose key opens the network view. */
export function isOperator(env: { PIXMESH_OPERATOR_ACCOUNTS?: string }, accountId: string): boolean {
  return (env.PIXMESH_OPERATOR_ACCOUNTS ?? '')
    .split(',')
    .map((s) => s.trim())
    .includes(accountId);
}

const LANDING = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>pixmesh</title><link rel="icon" href="data:,"><link rel="stylesheet" href="${DASHBOARD_PATH}/app.css"></head><body class="landing"><main><h1>pixmesh</h1><p>A multi-region image CDN that speaks ImageKit's URL and API dialect.</p><p><a href="${DASHBOARD_PATH}/">Open the dashboard</a> — the network, the media library and the URL builder.</p><p>Images: <code>/&lt;account&gt;/tr:w-300/&lt;path&gt;</code>. Management API: <code>/v1/files</code>, <code>/api/v1/files/upload</code>.</p></main></body></html>`;

function asset(name: string): Response {
  const a = ASSETS[name];
  if (!a) throw new PixmeshError(404, 'ENOENT', `no dashboard file "${name}"`);
  return new Response(a.body, {
    headers: { 'content-type': a.type, 'cache-control': name === 'index.html' ? 'no-cache' : 'public, max-age=300', etag: `"${a.etag}"`, ...SECURITY_HEADERS },
  });
}

function sessionOf(c: { req: { url: string } }, env: Env, account: Account) {
  return {
    accountId: account.id,
    operator: isOperator(env, account.id),
    homeRegion: account.homeRegion,
    residency: account.residency,
    signedUrls: account.signedUrls,
    publicKey: account.publicKey,
    urlEndpoint: `${new URL(c.req.url).origin}/${account.id}`,
    namedTransforms: account.namedTransforms,
    customDomains: account.customDomains,
  };
}

export function dashboardRoutes(): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();

  app.get('/', () => new Response(LANDING, { headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...SECURITY_HEADERS } }));
  app.get(DASHBOARD_PATH, () => asset('index.html'));
  app.get(`${DASHBOARD_PATH}/`, () => asset('index.html'));

  app.get(`${DASHBOARD_PATH}/api/session`, async (c) => {
    const account = await authenticate(c.env, c.req.header('authorization'));
    // The form names the account too: a key of another account is the same "wrong key" answer.
    const claimed = c.req.query('account');
    if (claimed !== undefined && claimed !== account.id) throw new PixmeshError(401, 'EAUTH', 'Your account cannot be authenticated.');
    return c.json(sessionOf(c, c.env, account), 200, { 'cache-control': 'no-store' });
  });

  app.get(`${DASHBOARD_PATH}/api/network`, async (c) => {
    const account = await authenticate(c.env, c.req.header('authorization'));
    if (!isOperator(c.env, account.id)) throw new PixmeshError(403, 'EACCES', `account "${account.id}" is not an operator (PIXMESH_OPERATOR_ACCOUNTS)`);
    const now = Date.now();
    const urls = parseRegionUrls(c.env.PIXMESH_REGION_URLS);
    const regions = knownRegions(urls);
    await metricsWindow.refresh(regions, (r) => scrape(c.env, r, urls[r]!), now);

    const minutes = Math.min(15, Math.max(1, Number(c.req.query('minutes')) || 5));
    const edge = traffic.summary(minutes, now);
    // Colos that served traffic, and those the routing state has learned about.
    const colos = [...new Set([...traffic.coloSeenAt.keys(), ...Object.keys(router.state.rtt)])]
      .sort((a, b) => (traffic.coloSeenAt.get(b) ?? 0) - (traffic.coloSeenAt.get(a) ?? 0))
      .slice(0, MAX_COLOS);
    for (const colo of colos) if (COLO_PRIOR[colo]) await router.ensureLoaded(c.env, colo);
    const health = breakerStatuses(router.breakers, now);

    return c.json(
      {
        generatedAt: now,
        windowMinutes: minutes,
        account: account.id,
        home: account.homeRegion,
        regions: regions.map((id: RegionId) => ({
          id,
          name: REGIONS[id].name,
          airport: REGIONS[id].airport,
          lat: REGIONS[id].lat,
          lon: REGIONS[id].lon,
          health: health[id],
          breaker: router.breakers[id],
          edgeRequests: edge.byRegion[id] ?? 0,
          metrics: metricsWindow.get(id),
        })),
        edge,
        colos: colos.map((code) => {
          const row = COLO_PRIOR[code];
          return {
            code,
            lat: row?.[0] ?? null,
            lon: row?.[1] ?? null,
            country: row?.[2] ?? null,
            requests: edge.byColo[code] ?? 0,
            lastSeenAt: traffic.coloSeenAt.get(code) ?? null,
            servedBy: edge.routes[code] ?? {},
            // What a request from this colo for the signed-in account would do now, and why.
            decision: row ? router.decide({ colo: code }, account, false, regions, now) : null,
          };
        }),
        samplesThisIsolate: router.samples,
      },
      200,
      { 'cache-control': 'no-store' },
    );
  });

  // Scripts, styles (the app's own files only).
  app.get(`${DASHBOARD_PATH}/:file`, (c) => asset(c.req.param('file')));
  return app;
}

/** One region's Prometheus text, signed like every internal call. */
async function scrape(env: Env, region: string, base: string): Promise<string> {
  const res = await internalFetch({ secret: env.PIXMESH_INTERNAL_SECRET, baseUrl: base, target: region, pathAndQuery: '/metrics', timeoutMs: SCRAPE_TIMEOUT_MS });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`/metrics answered ${res.status}`);
  }
  return res.text();
}

/** The edge's own endpoints and the management API are not image traffic. */
const NOT_IMAGES = /^\/(?:_|api\/|v1\/|favicon\.ico$)/;

/** Counts an answer when it is image traffic (the middleware below; the edge's HIT fast path, edge/src/index.ts). */
export function countImageAnswer(req: Request, env: Env, res: Response): void {
  const path = new URL(req.url).pathname;
  if (path === '/' || NOT_IMAGES.test(path)) return;
  const geo = readGeo(req, env.PIXMESH_TRUST_GEO_HEADERS === 'true');
  traffic.record({ colo: geo.colo ?? null, region: res.headers.get('x-pixmesh-region'), cache: res.headers.get('x-pixmesh-cache'), status: res.status });
}

/** Counts every image answer (after the route has run). */
export function trafficMiddleware(): MiddlewareHandler<{ Bindings: Env }> {
  return async (c, next) => {
    await next();
    countImageAnswer(c.req.raw, c.env, c.res);
  };
}
