/**
 * Home-region advice end to end: s3rver, six origin processes and the edge (wrangler dev), with
 * the account's web origin behind a delay proxy that makes it near some regions and far from
 * others (the proxy tells the regions apart by the probe's User-Agent). Each region measures its
 * own distance to the origin through GET /internal/origin-probe; the edge ranks the regions for a
 * stated colo mix. The test's oracle knows the true origin delays and uses the same edge legs the
 * fresh edge uses (the prior: nothing is injected on the edge → region legs here), so the advice
 * must name the oracle's best region for each mix.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDelayProxy, type DelayProxy } from '../../bench/lib/delay-proxy.js';
import { resolveLocation } from '../../edge/src/routing/model.js';
import { INTER_REGION_RTT_MS, REGION_IDS, type RegionId } from '../../shared/regions.js';
import { startTestCluster, stopTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePortBase } from '../origin/helpers.js';

/** One-way-free emulation: the proxy waits this long before forwarding a probe from the region. */
const ORIGIN_DELAY_MS: Record<RegionId, number> = {
  'us-east-1': 5,
  'us-west-1': 250,
  'eu-central-1': 10,
  'ap-south-1': 200,
  'ap-southeast-2': 300,
  'ap-southeast-1': 180,
};
const KEY = 'private_advice_key_0123456789';
const auth = { authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` };

let cluster: TestCluster | undefined;
let origin: http.Server;
let proxy: DelayProxy;
const seenAgents: string[] = [];

/** The oracle: true origin delays, the prior's edge legs, CloudPing between regions. */
function oracleBest(mix: Record<string, number>): RegionId {
  const total = Object.values(mix).reduce((a, b) => a + b, 0);
  const cost = (home: RegionId) =>
    Object.entries(mix).reduce((acc, [colo, w]) => {
      const prior = resolveLocation({ colo }).prior;
      const leg = Math.min(...REGION_IDS.map((r) => prior[r] + (r === home ? 0 : INTER_REGION_RTT_MS[r][home])));
      return acc + (w / total) * leg;
    }, 0) + ORIGIN_DELAY_MS[home];
  return [...REGION_IDS].sort((a, b) => cost(a) - cost(b))[0]!;
}

beforeAll(async () => {
  origin = http.createServer((req, res) => {
    if (req.url === '/sample.bin') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(200_000, 7));
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  proxy = await startDelayProxy('127.0.0.1', 0, (req) => {
    const ua = String(req.headers['user-agent'] ?? '');
    seenAgents.push(ua);
    const region = /region ([a-z0-9-]+)\)/.exec(ua)?.[1] as RegionId | undefined;
    return { target: originUrl, delayMs: region && region in ORIGIN_DELAY_MS ? ORIGIN_DELAY_MS[region] : 0 };
  });
  const base = await freePortBase(96);
  cluster = await startTestCluster(base, {
    accounts: [
      {
        id: 'advice',
        homeRegion: 'ap-southeast-2',
        privateKey: KEY,
        publicKey: 'public_advice_key',
        endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: proxy.url, allowPrivateNetwork: true }] }],
      },
    ],
  });
});

afterAll(async () => {
  await stopTestCluster(cluster);
  await proxy?.close();
  await new Promise<void>((resolve) => (origin ? origin.close(() => resolve()) : resolve()));
});

const advise = (query: string, headers: Record<string, string> = auth) => fetch(`${cluster!.edgeUrl}/v1/accounts/home-region-advice${query}`, { headers });

describe('home-region advice', () => {
  it.each<[string, string, Record<string, number>]>([
    // Sydney users, but the origin is 300 ms from ap-southeast-2 and 5 ms from us-east-1.
    ['Sydney users, origin near us-east-1 → not the users’ region', 'SYD:5,SIN:1', { SYD: 5, SIN: 1 }],
    // Frankfurt users with the origin 10 ms from eu-central-1: the users' region wins.
    ['Frankfurt users, origin 10 ms from eu-central-1 → eu-central-1', 'FRA:5,AMS:2', { FRA: 5, AMS: 2 }],
    ['US east users → us-east-1', 'IAD:4,EWR:2,ORD:1', { IAD: 4, EWR: 2, ORD: 1 }],
  ])('%s: the advised region is the oracle’s best, with the numbers', async (_name, query, mix) => {
    const res = await advise(`?colos=${query}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { advised: RegionId; currentHome: RegionId; regions: { region: RegionId; expectedMissMs: number; originMs: number; networkMs: number; probe: { origins: { rttMs: number }[] } }[] };
    expect(body.currentHome).toBe('ap-southeast-2');
    expect(body.advised).toBe(oracleBest(mix));
    expect(body.regions).toHaveLength(6);
    for (const r of body.regions) {
      // Each region measured at least its injected delay (a real wait through the proxy).
      expect(r.originMs).toBeGreaterThanOrEqual(ORIGIN_DELAY_MS[r.region]);
      expect(r.expectedMissMs).toBeCloseTo(r.networkMs + r.originMs, 0);
    }
    for (let i = 1; i < body.regions.length; i++) expect(body.regions[i]!.expectedMissMs).toBeGreaterThanOrEqual(body.regions[i - 1]!.expectedMissMs);
  });

  it('with a sample file every region reports its download time, bytes and throughput', async () => {
    const res = await advise('?colos=SYD:1&sample=sample.bin');
    const body = (await res.json()) as { regions: { region: RegionId; originMs: number; probe: { origins: { sample?: { ms: number; bytes: number; bytesPerSec: number } }[] } }[] };
    for (const r of body.regions) {
      const s = r.probe.origins[0]?.sample;
      expect(s?.bytes).toBe(200_000);
      expect(s!.ms).toBeGreaterThanOrEqual(ORIGIN_DELAY_MS[r.region]);
      expect(s!.bytesPerSec).toBeGreaterThan(0);
      expect(r.originMs).toBe(s!.ms);
    }
  });

  it('probes are rate-limited per account in each region: a repeat within a minute is served from the last measurement', async () => {
    const before = seenAgents.length;
    const first = (await (await advise('?colos=SYD:1&sample=ok.txt')).json()) as { regions: { probe: { cached: boolean } }[] };
    const afterFirst = seenAgents.length;
    const again = (await (await advise('?colos=FRA:1&sample=ok.txt')).json()) as { regions: { probe: { cached: boolean } }[] };
    expect(first.regions.every((r) => !r.probe.cached)).toBe(true);
    expect(again.regions.every((r) => r.probe.cached)).toBe(true);
    // The first call measured (3 round trips + 1 sample GET in each of 6 regions); the repeat sent nothing to the origin.
    expect(afterFirst - before).toBe(24);
    expect(seenAgents.length).toBe(afterFirst);
    expect(seenAgents.slice(before).every((ua) => /^pixmesh-origin-probe\/1 \(region [a-z0-9-]+\)$/.test(ua))).toBe(true);
  });

  it.each<[string, string, Record<string, string>, number]>([
    ['no credentials', '?colos=SYD:1', {}, 401],
    ['a wrong key', '?colos=SYD:1', { authorization: `Basic ${Buffer.from('nope:').toString('base64')}` }, 401],
    ['a malformed colo mix', '?colos=SYDNEY:1', auth, 400],
    ['a sample path with a query', '?colos=SYD:1&sample=' + encodeURIComponent('a.jpg?x=1'), auth, 400],
  ])('refuses %s', async (_name, query, headers, status) => {
    const res = await advise(query, headers);
    expect(res.status).toBe(status);
    expect(res.headers.get('ik-error') ?? '').not.toBe('');
  });
});
