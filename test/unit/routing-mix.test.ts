/**
 * The shared region mix (docs/routing.md, "Persistence: the shared region mix"): the pure merge
 * the account's Durable Object and the isolates use, and IsolateRouting's flush against an
 * in-memory stand-in for the Durable Object that merges with the same function.
 */
import { describe, expect, it } from 'vitest';
import type { Account } from '../../shared/accounts.js';
import { REGION_IDS, type RegionId } from '../../shared/regions.js';
import { IsolateRouting, MIX_FLUSH_INTERVAL_MS } from '../../edge/src/routing-state.js';
import { DEFAULT_ROUTING_CONFIG, mergeMixes, mixIsEmpty, mixShares, recordNearest, restoreMix, type RegionMix } from '../../edge/src/routing/model.js';
import type { Env } from '../../edge/src/env.js';

const T0 = 1_800_000_000_000;
const H = DEFAULT_ROUTING_CONFIG.fillMixHalfLifeMs;
const CAP = DEFAULT_ROUTING_CONFIG.maxCount * 50;
const e = (n: number, at = T0) => ({ n, at });

describe('region mix: mergeMixes (decay to now, add per region, cap, drop what is negligible)', () => {
  it.each<[string, (RegionMix | undefined)[], number, RegionMix]>([
    ['nothing → empty', [], T0, {}],
    ['undefined and empty inputs → empty', [undefined, {}], T0, {}],
    ['one mix at its own time → the same counts', [{ 'us-east-1': e(3), 'ap-south-1': e(1) }], T0, { 'us-east-1': e(3), 'ap-south-1': e(1) }],
    ['two mixes → counts added per region', [{ 'us-east-1': e(3) }, { 'us-east-1': e(2), 'us-west-1': e(1) }], T0, { 'us-east-1': e(5), 'us-west-1': e(1) }],
    ['an older count is decayed first (one half-life → half)', [{ 'us-east-1': e(4, T0 - H) }, { 'us-east-1': e(1) }], T0, { 'us-east-1': e(3) }],
    ['merged later than both → both decayed, stamped now', [{ 'eu-central-1': e(8) }], T0 + 2 * H, { 'eu-central-1': e(2, T0 + 2 * H) }],
    ['a count stamped in the future (another clock) counts as now, undecayed', [{ 'us-east-1': e(2, T0 + 60_000) }], T0, { 'us-east-1': e(2) }],
    ['the sum is capped like recordNearest', [{ 'us-east-1': e(CAP) }, { 'us-east-1': e(CAP) }], T0, { 'us-east-1': e(CAP) }],
    ['a count decayed under 1e-3 is dropped (an old side of the world leaves the mix)', [{ 'us-east-1': e(1, T0 - 20 * H) }, { 'ap-south-1': e(1) }], T0, { 'ap-south-1': e(1) }],
    [
      'invalid entries are ignored (NaN, negative, infinite, no time, not a region)',
      [{ 'us-east-1': e(Number.NaN), 'us-west-1': e(-1), 'ap-south-1': e(Infinity), 'eu-central-1': { n: 1 } as never, 'mars-1': e(5) } as RegionMix, { 'ap-southeast-2': e(1) }],
      T0,
      { 'ap-southeast-2': e(1) },
    ],
  ])('%s', (_name, mixes, now, want) => {
    const got = mergeMixes(mixes, now);
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const r of Object.keys(want) as RegionId[]) {
      expect(got[r]!.n).toBeCloseTo(want[r]!.n, 9);
      expect(got[r]!.at).toBe(want[r]!.at);
    }
  });

  it('is order-free and leaves its inputs unchanged', () => {
    const a: RegionMix = { 'us-east-1': e(3, T0 - 1000), 'ap-south-1': e(1, T0 - H) };
    const b: RegionMix = { 'us-east-1': e(2), 'ap-southeast-2': e(7, T0 - 5000) };
    const copy = JSON.parse(JSON.stringify([a, b]));
    expect(mergeMixes([a, b], T0)).toEqual(mergeMixes([b, a], T0));
    expect([a, b]).toEqual(copy);
  });

  it('merging what two colos recorded gives the shares one isolate that saw both would have', () => {
    let syd: RegionMix | undefined;
    let fra: RegionMix | undefined;
    let both: RegionMix | undefined;
    for (let i = 0; i < 6; i++) {
      const at = T0 + i * 60_000;
      syd = recordNearest(syd, 'ap-southeast-2', at);
      both = recordNearest(both, 'ap-southeast-2', at);
      if (i % 2 === 0) {
        fra = recordNearest(fra, 'eu-central-1', at + 1);
        both = recordNearest(both, 'eu-central-1', at + 1);
      }
    }
    const now = T0 + 10 * 60_000;
    const merged = mixShares(mergeMixes([syd, fra], now), now);
    const direct = mixShares(both, now);
    for (const r of REGION_IDS) expect(merged[r] ?? 0).toBeCloseTo(direct[r] ?? 0, 9);
  });

  it.each<[string, unknown, RegionMix]>([
    ['not JSON', '{oops', {}],
    ['null', null, {}],
    ['a number', 3, {}],
    ['an array', '[1,2]', {}],
    ['a stored mix', JSON.stringify({ 'us-east-1': e(2) }), { 'us-east-1': e(2) }],
  ])('restoreMix: %s', (_name, json, want) => {
    expect(restoreMix(json, T0)).toEqual(want);
  });

  it('mixIsEmpty: undefined, {} and zero counts are empty; one count is not', () => {
    expect(mixIsEmpty(undefined)).toBe(true);
    expect(mixIsEmpty({})).toBe(true);
    expect(mixIsEmpty({ 'us-east-1': e(0) })).toBe(true);
    expect(mixIsEmpty({ 'us-east-1': e(1) })).toBe(false);
  });
});

