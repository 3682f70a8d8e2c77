/**
 * Routing, failover and learning inside workerd, against the real loopback test regions of
 * global-setup.ts (which can be made slow or failing through their control endpoints).
 */
import { env, exports } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { routingState } from '../../edge/src/routing-state.js';
import { emptyState, newBreakers, recordHit } from '../../edge/src/routing/index.js';

const regionUrls = JSON.parse((env as { PIXMESH_REGION_URLS: string }).PIXMESH_REGION_URLS) as Record<string, string>;
/** The demo account's private key as HTTP Basic: /_routing shows an account's routing only to it. */
const DEMO_AUTH = `Basic ${btoa('private_edge_demo:')}`;
const edge = (path: string, headers: Record<string, string> = {}) =>
  (exports as unknown as { default: Fetcher }).default.fetch(`http://edge.test${path}`, { headers });
const control = (region: string, body: object) => fetch(`${regionUrls[region]}/__control`, { method: 'POST', body: JSON.stringify(body) });
let n = 0;
/** The demo account's region-mix Durable Object (edge/src/routing-state-do.ts, `mix:demo`). */
const mixNs = (env as unknown as { ROUTING_STATE: DurableObjectNamespace }).ROUTING_STATE;
const mixStub = () => mixNs.get(mixNs.idFromName('mix:demo'));
const storedMix = async () => (await (await mixStub().fetch('https://routing-state/mix')).json()) as Record<string, { n: number }>;
/** Poll (bounded, 100 ms steps) until `ok()`; the caller asserts what it waited for. */
const until = async (ok: () => Promise<boolean>) => {
  for (let i = 0; i < 40 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 100));
};
const routingView = async (colo: string) =>
  (await (await edge('/_routing?account=demo', { 'x-pixmesh-colo': colo, authorization: DEMO_AUTH })).json()) as { regionMix: Record<string, number>; regionMixShared: boolean };
const fresh = (name: string) => `/demo/tr:w-10/${name}-${Date.now()}-${n++}.png`;

beforeEach(async () => {
  routingState.state = emptyState();
  routingState.breakers = newBreakers();
  // the account's region mix (background fills of its other near regions) starts empty in every test: in this isolate and in its Durable Object
  routingState.regionMix.clear();
  await runInDurableObject(mixStub(), (_o, state) => state.storage.deleteAll());
  await Promise.all(Object.values(regionUrls).map((u) => fetch(`${u}/__reset`)));
});
afterEach(async () => {
  await Promise.all(Object.values(regionUrls).map((u) => fetch(`${u}/__reset`)));
});

