/** The dashboard's edge side inside workerd: static files, sign-in, the operator-only network view. */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';

const edge = (path: string, init: RequestInit = {}) => (exports as unknown as { default: Fetcher }).default.fetch(`http://edge.test${path}`, init);
const basic = (key: string) => ({ authorization: `Basic ${btoa(`${key}:`)}` });

describe('dashboard on the edge', () => {
  it('links the dashboard from /', async () => {
    const res = await edge('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('href="/_dashboard/"');
  });

  it.each([
    ['/_dashboard', /^text\/html/],
    ['/_dashboard/', /^text\/html/],
    ['/_dashboard/app.js', /^text\/javascript/],
    ['/_dashboard/app.css', /^text\/css/],
  ])('serves %s from the Worker bundle with a same-origin-only CSP', async (path, type) => {
    const res = await edge(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(type);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await res.text()).length).toBeGreaterThan(100);
  });

  it('answers an unknown dashboard file with 404 and an ik-error', async () => {
    const res = await edge('/_dashboard/nope.js');
    expect(res.status).toBe(404);
    expect(res.headers.get('ik-error')).toMatch(/^ENOENT/);
  });

  it('signs in with the account id and its private key, and refuses a wrong key or another account id alike', async () => {
    const ok = await edge('/_dashboard/api/session?account=demo', { headers: basic('private_edge_demo') });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ accountId: 'demo', operator: true, homeRegion: expect.any(String), urlEndpoint: 'http://edge.test/demo' });
    for (const [account, key] of [
      ['demo', 'wrong-key'],
      ['strict', 'private_edge_demo'],
    ]) {
      const res = await edge(`/_dashboard/api/session?account=${account}`, { headers: basic(key!) });
      expect(res.status).toBe(401);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body.message).toBe('Your account cannot be authenticated.');
      expect(body).not.toHaveProperty('accountId');
    }
  });

  it('shows the network view only to operator accounts', async () => {
    expect((await edge('/_dashboard/api/network')).status).toBe(401);
    expect((await edge('/_dashboard/api/network', { headers: basic('private_edge_strict') })).status).toBe(403);
  });

  it('reports the colos that served image traffic and, per colo, the region it picks with every component', async () => {
    const img = await edge(`/demo/tr:w-12/dash-${Date.now()}.png`, { headers: { 'x-pixmesh-colo': 'SYD', accept: 'image/png' } });
    await img.arrayBuffer();
    const res = await edge('/_dashboard/api/network', { headers: basic('private_edge_demo') });
    expect(res.status).toBe(200);
    const net = (await res.json()) as {
      regions: { id: string; health: string; metrics: { up: boolean } }[];
      colos: { code: string; lat: number; requests: number; decision: { candidates: { region: string; priorRttMs: number; missProbability: number; health: string }[] } }[];
      edge: { requests: number; byColo: Record<string, number> };
    };
    expect(net.regions.map((r) => r.id).sort()).toEqual(['ap-south-1', 'ap-southeast-1', 'ap-southeast-2', 'eu-central-1', 'us-east-1', 'us-west-1']);
    const syd = net.colos.find((c) => c.code === 'SYD');
    expect(syd).toBeDefined();
    expect(syd!.requests).toBeGreaterThanOrEqual(1);
    expect(syd!.lat).toBeLessThan(-30);
    expect(syd!.decision.candidates.length).toBeGreaterThan(0);
    expect(syd!.decision.candidates[0]).toMatchObject({ region: expect.any(String), priorRttMs: expect.any(Number), missProbability: expect.any(Number), health: expect.any(String) });
    expect(net.edge.byColo.SYD).toBeGreaterThanOrEqual(1);
  });
});
