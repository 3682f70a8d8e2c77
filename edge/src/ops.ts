/**
 * The edge's own endpoints: /_health, /_routing (the model for the requesting colo), and the
 * cron probe of every region's /healthz (health for the breakers, RTT for the model).
 */
import { Hono } from 'hono';
import { unauthorized } from '../../shared/errors.js';
import { timingSafeEqualStr } from '../../shared/internal-auth.js';
import { basicUser } from './management.js';
import { parseRegionUrls, type RegionId } from '../../shared/regions.js';
import { loadAccounts } from './accounts.js';
import type { Env } from './env.js';
import { readGeo } from './geo.js';
import { knownRegions, routingState } from './routing-state.js';

export function opsRoutes(): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();
  app.get('/_health', (c) => c.json({ ok: true }));

  // /_routing: public — the requesting colo's view of the regions (breakers, learned RTTs,
  // regional hit ratios); with an account's private key (HTTP Basic, as for the management API)
  // also that account's routing: its home, residency, decision and its own hit ratios.
  // ?account=<id> (or a custom domain) picks the account; without the key it is refused (401).
  // docs/security.md, "What is public".
  app.get('/_routing', async (c) => {
    const url = new URL(c.req.url);
    const geo = readGeo(c.req.raw, c.env.PIXMESH_TRUST_GEO_HEADERS === 'true');
    await routingState.ensureLoaded(c.env, geo.colo ?? null);
    const accounts = await loadAccounts(c.env);
    const byHost = accounts.byHost(url.host);
    const id = c.req.query('account');
    const regions = knownRegions(parseRegionUrls(c.env.PIXMESH_REGION_URLS));
    if (!id && !byHost) return c.json({ geo, ...routingState.describePublic(geo) }, 200, { 'cache-control': 'no-store' });
    const account = byHost ?? accounts.get(id!);
    const key = basicUser(c.req.header('authorization'));
    // the same answer for an unknown account and a wrong key: account ids are not enumerable here
    if (!account || !key || !timingSafeEqualStr(key, account.privateKey)) throw unauthorized("an account's routing needs its private key (HTTP Basic, the key as the user name)");
    return c.json({ geo, ...routingState.describe(geo, account, Boolean(byHost), regions) }, 200, { 'cache-control': 'no-store' });
  });
  return app;
}

/** Cron: probe each region; a failed probe counts against its breaker, a good one is an RTT sample. */
export async function probeRegions(env: Env, colo: string | null = null): Promise<Record<string, number | string>> {
  const urls = parseRegionUrls(env.PIXMESH_REGION_URLS);
  const results: Record<string, number | string> = {};
  await Promise.all(
    knownRegions(urls).map(async (region: RegionId) => {
      const t0 = Date.now();
      try {
        const res = await fetch(`${urls[region]}/healthz`, { signal: AbortSignal.timeout(5000) });
        // Timed to the response headers, like every other sample (not to the end of the body).
        const rtt = Date.now() - t0;
        await res.body?.cancel();
        routingState.report({ region, result: res.status, colo, ttfbMs: rtt, procMs: 0 });
        results[region] = res.ok ? rtt : `status ${res.status}`;
      } catch (e) {
        const timedOut = (e as Error).name === 'TimeoutError';
        routingState.report({ region, result: timedOut ? 'timeout' : 'network-error' });
        results[region] = timedOut ? 'timeout' : 'unreachable';
      }
    }),
  );
  await routingState.flush(env, Date.now(), true);
  return results;
}
