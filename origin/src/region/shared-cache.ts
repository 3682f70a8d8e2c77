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

/**
 * Which shared-tier entries exist, as far as this replica knows: a listing of the tier (at boot,
 * then every sweep interval) plus every entry this replica wrote since. When it is complete (the
 * listing finished within `maxKeys`), a variant it does not hold is taken as absent without an S3
 * round trip. Only a replica that would render the variant itself trusts it (RegionState): another
 * replica may have written an entry since the last listing, so a false "absent" costs one render
 * — of the same bytes — never a wrong answer; a false "present" (a purged or swept entry) costs
 * the GET it always cost. Entries are remembered by the first 16 hex digits of their variant hash
 * (a collision is a false "present").
 */
export class SharedIndex {
  private held = new Set<string>();
  /** Entries written while a listing runs (the listing may have missed them). */
  private addedDuring: Set<string> | null = null;
  private complete = false;
  listedAt = 0;

  constructor(readonly maxKeys: number) {}

  private static id(variantKey: string): string {
    return ResultCache.hashKey(variantKey).slice(0, 16);
  }

  /** Replace the index with a fresh listing (keys as in the bucket). */
  async load(list: (limit: number) => Promise<{ key: string }[]>): Promise<void> {
    const during = new Set<string>();
    this.addedDuring = during;
    try {
      const listed = await list(this.maxKeys + 1);
      const next = new Set<string>();
      for (const o of listed) {
        const at = o.key.lastIndexOf('/@');
        if (at >= 0) next.add(o.key.slice(at + 2, at + 18));
      }
      for (const id of during) next.add(id);
      this.held = next;
      this.complete = listed.length <= this.maxKeys;
      this.listedAt = Date.now();
    } finally {
      if (this.addedDuring === during) this.addedDuring = null;
    }
  }

  add(variantKey: string): void {
    const id = SharedIndex.id(variantKey);
    this.held.add(id);
    this.addedDuring?.add(id);
    if (this.held.size > this.maxKeys) this.complete = false;
  }

  /** An entry that turned out absent (purged, swept). */
  drop(variantKey: string): void {
    this.held.delete(SharedIndex.id(variantKey));
  }

  /** False only when the index is complete and does not hold the variant. */
  mayHold(variantKey: string): boolean {
    return !this.complete || this.held.has(SharedIndex.id(variantKey));
  }

  get size(): number {
    return this.held.size;
  }

  get isComplete(): boolean {
    return this.complete;
  }
}

export interface SweepResult {
  entries: number;
  bytes: number;
  deletedStale: number;
  deletedForSize: number;
}

export class SharedCache {
  readonly index: SharedIndex;
  constructor(
    private readonly bucket: RegionBucket,
    readonly maxBytes: number,
    indexMaxKeys = 250_000,
  ) {
    this.index = new SharedIndex(indexMaxKeys);
  }

  /** Lists the tier into the index (boot, then every sweep interval). */
  refreshIndex(): Promise<void> {
    return this.index.load((limit) => this.bucket.list(SHARED_PREFIX, { limit }));
  }

  async get(account: string, path: string, variantKey: string): Promise<CacheEntry | null> {
    const o = await this.bucket.get(sharedKey(account, path, variantKey));
    if (!o) this.index.drop(variantKey);
    return o ? decodeEntry(o.body) : null;
  }

  async put(variantKey: string, meta: Omit<CachedMeta, 'bodyLength'>, body: Buffer): Promise<void> {
    const data = encodeEntry(meta, body);
    if (data.length > this.maxBytes / 10) return; // one entry may not take a tenth of the tier
    await this.bucket.put(sharedKey(meta.account, meta.path, variantKey), data);
    this.index.add(variantKey);
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
