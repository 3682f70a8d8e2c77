/**
 * The shared result tier: rendered variants in the region's bucket, read by every replica on a
 * disk-L1 miss (and promoted into that L1), written by whichever replica rendered them. Entries
 * use the L1's encoding (cache/result-cache.ts). Keys keep account and path readable so a purge
 * can list and delete a path's (or a prefix's) variants:
 *
 *   v/<account>/<path>/@<sha256(variant key)>     (path segments ≤ 200 bytes, key ≤ 1000 bytes)
 *   v/<account>/_h/<sha256(path)>/@<sha256>       otherwise (purged by the purge records + sweep)
 *
 * Bounded by `sweep()`: the replica that owns the "sweep" key lists the tier every
 * PIXMESH_SHARED_CACHE_SWEEP_MS, deletes entries made stale by a purge record, then the oldest
 * written until the total is ≤ 90 % of PIXMESH_SHARED_CACHE_MAX_BYTES. A bucket lifecycle rule
 * (expire `v/` after 30 days) is the backstop in production (docs/deploy.md).
 */
import { decodeEntry, encodeEntry, ResultCache, type CacheEntry, type CachedMeta } from '../cache/result-cache.js';
import { sha256, type RegionBucket } from './bucket.js';
import type { PurgeIndex } from './purge-log.js';

export const SHARED_PREFIX = 'v/';
const MAX_SEGMENT = 200;
const MAX_KEY = 1000;

function pathFits(account: string, path: string): boolean {
  if (Buffer.byteLength(`${SHARED_PREFIX}${account}/${path}/@`) + 64 > MAX_KEY) return false;
  return path.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && Buffer.byteLength(s) <= MAX_SEGMENT);
}

export function sharedKey(account: string, path: string, variantKey: string): string {
  const hash = ResultCache.hashKey(variantKey);
  return pathFits(account, path) ? `${SHARED_PREFIX}${account}/${path}/@${hash}` : `${SHARED_PREFIX}${account}/_h/${sha256(path)}/@${hash}`;
}

/** Account and path back from a key (null for hashed long paths). */
export function parseSharedKey(key: string): { account: string; path: string } | null {
  const m = /^v\/([^/]+)\/(.+)\/@[0-9a-f]{64}$/.exec(key);
  if (!m || m[2]!.startsWith('_h/')) return null;
  return { account: m[1]!, path: m[2]! };
}

export interface SweepResult {
  entries: number;
  bytes: number;
  deletedStale: number;
  deletedForSize: number;
}

export class SharedCache {
  constructor(
    private readonly bucket: RegionBucket,
    readonly maxBytes: number,
  ) {}

  async get(account: string, path: string, variantKey: string): Promise<CacheEntry | null> {
    const o = await this.bucket.get(sharedKey(account, path, variantKey));
    return o ? decodeEntry(o.body) : null;
  }

  async put(variantKey: string, meta: Omit<CachedMeta, 'bodyLength'>, body: Buffer): Promise<void> {
    const data = encodeEntry(meta, body);
    if (data.length > this.maxBytes / 10) return; // one entry may not take a tenth of the tier
    await this.bucket.put(sharedKey(meta.account, meta.path, variantKey), data);
  }

  /** Deletes a path's variants (or every variant under a prefix). Long hashed paths are left to the purge records. */
  async purge(account: string, pathOrPrefix: string, prefix: boolean): Promise<number> {
    const listPrefix = prefix ? `${SHARED_PREFIX}${account}/${pathOrPrefix}` : `${SHARED_PREFIX}${account}/${pathOrPrefix}/@`;
    const keys = (await this.bucket.list(listPrefix))
      .map((o) => o.key)
      .filter((k) => {
        const p = parseSharedKey(k);
        return p !== null && p.account === account && (prefix ? p.path.startsWith(pathOrPrefix) : p.path === pathOrPrefix);
      });
    await this.bucket.deleteMany(keys);
    return keys.length;
  }

  async sweep(purges: PurgeIndex): Promise<SweepResult> {
    const listed = await this.bucket.list(SHARED_PREFIX);
    const stale: string[] = [];
    const kept: typeof listed = [];
    for (const o of listed) {
      const p = parseSharedKey(o.key);
      if (p && !purges.valid(p.account, p.path, o.lastModified)) stale.push(o.key);
      else kept.push(o);
    }
    let bytes = kept.reduce((n, o) => n + o.size, 0);
    const forSize: string[] = [];
    if (bytes > this.maxBytes) {
      kept.sort((a, b) => a.lastModified - b.lastModified);
      const target = this.maxBytes * 0.9;
      for (const o of kept) {
        if (bytes <= target) break;
        forSize.push(o.key);
        bytes -= o.size;
      }
    }
    await this.bucket.deleteMany([...stale, ...forSize]);
    return { entries: kept.length - forSize.length, bytes, deletedStale: stale.length, deletedForSize: forSize.length };
  }
}
