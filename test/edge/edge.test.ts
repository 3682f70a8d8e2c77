/** The edge worker inside workerd (vitest-pool-workers), talking to real test regions over loopback. */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';

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

  it('maps a custom domain to its account without an account segment', async () => {
    const res = await edge(`/tr:w-10/custom-${Date.now()}.png`, { host: 'img.demo.test', headers: { 'x-pixmesh-colo': 'FRA' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-region')).toBeTruthy();
  });
});