describe('region choice for the demo account (home eu-central-1)', () => {
  it.each([
    // colo, expected region (docs/routing.md explains each with the table numbers)
    ['SYD', 'ap-southeast-2'],
    ['FRA', 'eu-central-1'],
    ['AMS', 'eu-central-1'],
    ['SIN', 'ap-southeast-1'],
    ['IAD', 'us-east-1'],
  ])('a miss from %s goes to %s', async (colo, region) => {
    const res = await edge(fresh(colo), { 'x-pixmesh-colo': colo });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-region')).toBe(region);
    expect(res.headers.get('server-timing')).toMatch(new RegExp(`route;desc="${region} `));
  });

  // São Paulo (docs/routing.md): us-east-1 is 162.4 ms away, home eu-central-1 206.6 ms (238.6 with its
  // service and P(miss) 0.5 × 60 ms work); via us-east-1 costs 164.4 + P(miss) × 125.1 ms, so it wins
  // while P(miss) < 0.59 (no placement credit by default: the edge fills us-east-1 in the background
  // instead). 20 MISS answers for demo make it 0.986 (cold: home), 20 HITs 0.014 (warm: us-east-1).
  it.each([
    ['cold (us-east-1 answers demo misses)', false, 'eu-central-1'],
    ['warm (us-east-1 answers demo hits)', true, 'us-east-1'],
  ])('a miss from GRU with a %s region cache goes to %s', async (_label, hit, region) => {
    for (let i = 0; i < 20; i++) routingState.state = recordHit(routingState.state, 'us-east-1', hit, Date.now(), 'demo').state;
    const res = await edge(fresh('gru'), { 'x-pixmesh-colo': 'GRU' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-region')).toBe(region);
  });

  it('ignores the geo benchmark’s route override header unless PIXMESH_BENCH_ROUTE_OVERRIDE is "true" (it is not set here)', async () => {
    const res = await edge(fresh('override'), { 'x-pixmesh-colo': 'SYD', 'x-pixmesh-bench-route': 'us-east-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-region')).toBe('ap-southeast-2');
    expect(res.headers.get('server-timing')).not.toMatch(/policy=forced/);
  });

  it('sends a custom-domain request to the home region first', async () => {
    const res = await (exports as unknown as { default: Fetcher }).default.fetch(`http://img.demo.test/tr:w-10/cd-${Date.now()}.png`, {
      headers: { 'x-pixmesh-colo': 'SYD' },
    });
    expect(res.headers.get('x-pixmesh-region')).toBe('eu-central-1');
  });

  it('sends a strict-residency account to its home region only, even from Sydney', async () => {
    const { signImageUrl } = await import('../../shared/signing.js');
    const url = await signImageUrl('private_edge_strict', 'http://edge.test/strict', `http://edge.test/strict/tr:w-10/s-${Date.now()}.png`);
    const res = await (exports as unknown as { default: Fetcher }).default.fetch(url, { headers: { 'x-pixmesh-colo': 'SYD' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-region')).toBe('us-east-1');
  });
});

describe('failover and the circuit breaker', () => {
  it('retries the next-best region within the same request when the pick answers 5xx', async () => {
    await control('ap-southeast-2', { status: 503 });
    const res = await edge(fresh('fo'), { 'x-pixmesh-colo': 'SYD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pixmesh-region')).not.toBe('ap-southeast-2');
    expect(res.headers.get('server-timing')).toMatch(/failover;desc="ap-southeast-2>/);
  });

  it('opens the breaker after repeated failures, then stops sending traffic to that region', async () => {
    await control('ap-southeast-2', { status: 502 });
    for (let i = 0; i < 5; i++) expect((await edge(fresh('br'), { 'x-pixmesh-colo': 'SYD' })).status).toBe(200);
    const seenBefore = (await (await fetch(`${regionUrls['ap-southeast-2']}/__seen`)).json()) as unknown[];
    const res = await edge(fresh('br'), { 'x-pixmesh-colo': 'SYD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).not.toMatch(/failover/);
    const seenAfter = (await (await fetch(`${regionUrls['ap-southeast-2']}/__seen`)).json()) as unknown[];
    expect(seenAfter.length).toBe(seenBefore.length);
    const routing = (await (await edge('/_routing?account=demo', { 'x-pixmesh-colo': 'SYD', authorization: DEMO_AUTH })).json()) as {
      breakers: Record<string, { status: string }>;
    };
    expect(routing.breakers['ap-southeast-2']!.status).toBe('open');
  });

  it('does not count 4xx answers against a region', async () => {
    await control('ap-southeast-2', { status: 404 });
    for (let i = 0; i < 6; i++) expect((await edge(fresh('nf'), { 'x-pixmesh-colo': 'SYD' })).status).toBe(404);
    const routing = (await (await edge('/_routing?account=demo', { 'x-pixmesh-colo': 'SYD', authorization: DEMO_AUTH })).json()) as {
      breakers: Record<string, { status: string; failures: number }>;
    };
    expect(routing.breakers['ap-southeast-2']).toMatchObject({ status: 'closed', failures: 0 });
  });

  it('does not fail over, nor blame the region, for a 5xx the region marks as about the request', async () => {
    await control('ap-southeast-2', { status: 502, errorScope: 'request' });
    for (let i = 0; i < 6; i++) {
      const res = await edge(fresh('scoped'), { 'x-pixmesh-colo': 'SYD' });
      expect(res.status).toBe(502);
      expect(res.headers.get('ik-error')).toMatch(/^EUPSTREAM/);
      expect(res.headers.get('server-timing') ?? '').not.toMatch(/failover/);
    }
    const others = await Promise.all(
      ['ap-southeast-1', 'eu-central-1'].map(async (r) => ((await (await fetch(`${regionUrls[r]}/__seen`)).json()) as unknown[]).length),
    );
    expect(others).toEqual([0, 0]);
    const routing = (await (await edge('/_routing?account=demo', { 'x-pixmesh-colo': 'SYD', authorization: DEMO_AUTH })).json()) as {
      breakers: Record<string, { status: string; failures: number }>;
    };
    expect(routing.breakers['ap-southeast-2']).toMatchObject({ status: 'closed', failures: 0 });
  });

  it('answers 502 EUPSTREAM when every region fails and nothing is cached', async () => {
    await Promise.all(Object.keys(regionUrls).map((r) => control(r, { status: 500 })));
    const res = await edge(fresh('allfail'), { 'x-pixmesh-colo': 'FRA' });
    expect(res.status).toBe(502);
    expect(res.headers.get('ik-error')).toMatch(/^EUPSTREAM/);
  });
});

describe('background fills', () => {
  const sawFill = async (region: string, path: string) =>
    ((await (await fetch(`${regionUrls[region]}/__seen`)).json()) as { url: string; headers: Record<string, string> }[]).filter(
      (x) => x.url.includes(path.split('/').pop()!) && x.headers['x-pixmesh-fill'] === '1',
    ).length;

  it('after an answer fills every region of the account’s region mix (≥ 10 % of its misses) that did not answer, and no other', async () => {
    // The mix: edge misses from Sydney (nearest ap-southeast-2), Ashburn (us-east-1) and Frankfurt (eu-central-1),
    // each colo's counts flushed to the account's Durable Object after its answer, Frankfurt's read back merged.
    for (const colo of ['SYD', 'IAD']) expect((await edge(fresh('mix'), { 'x-pixmesh-colo': colo })).status).toBe(200);
    await until(async () => Object.keys(await storedMix()).length === 2);
    expect((await edge(fresh('mix'), { 'x-pixmesh-colo': 'FRA' })).status).toBe(200);
    await until(async () => Object.keys((await routingView('FRA')).regionMix).length === 3);
    const path = fresh('fill');
    const res = await edge(path, { 'x-pixmesh-colo': 'FRA' });
    expect(res.headers.get('x-pixmesh-region')).toBe('eu-central-1');
    // The fills leave 100–200 ms after the answer, off the request path: wait for them (bounded), then count.
    await until(async () => (await sawFill('ap-southeast-2', path)) > 0 && (await sawFill('us-east-1', path)) > 0);
    expect(await sawFill('ap-southeast-2', path)).toBe(1);
    expect(await sawFill('us-east-1', path)).toBe(1);
    for (const r of ['eu-central-1', 'us-west-1', 'ap-south-1', 'ap-southeast-1']) expect(await sawFill(r, path)).toBe(0);
    expect(Object.keys((await routingView('FRA')).regionMix).sort()).toEqual(['ap-southeast-2', 'eu-central-1', 'us-east-1']);
  });

  it('a miss seen from Sydney makes a later answer in Frankfurt fill ap-southeast-2 only after the Durable Object merged it and Frankfurt read it back', async () => {
    expect((await edge(fresh('syd'), { 'x-pixmesh-colo': 'SYD' })).status).toBe(200);
    await until(async () => (await storedMix())['ap-southeast-2'] !== undefined);
    expect(Object.keys(await storedMix())).toEqual(['ap-southeast-2']);
    // Frankfurt's first answer: its isolate has only its own colo's counts (nearest eu-central-1 answered → no fill).
    const first = fresh('fra-first');
    expect((await edge(first, { 'x-pixmesh-colo': 'FRA' })).headers.get('x-pixmesh-region')).toBe('eu-central-1');
    // …then its flush (after the answer, in the background) sends its count and reads the merged mix back.
    await until(async () => (await routingView('FRA')).regionMixShared);
    expect(Object.keys((await routingView('FRA')).regionMix).sort()).toEqual(['ap-southeast-2', 'eu-central-1']);
    expect(Object.keys(await storedMix()).sort()).toEqual(['ap-southeast-2', 'eu-central-1']);
    // Frankfurt's next answer fills ap-southeast-2.
    const second = fresh('fra-second');
    expect((await edge(second, { 'x-pixmesh-colo': 'FRA' })).headers.get('x-pixmesh-region')).toBe('eu-central-1');
    await until(async () => (await sawFill('ap-southeast-2', second)) > 0);
    expect(await sawFill('ap-southeast-2', second)).toBe(1);
    // The first answer filled nothing (its fills, had there been any, left 100–200 ms after it: long before the flush was read back above).
    for (const r of Object.keys(regionUrls)) expect(await sawFill(r, first)).toBe(0);
  });
});

describe('learning', () => {
  it('moves the choice away from a region that turns out slow from this colo', async () => {
    await control('ap-southeast-2', { delayMs: 400 });
    const picks: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await edge(fresh('slow'), { 'x-pixmesh-colo': 'SYD' });
      picks.push(res.headers.get('x-pixmesh-region') ?? '');
      if (picks.at(-1) !== 'ap-southeast-2') break;
    }
    expect(picks[0]).toBe('ap-southeast-2');
    expect(picks.at(-1)).not.toBe('ap-southeast-2');
    const routing = (await (await edge('/_routing?account=demo', { 'x-pixmesh-colo': 'SYD', authorization: DEMO_AUTH })).json()) as {
      learned: { rtt: Record<string, { mean: number; n: number }> };
    };
    expect(routing.learned.rtt['ap-southeast-2']!.mean).toBeGreaterThan(300);
  });
});

describe('edge cache', () => {
  it('serves the same canonical request from cache whatever the parameter order', async () => {
    const name = `order-${Date.now()}.png`;
    const a = await edge(`/demo/tr:w-10,h-10/${name}`, { 'x-pixmesh-colo': 'FRA', accept: 'image/png' });
    expect(a.headers.get('x-pixmesh-cache')).toBe('MISS');
    await a.arrayBuffer();
    const b = await edge(`/demo/${name}?tr=h-10,w-10`, { 'x-pixmesh-colo': 'FRA', accept: 'image/png' });
    expect(b.headers.get('x-pixmesh-cache')).toBe('HIT');
  });

  it('keys on the negotiated format, not the raw Accept header', async () => {
    const name = `accept-${Date.now()}.png`;
    const a = await edge(`/demo/tr:w-10/${name}`, { accept: 'image/webp,image/*;q=0.8' });
    await a.arrayBuffer();
    const sameFormat = await edge(`/demo/tr:w-10/${name}`, { accept: 'image/webp' });
    expect(sameFormat.headers.get('x-pixmesh-cache')).toBe('HIT');
    const otherFormat = await edge(`/demo/tr:w-10/${name}`, { accept: 'image/png' });
    expect(otherFormat.headers.get('x-pixmesh-cache')).toBe('MISS');
    expect(otherFormat.headers.get('vary')).toBe('Accept');
  });

  it('answers HEAD from the cache without a body', async () => {
    const path = fresh('head');
    await (await edge(path)).arrayBuffer();
    const res = await (exports as unknown as { default: Fetcher }).default.fetch(`http://edge.test${path}`, { method: 'HEAD' });
    expect(res.headers.get('x-pixmesh-cache')).toBe('HIT');
    expect(await res.text()).toBe('');
  });
});

describe('strict residency at the edge', () => {
  it('never stores a strict account’s image in the edge cache', async () => {
    const { signImageUrl } = await import('../../shared/signing.js');
    const url = await signImageUrl('private_edge_strict', 'http://edge.test/strict', `http://edge.test/strict/tr:w-10/nc-${Date.now()}.png`);
    const first = await (exports as unknown as { default: Fetcher }).default.fetch(url);
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    const second = await (exports as unknown as { default: Fetcher }).default.fetch(url);
    expect(second.headers.get('x-pixmesh-cache')).toBe('MISS');
  });
});

describe('cron health probe', () => {
  it('probes every region and opens the breaker of one whose /healthz keeps failing', async () => {
    const { createExecutionContext, createScheduledController, waitOnExecutionContext } = await import('cloudflare:test');
    const worker = (await import('../../edge/src/index.js')).default;
    await control('ap-south-1', { status: 503 });
    for (let i = 0; i < 5; i++) {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '* * * * *' }), env as never, ctx);
      await waitOnExecutionContext(ctx);
    }
    const routing = (await (await edge('/_routing?account=demo', { 'x-pixmesh-colo': 'BOM', authorization: DEMO_AUTH })).json()) as {
      breakers: Record<string, { status: string }>;
      decision: { candidates: { region: string }[] };
    };
    expect(routing.breakers['ap-south-1']!.status).toBe('open');
    expect(routing.breakers['eu-central-1']!.status).toBe('closed');
    // A Mumbai user is no longer sent to the failing region.
    expect(routing.decision.candidates.map((c) => c.region)).not.toContain('ap-south-1');
  });
});

describe('client hints', () => {
  it('puts Sec-CH-DPR in the key and forwards it only when the plan says dpr-auto', async () => {
    const name = `dpr-${Date.now()}.png`;
    const a = await edge(`/demo/tr:w-10,dpr-auto/${name}`, { 'x-pixmesh-colo': 'FRA', 'sec-ch-dpr': '2' });
    expect(a.status).toBe(200);
    expect(a.headers.get('vary')).toContain('Sec-CH-DPR');
    await a.arrayBuffer();
    const seen = (await (await fetch(`${regionUrls['eu-central-1']}/__seen`)).json()) as { headers: Record<string, string> }[];
    expect(seen.at(-1)!.headers['x-pixmesh-dpr']).toBe('2');
    const sameDpr = await edge(`/demo/tr:w-10,dpr-auto/${name}`, { 'x-pixmesh-colo': 'FRA', 'sec-ch-dpr': '2' });
    expect(sameDpr.headers.get('x-pixmesh-cache')).toBe('HIT');
    const otherDpr = await edge(`/demo/tr:w-10,dpr-auto/${name}`, { 'x-pixmesh-colo': 'FRA', 'sec-ch-dpr': '3' });
    expect(otherDpr.headers.get('x-pixmesh-cache')).toBe('MISS');
    // Without dpr-auto the hint changes nothing.
    const plain = `/demo/tr:w-10/${name}`;
    await (await edge(plain, { 'sec-ch-dpr': '2' })).arrayBuffer();
    const plainOther = await edge(plain, { 'sec-ch-dpr': '3' });
    expect(plainOther.headers.get('x-pixmesh-cache')).toBe('HIT');
    expect(plainOther.headers.get('vary') ?? '').not.toContain('Sec-CH-DPR');
  });
});
