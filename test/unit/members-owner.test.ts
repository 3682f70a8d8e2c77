/**
 * Membership.owner (origin/src/region/members.ts): a replica with no live peer (none, or every one
 * suspected) owns every key itself — the answer rendezvousOwner gives over its live set, now
 * without building that set (round 8: every internal call's nonce asks) — and with live peers the
 * owner is still rendezvousOwner's over them.
 */
import { describe, expect, it } from 'vitest';
import { rendezvousOwner } from '../../shared/rendezvous.js';
import { Membership } from '../../origin/src/region/members.js';
import type { RegionBucket } from '../../origin/src/region/bucket.js';

/** The few bucket calls a heartbeat makes, in memory. */
function memoryBucket(): RegionBucket {
  const objects = new Map<string, unknown>();
  return {
    putJson: async (key: string, value: unknown) => void objects.set(key, JSON.parse(JSON.stringify(value))),
    getJson: async (key: string) => (objects.get(key) ?? null) as never,
    list: async (prefix: string) => [...objects.keys()].filter((k) => k.startsWith(prefix)).map((key) => ({ key })),
    delete: async (key: string) => void objects.delete(key),
  } as unknown as RegionBucket;
}

const counts = () => ({ hits: 0, lookups: 0 });
const KEYS = Array.from({ length: 200 }, (_, i) => `nonce:${i.toString(16).padStart(32, '0')}`);

describe('Membership.owner', () => {
  it('alone in the region: itself for every key, as rendezvousOwner of its live set', () => {
    const m = new Membership(null, 'http://a:1', 1000, counts);
    for (const k of KEYS) expect(m.owner(k)).toBe(rendezvousOwner(k, m.live()));
    expect(m.live()).toEqual(['http://a:1']);
  });

  it('with live peers, rendezvousOwner over all of them; with every peer suspected, itself again', async () => {
    const bucket = memoryBucket();
    const a = new Membership(bucket, 'http://a:1', 60_000, counts);
    const b = new Membership(bucket, 'http://b:2', 60_000, counts);
    const c = new Membership(bucket, 'http://c:3', 60_000, counts);
    await b.beat();
    await c.beat();
    await a.beat();
    expect(a.live().sort()).toEqual(['http://a:1', 'http://b:2', 'http://c:3']);
    const owners = new Set<string>();
    for (const k of KEYS) {
      expect(a.owner(k)).toBe(rendezvousOwner(k, a.live()));
      owners.add(a.owner(k));
    }
    expect(owners.size).toBe(3);
    a.suspect('http://b:2');
    for (const k of KEYS) expect(a.owner(k)).toBe(rendezvousOwner(k, a.live()));
    a.suspect('http://c:3');
    expect(a.live()).toEqual(['http://a:1']);
    for (const k of KEYS) expect(a.owner(k)).toBe('http://a:1');
  });
});
