/** The edge worker inside workerd (vitest-pool-workers), talking to real test regions over loopback. */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import worker from '../../edge/src/index.js';
import { EDGE_TEST_ACCOUNTS } from './accounts.js';
import { accountKeyRevision } from '../../shared/cache-key.js';
import { validateAccountFile } from '../../shared/accounts.js';

const edge = (path: string, init: RequestInit & { host?: string } = {}) =>
  (exports as unknown as { default: Fetcher }).default.fetch(`http://${init.host ?? 'edge.test'}${path}`, init);

describe('edge worker', () => {
  it('answers /_health', async () => {
    const res = await edge('/_health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });

  it.each([
    ['/_nope', 404],
    ['/api', 404],
    ['/unknown-account/a.jpg', 404],
    ['/demo/tr:w-abc/a.jpg', 400],
    ['/%E0%A4/a.jpg', 404],
    ['/demo/%E0%A4.jpg', 400],
  ])('refuses %s with %i and an ik-error', async (path, status) => {
    const res = await edge(path);
    expect(res.status).toBe(status);
    expect(res.headers.get('ik-error')).toMatch(/^E[A-Z]+ - /);
  });

  it('proxies a Sydney miss to ap-southeast-2 and caches it', async () => {
    const path = `/demo/tr:w-10/sydney-${Date.now()}.png`;
    const first = await edge(path, { headers: { 'x-pixmesh-colo': 'SYD', accept: 'image/png' } });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-pixmesh-region')).toBe('ap-southeast-2');
    expect(first.headers.get('x-pixmesh-cache')).toBe('MISS');
    await first.arrayBuffer();
    const second = await edge(path, { headers: { 'x-pixmesh-colo': 'SYD', accept: 'image/png' } });
    expect(second.headers.get('x-pixmesh-cache')).toBe('HIT');
  });

  it('maps a custom domain to its account without an account segment, served home first', async () => {
    // From Sydney the nearest region is ap-southeast-2 (see the path-form test above); a custom
    // domain goes to the account's home region first (docs/routing.md), here eu-central-1.
    const res = await edge(`/tr:w-10/custom-${Date.now()}.png`, { host: 'img.demo.test', headers: { 'x-pixmesh-colo': 'SYD' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-region')).toBe('eu-central-1');
    expect(res.headers.get('server-timing')).toMatch(/route;desc="eu-central-1 .*home-first/);
  });
});

describe('edge cache and account defaults (one cache key for both tiers)', () => {
  // The worker is called with the account file changed the way the regions' reload would change
  // it (PIXMESH_ACCOUNTS_JSON is the edge's copy of the account file; a new copy is re-read at once).
  const regionUrls = JSON.parse((env as { PIXMESH_REGION_URLS: string }).PIXMESH_REGION_URLS) as Record<string, string>;
  const accountsWith = (quality: number) =>
    JSON.stringify({ accounts: EDGE_TEST_ACCOUNTS.accounts.map((a) => (a.id === 'demo' ? { ...a, defaults: { quality } } : a)) });
  const call = async (path: string, accountsJson: string) => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`http://edge.test${path}`, { headers: { 'x-pixmesh-colo': 'FRA', accept: 'image/png' } }), { ...env, PIXMESH_ACCOUNTS_JSON: accountsJson } as never, ctx);
    await res.arrayBuffer();
    await waitOnExecutionContext(ctx);
    return res;
  };
  const seenAt = async (region: string, path: string) =>
    ((await (await fetch(`${regionUrls[region]}/__seen`)).json()) as { url: string }[]).filter((s) => s.url.includes(path.split('/').pop()!)).length;

  it('asks the region again after the account default quality changes, then caches the new answer', async () => {
    const path = `/demo/tr:w-10/defaults-${Date.now()}.png`;
    expect((await call(path, accountsWith(80))).headers.get('x-pixmesh-cache')).toBe('MISS');
    expect((await call(path, accountsWith(80))).headers.get('x-pixmesh-cache')).toBe('HIT');
    expect(await seenAt('eu-central-1', path)).toBe(1);
    // Quality 80 → 20: the old entry is not this variant any more.
    const changed = await call(path, accountsWith(20));
    expect(changed.headers.get('x-pixmesh-cache')).toBe('MISS');
    expect(await seenAt('eu-central-1', path)).toBe(2);
    expect((await call(path, accountsWith(20))).headers.get('x-pixmesh-cache')).toBe('HIT');
    expect(await seenAt('eu-central-1', path)).toBe(2);
  });

  // The edge and each region reload the account file on their own: a region still on quality 80
  // answering an edge already on 20 must not fill the edge's quality-20 entry with its bytes.
  const revOf = (accountsJson: string) => accountKeyRevision(validateAccountFile(JSON.parse(accountsJson)).find((a) => a.id === 'demo')!);

  it('serves but does not store an answer rendered under another account revision (a region not yet reloaded)', async () => {
    const [old, now] = [revOf(accountsWith(80)), revOf(accountsWith(20))];
    expect(old).not.toBe(now);
    const path = `/demo/tr:w-10/rev-${old}-${Date.now()}.png`;
    const first = await call(path, accountsWith(20));
    expect(first.status).toBe(200);
    expect(first.headers.get('x-pixmesh-cache')).toBe('MISS');
    expect(first.headers.get('server-timing')).toContain(`account revision ${old} is not ${now}: not stored`);
    expect((await call(path, accountsWith(20))).headers.get('x-pixmesh-cache')).toBe('MISS');
    expect(await seenAt('eu-central-1', path)).toBe(2);
  });

  it('stores an answer rendered under its own account revision (control)', async () => {
    const now = revOf(accountsWith(20));
    const path = `/demo/tr:w-10/rev-${now}-${Date.now()}.png`;
    expect((await call(path, accountsWith(20))).headers.get('x-pixmesh-cache')).toBe('MISS');
    expect((await call(path, accountsWith(20))).headers.get('x-pixmesh-cache')).toBe('HIT');
    expect(await seenAt('eu-central-1', path)).toBe(1);
  });
});
