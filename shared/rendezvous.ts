/**
 * Rendezvous (highest-random-weight) hashing: the owner of a key among a set of members is the
 * member with the highest hash(member, key). Removing a member moves only its own keys; every
 * party that sees the same members picks the same owner with no coordination — the region's
 * balancer (scripts/balancer.ts) and its replicas (origin/src/region/members.ts) both use it.
 * FNV-1a 64-bit, so it runs anywhere (no node:crypto) and costs well under a microsecond.
 */
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

export function fnv1a64(s: string): bigint {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * FNV_PRIME) & MASK;
  }
  // A final avalanche (splitmix64) so near-identical inputs spread.
  h ^= h >> 30n;
  h = (h * 0xbf58476d1ce4e5b9n) & MASK;
  h ^= h >> 27n;
  h = (h * 0x94d049bb133111ebn) & MASK;
  h ^= h >> 31n;
  return h;
}

/** The member owning `key` (members in any order); throws on an empty set. */
export function rendezvousOwner(key: string, members: readonly string[]): string {
  if (members.length === 0) throw new Error('rendezvousOwner: no members');
  // One member owns everything (a replica alone in its region): no hashing (BigInt FNV, µs per call on every nonce).
  if (members.length === 1) return members[0]!;
  let best = members[0]!;
  let bestScore = -1n;
  for (const m of members) {
    const score = fnv1a64(`${m}\n${key}`);
    if (score > bestScore || (score === bestScore && m < best)) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}

/** The key a render call is owned by: what identifies the variant on the wire (path, query, negotiation headers). */
export function renderRouteKey(pathAndQuery: string, headers: { get(name: string): string | null | undefined }): string {
  return [pathAndQuery, headers.get('x-pixmesh-format') ?? '', headers.get('x-pixmesh-dpr') ?? '', headers.get('x-pixmesh-width') ?? '', headers.get('x-pixmesh-signed') ?? ''].join('\n');
}

/** The key a media call is owned by: its account (one writer per account's library). */
export function mediaRouteKey(pathname: string): string | null {
  const m = /^\/internal\/media\/([^/]+)\//.exec(pathname);
  return m && !m[1]!.startsWith('_') ? `media:${m[1]}` : null;
}

/** Every member, best first for `key` (the owner, then where its keys go if it is gone, …). */
export function rendezvousRank(key: string, members: readonly string[]): string[] {
  return members
    .map((m) => ({ m, score: fnv1a64(`${m}\n${key}`) }))
    .sort((a, b) => (a.score === b.score ? (a.m < b.m ? -1 : 1) : a.score > b.score ? -1 : 1))
    .map((x) => x.m);
}
