/**
 * The edge cache inside workerd (the real Cache API): a region's TTL bounds the edge's for every
 * non-canonical answer (#12 point 8: a di- default image was kept 7 days and served with a
 * one-year Cache-Control), and the Vary header names every hint header the edge reads (point 10).
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { FRESH_TTL_S, readCached, sharedMaxAge, storeInCache } from '../../edge/src/edge-cache.js';

const key = (name: string) => new Request(`https://edge-cache.pixmesh.internal/test/${name}-${Math.random().toString(36).slice(2)}`);
const LONG = 'public, max-age=31536000, s-maxage=31536000';

describe('edge cache TTLs', () => {
  it.each([
    ['public, max-age=300, s-maxage=300', 300],
    ['public, s-maxage=60, max-age=600', 60],
    ['max-age=10', 10],
    ['no-store', undefined],
    [null, undefined],
  ])('sharedMaxAge(%j) = %j', (cc, s) => expect(sharedMaxAge(cc)).toBe(s));

  it('a default-image answer (max-age=300) is fresh for 300 s at the edge, then not, and is served with the region\'s Cache-Control', async () => {
    const k = key('di');
    const t0 = Date.now();
    await storeInCache(k, new Response('placeholder', { headers: { 'cache-control': 'public, max-age=300, s-maxage=300', 'x-pixmesh-default-image': 'defaults/missing.jpg' } }), t0);
    const soon = await readCached(k, t0 + 299_000);
    expect(soon.fresh?.headers.get('cache-control')).toBe('public, max-age=300, s-maxage=300');
    await soon.fresh?.body?.cancel();
    const later = await readCached(k, t0 + 301_000);
    expect(later.fresh).toBeUndefined();
  });

  it('a canonical image (one-year Cache-Control) stays fresh for the edge TTL and keeps its own Cache-Control', async () => {
    const k = key('img');
    const t0 = Date.now();
    await storeInCache(k, new Response('image', { headers: { 'cache-control': LONG } }), t0);
    const day = await readCached(k, t0 + 24 * 3600_000);
    expect(day.fresh?.headers.get('cache-control')).toBe(LONG);
    await day.fresh?.body?.cancel();
    const past = await readCached(k, t0 + (FRESH_TTL_S + 1) * 1000);
    expect(past.fresh).toBeUndefined();
    expect(past.stale).toBeDefined(); // kept as a stale-if-error fallback
    await past.stale?.body?.cancel();
  });

  it('an error kept 10 s is not fresh after 11 s', async () => {
    const k = key('err');
    const t0 = Date.now();
    await storeInCache(k, new Response('nope', { status: 404, headers: { 'cache-control': 'public, max-age=10' } }), t0, 10);
    expect((await readCached(k, t0 + 11_000)).fresh).toBeUndefined();
  });
});

describe('Vary', () => {
  it('a dpr-auto answer varies on Sec-CH-DPR and the legacy DPR header (both change the bytes)', async () => {
    const res = await (exports as unknown as { default: Fetcher }).default.fetch('http://edge.test/demo/tr:w-100,dpr-auto/vary-test.png', { headers: { dpr: '2', 'x-pixmesh-colo': 'FRA' } });
    await res.body?.cancel();
    const vary = (res.headers.get('vary') ?? '').split(/\s*,\s*/);
    expect(vary).toEqual(expect.arrayContaining(['Sec-CH-DPR', 'DPR']));
  });
});

describe('/_routing exposure', () => {
  const get = (path: string, headers: Record<string, string> = {}) => (exports as unknown as { default: Fetcher }).default.fetch(`http://edge.test${path}`, { headers: { 'x-pixmesh-colo': 'SYD', ...headers } });
  it('without an account: the public view only (breakers, RTTs, regional hit ratios), no account data', async () => {
    const res = await get('/_routing');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & { learned: { hit: Record<string, unknown> } };
    expect(body.breakers).toBeDefined();
    expect(body.account).toBeUndefined();
    expect(body.home).toBeUndefined();
    expect(Object.keys(body.learned.hit).some((k) => k.includes('|'))).toBe(false);
  });
  it("an account's routing without its key, with a wrong key, or for an unknown account → 401", async () => {
    for (const [path, auth] of [['/_routing?account=demo', ''], ['/_routing?account=demo', `Basic ${btoa('private_edge_strict:')}`], ['/_routing?account=nobody', `Basic ${btoa('private_edge_demo:')}`]] as const) {
      const res = await get(path, auth ? { authorization: auth } : {});
      await res.body?.cancel();
      expect(res.status, `${path} ${auth}`).toBe(401);
    }
  });
  it("with the account's private key: its home, residency and decision", async () => {
    const res = await get('/_routing?account=demo', { authorization: `Basic ${btoa('private_edge_demo:')}` });
    const body = (await res.json()) as { account: string; home: string; decision: { candidates: unknown[] } };
    expect([res.status, body.account, typeof body.home, body.decision.candidates.length > 0]).toEqual([200, 'demo', 'string', true]);
  });
});

describe('a repeat HIT (answered before the router: edge/src/image/edge-cache.ts fastHit)', () => {
  const edge = (path: string, headers: Record<string, string>) => (exports as unknown as { default: Fetcher }).default.fetch(`http://edge.test${path}`, { headers });
  const network = async () =>
    ((await (await edge('/_dashboard/api/network', { authorization: `Basic ${btoa('private_edge_demo:')}` })).json()) as { edge: { byColo: Record<string, number> } }).edge.byColo;
  const comparable = (res: Response) => [...res.headers].filter(([k]) => k !== 'date').map(([k, v]) => [k, k === 'server-timing' ? v.replace(/edge;dur=\d+/, 'edge;dur=N') : v]);

  it('is the HIT the route gives (status, headers but the edge time, body) and is counted as image traffic', async () => {
    const path = `/demo/tr:w-14/repeat-${Date.now()}.png`;
    const colo = { 'x-pixmesh-colo': 'AKL' };
    const before = (await network()).AKL ?? 0;
    const miss = await edge(path, { ...colo, accept: 'image/png' });
    expect(miss.headers.get('x-pixmesh-cache')).toBe('MISS');
    await miss.arrayBuffer();
    // Another Accept that negotiates the same variant: a new request identity, so its first HIT takes
    // the route (nothing kept for it yet) and its repeat takes the fast path.
    const accept = { ...colo, accept: 'image/png,image/jpeg;q=0.9' };
    const viaRoute = await edge(path, accept);
    const routeBody = new Uint8Array(await viaRoute.arrayBuffer());
    const fast = await edge(path, accept);
    const fastBody = new Uint8Array(await fast.arrayBuffer());
    expect(viaRoute.headers.get('x-pixmesh-cache')).toBe('HIT');
    expect([fast.status, comparable(fast)]).toEqual([viaRoute.status, comparable(viaRoute)]);
    expect(fast.headers.get('server-timing')).toMatch(/^edge-cache;desc="HIT", edge;dur=\d+$/);
    expect(fastBody).toEqual(routeBody);
    expect(fastBody.length).toBeGreaterThan(0);
    expect((await network()).AKL).toBe(before + 3);
  });
});