/** An in-memory stand-in for the accounts' Durable Objects (routing-state-do.ts `/mix`): same merge, every call logged. */
function fakeDo(opts: { fail?: boolean } = {}) {
  const stored = new Map<string, RegionMix>();
  const calls: { name: string; delta: RegionMix }[] = [];
  const ns = {
    idFromName: (name: string) => name,
    get: (id: unknown) => ({
      async fetch(_url: string, init?: { method?: string; body?: string }) {
        const name = id as string;
        const delta = (JSON.parse(init?.body ?? '{}') as { delta: RegionMix }).delta;
        calls.push({ name, delta });
        if (opts.fail) throw new Error('unreachable');
        const merged = mergeMixes([stored.get(name), restoreMix(delta, T0)], T0);
        stored.set(name, merged);
        return { ok: true, text: async () => JSON.stringify(merged) };
      },
    }),
  };
  return { env: { ROUTING_STATE: ns } as unknown as Env, stored, calls };
}

const account = { id: 'acct', homeRegion: 'eu-central-1', residency: 'flexible' } as Account;
/** One edge miss of `account` from `colo` at T0 + dt: the decision, as the edge makes it. */
const miss = (router: IsolateRouting, colo: string, key: string, dt = 0) => router.decide({ colo }, account, false, [...REGION_IDS], T0 + dt, key);

describe('region mix: IsolateRouting keeps it per colo and shares it through the account’s Durable Object', () => {
  it('a miss from Sydney makes a later answer in Frankfurt fill ap-southeast-2 only after Frankfurt’s flush read the merged mix back', async () => {
    const router = new IsolateRouting();
    const { env, stored } = fakeDo();
    miss(router, 'SYD', 'v1');
    await router.flushMix(env, account.id, 'SYD', T0);
    expect(Object.keys(stored.get('mix:acct')!)).toEqual(['ap-southeast-2']);
    // Frankfurt has not read the merged mix yet: its own colo's counts only (nearest eu-central-1 answered → nothing to fill).
    const d1 = miss(router, 'FRA', 'v2', 10);
    expect(router.fillTargets(d1, 'eu-central-1', account.id, T0 + 10)).toEqual([]);
    await router.flushMix(env, account.id, 'FRA', T0 + 20);
    const d2 = miss(router, 'FRA', 'v3', 30);
    expect(router.fillTargets(d2, 'eu-central-1', account.id, T0 + 30)).toEqual(['ap-southeast-2']);
  });

  it('one isolate serving many colos does not share their counts without the Durable Object (no binding → each colo its own mix)', async () => {
    const router = new IsolateRouting();
    miss(router, 'SYD', 'v1');
    await router.flushMix({} as Env, account.id, 'SYD', T0);
    const d = miss(router, 'FRA', 'v2', 10);
    expect(router.fillTargets(d, 'eu-central-1', account.id, T0 + 10)).toEqual([]);
    expect(Object.keys(router.mixView(account.id, 'SYD', T0)!)).toEqual(['ap-southeast-2']);
  });

  it('flushes at most once per interval per account and colo, sends only the new counts, and nothing when idle', async () => {
    const router = new IsolateRouting();
    const { env, calls } = fakeDo();
    miss(router, 'SYD', 'v1');
    await router.flushMix(env, account.id, 'SYD', T0);
    miss(router, 'SYD', 'v2', 1);
    await router.flushMix(env, account.id, 'SYD', T0 + MIX_FLUSH_INTERVAL_MS - 1);
    expect(calls).toHaveLength(1);
    await router.flushMix(env, account.id, 'SYD', T0 + MIX_FLUSH_INTERVAL_MS);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.delta['ap-southeast-2']!.n).toBeCloseTo(1, 6); // the second miss only, not the first again
    await router.flushMix(env, account.id, 'SYD', T0 + 3 * MIX_FLUSH_INTERVAL_MS);
    expect(calls).toHaveLength(2); // nothing new: no write
    await router.flushMix(env, 'other-account', 'SYD', T0 + 3 * MIX_FLUSH_INTERVAL_MS);
    expect(calls).toHaveLength(2); // an account this colo never counted: no write
  });

  it('a failed flush keeps its counts for the next one, and the colo keeps using its own mix meanwhile', async () => {
    const router = new IsolateRouting();
    const down = fakeDo({ fail: true });
    miss(router, 'SYD', 'v1');
    await router.flushMix(down.env, account.id, 'SYD', T0);
    expect(router.mixFlushFailures).toBe(1);
    expect(Object.keys(router.mixView(account.id, 'SYD', T0)!)).toEqual(['ap-southeast-2']);
    const up = fakeDo();
    await router.flushMix(up.env, account.id, 'SYD', T0 + MIX_FLUSH_INTERVAL_MS);
    expect(up.calls[0]!.delta['ap-southeast-2']!.n).toBeCloseTo(1, 3);
  });

  it('keeps at most 256 account|colo entries, dropping the least recently used', () => {
    const router = new IsolateRouting();
    for (let i = 0; i < 300; i++) router.decide({ colo: 'SYD' }, { ...account, id: `a${i}` } as Account, false, [...REGION_IDS], T0, `v${i}`);
    expect(router.regionMix.size).toBe(256);
    expect(router.mixView('a0', 'SYD', T0)).toBeUndefined();
    expect(router.mixView('a299', 'SYD', T0)).toBeDefined();
  });
});
