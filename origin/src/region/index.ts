/**
 * A region of many replicas: what they share through the region's own bucket
 * (PIXMESH_SHARED_BUCKET_TEMPLATE, default `pixmesh-cache-<region>`) — see docs/deploy.md:
 *   - the shared result tier behind each replica's disk L1 (shared-cache.ts): an L1 miss reads it
 *     and promotes, a store writes both;
 *   - purge records every replica honours, also after a restart (purge-log.ts);
 *   - membership and the owner of a key (members.ts): coalescing across replicas, one writer per
 *     account's media library, the region's hit ratio.
 * With PIXMESH_SHARED=off (or before start()) a replica acts alone: L1 only, no peers.
 */
import type { CacheEntry, CachedMeta, ResultCache } from '../cache/result-cache.js';
import type { ServerConfig } from '../config.js';
import { log } from '../log.js';
import type { RollingRatio } from '../metrics.js';
import { BreakerSet } from '../../../shared/breaker.js';
import { RegionBucket } from './bucket.js';
import { Membership } from './members.js';
import { peerFetch } from './peers.js';
import { PurgeLog, type PurgeEntry } from './purge-log.js';
import { SharedCache } from './shared-cache.js';
import { SharedTokens } from './tokens.js';

export const PEER_PURGE_PATH = '/internal/purge/peer';
const SWEEP_KEY = 'region-sweep';

export class RegionState {
  readonly bucket: RegionBucket | null;
  readonly members: Membership;
  readonly purges: PurgeLog | null;
  readonly shared: SharedCache | null;
  private started = false;
  /** The shared tier failing (S3 down, slow) costs one timeout, then it is skipped for a cool-down (the one breaker, shared/breaker.ts). */
  readonly breaker = new BreakerSet({ failureThreshold: 1, coolDownMs: 1_000, maxCoolDownMs: 30_000, trialLeaseMs: 30_000 });
  private loaded = false;
  private sweepTimer?: NodeJS.Timeout;
  private indexTimer?: NodeJS.Timeout;
  lastSweep?: Awaited<ReturnType<SharedCache['sweep']>>;
  /** Used upload tokens, for the whole region (media routes claim them here). */
  readonly tokens = new SharedTokens(() => (this.active ? this.bucket : null));

  constructor(
    private readonly config: ServerConfig,
    private readonly l1: ResultCache,
    private readonly ratio: RollingRatio,
    /** Drops a path's local copies (L1, originals) when another replica took a purge. */
    private readonly applyLocally: (e: PurgeEntry) => Promise<unknown>,
  ) {
    const s = config.shared;
    this.bucket = s.enabled ? new RegionBucket(s.bucket, config.s3, 5_000) : null;
    this.members = new Membership(this.bucket, s.replicaUrl, s.heartbeatMs, () => ratio.counts());
    this.purges = this.bucket ? new PurgeLog(this.bucket, s.replicaUrl, s.purgePollMs) : null;
    this.shared = this.bucket ? new SharedCache(this.bucket, s.maxBytes, s.indexMaxKeys) : null;
    if (this.purges) this.purges.onRemote = (e) => void this.applyLocally(e).catch((err) => log.warn('purge record: local apply failed', { err: String(err) }));
  }

  get active(): boolean {
    return this.started && this.bucket !== null;
  }

  /** Boot: the bucket, every purge record so far (before ready), heartbeats, polls, the sweep. */
  async start(): Promise<void> {
    if (!this.bucket || !this.purges) return;
    await this.bucket.ensure().catch((e) => log.warn('region bucket: could not create it (it must exist)', { bucket: this.bucket!.name, err: String(e) }));
    this.started = true;
    const load = async (): Promise<void> => {
      try {
        await this.purges!.poll();
        this.loaded = true;
        this.purges!.start();
      } catch (e) {
        log.warn('purge records: initial load failed; retrying', { err: String(e) });
        await new Promise((r) => setTimeout(r, 1000).unref());
        return load();
      }
    };
    await Promise.race([load(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    this.members.start();
    // The shared tier's key index: listed now (in the background: until it is complete every
    // lookup asks S3, as before), then every sweep interval.
    const refresh = () => {
      void this.shared!.refreshIndex()
        .catch((e) => log.warn('shared tier: index listing failed (lookups ask S3 until the next one)', { err: String(e) }))
        .finally(() => {
          this.indexTimer = setTimeout(refresh, this.config.shared.sweepMs);
          this.indexTimer.unref();
        });
    };
    refresh();
    const sweep = () => {
      const run = this.members.owner(SWEEP_KEY) === this.members.self ? this.sweep() : Promise.resolve();
      void run.finally(() => {
        this.sweepTimer = setTimeout(sweep, this.config.shared.sweepMs);
        this.sweepTimer.unref();
      });
    };
    this.sweepTimer = setTimeout(sweep, this.config.shared.sweepMs);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.sweepTimer);
    clearTimeout(this.indexTimer);
    this.purges?.stop();
    await this.members.leave();
  }

  /** Readiness: purge records loaded (a replica that cannot honour purges must not serve). */
  readiness(): { ok: boolean; detail?: string } {
    if (!this.bucket) return { ok: true, detail: 'off' };
    if (!this.started) return { ok: true, detail: 'not started (in-process)' };
    return this.loaded ? { ok: true, detail: `${this.members.live().length} live replica(s), ${this.purges!.index.size} purge record(s)` } : { ok: false, detail: 'purge records not loaded yet' };
  }

  /** The live replica owning a key, when it is not this one (null: do it here). */
  ownerOf(key: string): string | null {
    if (!this.active) return null;
    const owner = this.members.owner(key);
    return owner === this.members.self ? null : owner;
  }

  /** The region's hit ratio (every live replica's window), or this replica's when alone. */
  hitRatio(): number {
    return this.active ? this.members.regionHitRatio() : this.ratio.value;
  }

  /** Whether no purge record taken since its creation covers an entry. */
  isValid(meta: CachedMeta): boolean {
    return !this.purges || meta.createdAt > this.purges.index.purgedAt(meta.account, meta.path);
  }

  /** L1, then the shared tier (promoted into L1); entries older than a purge of their path are misses. */
  async lookup(key: string, account: string, path: string): Promise<{ entry: CacheEntry; tier: 'L1' | 'shared' } | null> {
    return (await this.lookupLocal(key)) ?? this.lookupShared(key, account, path);
  }

  /** L1 alone (memory, then disk): no network. */
  async lookupLocal(key: string): Promise<{ entry: CacheEntry; tier: 'L1' } | null> {
    const local = await this.l1.get(key);
    if (local) {
      if (this.isValid(local.meta)) return { entry: local, tier: 'L1' };
      await this.l1.delete(key);
    }
    return null;
  }

  /** Whether an L1 miss would read the shared tier (a network call) now. */
  get sharedReadable(): boolean {
    return this.active && this.shared !== null;
  }

  /** The shared tier alone (an S3 read), promoted into L1 on a hit (the L1 file is written behind). */
  async lookupShared(key: string, account: string, path: string): Promise<{ entry: CacheEntry; tier: 'shared' } | null> {
    if (!this.active || !this.shared || this.breaker.takeAttemptLease('shared')) return null;
    let entry: CacheEntry | null = null;
    try {
      entry = await this.shared.get(account, path, key);
      this.breaker.record('shared', 'success');
    } catch (e) {
      this.breaker.record('shared', 'failure');
      log.warn('shared tier: read failed (treated as a miss; skipped for a cool-down)', { err: String(e) });
      return null;
    }
    if (!entry || !this.isValid(entry.meta)) return null;
    const { bodyLength: _b, ...meta } = entry.meta;
    this.l1.put(key, meta, entry.body).catch((e) => log.warn('shared tier: promotion into L1 failed', { err: String(e) }));
    return { entry, tier: 'shared' };
  }

  /**
   * Whether a lookup that would render the variant here anyway should still read the shared tier
   * first: false when the tier's index is complete and does not hold it (no S3 round trip, no
   * S3 client work on a cold miss; a false "absent" costs a render of the same bytes).
   */
  sharedMayHold(key: string): boolean {
    return this.sharedReadable && this.shared!.index.mayHold(key);
  }

  /** Stores in L1 and the shared tier (a shared-tier failure is logged; an L1 failure is the caller's). */
  async store(key: string, meta: Omit<CachedMeta, 'bodyLength'>, body: Buffer, opts: { sharedToo: boolean } = { sharedToo: true }): Promise<void> {
    const toShared = this.active && this.shared !== null && opts.sharedToo;
    // Alone in the region, nobody else reads the shared tier now: its copy is written when this
    // replica is idle (below), not beside the next renders on the same cores.
    const shared = toShared ? (this.members.others().length === 0 && this.idle ? this.deferShared(key, meta, body) : this.putShared(key, meta, body)) : undefined;
    await Promise.all([this.l1.put(key, meta, body), shared]);
  }

  private putShared(key: string, meta: Omit<CachedMeta, 'bodyLength'>, body: Buffer): Promise<void> | undefined {
    if (!this.shared || this.breaker.takeAttemptLease('shared')) return undefined;
    return this.shared.put(key, meta, body).then(
      () => this.breaker.record('shared', 'success'),
      (e) => {
        this.breaker.record('shared', 'failure');
        log.warn('shared tier: write failed', { account: meta.account, path: meta.path, err: String(e) });
      },
    );
  }

  /** Shared-tier copies waiting for an idle moment (a replica alone in its region), oldest first. */
  private readonly deferred = new Map<string, { meta: Omit<CachedMeta, 'bodyLength'>; body: Buffer; done: () => void }>();
  private deferredBytes = 0;
  private drainTimer?: NodeJS.Timeout;
  /** Copies dropped because the deferred bound was full (the L1 still holds them; the tier misses them). */
  deferredDropped = 0;
  /** Whether this replica is idle (no render running or waiting): set by build-services from the transform queue. */
  idle?: () => boolean;

  get deferredWrites(): number {
    return this.deferred.size;
  }

  private deferShared(key: string, meta: Omit<CachedMeta, 'bodyLength'>, body: Buffer): Promise<void> {
    return new Promise<void>((done) => {
      this.deferred.get(key)?.done();
      this.dropDeferred(key);
      this.deferred.set(key, { meta, body, done });
      this.deferredBytes += body.length;
      const bound = this.config.shared.deferredBytes;
      for (const [k, d] of this.deferred) {
        if (this.deferredBytes <= bound || k === key) break;
        this.dropDeferred(k);
        this.deferredDropped++;
        d.done();
      }
      this.scheduleDrain(0);
    });
  }

  private dropDeferred(key: string): void {
    const d = this.deferred.get(key);
    if (!d) return;
    this.deferred.delete(key);
    this.deferredBytes -= d.body.length;
  }

  private scheduleDrain(ms: number): void {
    if (this.drainTimer || !this.deferred.size) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      void this.drainOne();
    }, ms);
  }

  /** One deferred copy when idle (or at once when another replica joined, or when flushing). */
  private async drainOne(force = false): Promise<void> {
    const first = this.deferred.entries().next();
    if (first.done) return;
    if (!force && this.idle && !this.idle() && this.members.others().length === 0) return this.scheduleDrain(25);
    const [key, d] = first.value;
    this.dropDeferred(key);
    await this.putShared(key, d.meta, d.body);
    d.done();
    if (!force) this.scheduleDrain(0);
  }

  /** Writes every deferred copy now (shutdown). */
  async flushDeferred(): Promise<void> {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    while (this.deferred.size) await this.drainOne(true);
  }

  /**
   * A purge taken by this replica: the record first (durable: every replica honours it from now,
   * a replica that is down reads it at boot), then the shared tier's copies, then the live peers
   * are told directly so their L1s drop the path at once (they would within one poll anyway).
   */
  async purge(account: string, path: string, prefix: boolean): Promise<{ shared: number; peers: number }> {
    if (!this.active || !this.purges || !this.shared) return { shared: 0, peers: 0 };
    this.forgetDeferred(account, path, prefix);
    const entry = await this.purges.record(account, path, prefix);
    const shared = await this.shared.purge(account, path, prefix).catch((e) => {
      log.warn('shared tier: purge delete failed (the purge record still hides the entries)', { err: String(e) });
      return 0;
    });
    const q = new URLSearchParams({ account, path, prefix: String(prefix), at: String(entry.at), id: entry.id, by: entry.by ?? '' });
    const told = await Promise.all(
      this.members.others().map((peer) =>
        peerFetch(this.config.internalSecret, peer, 'POST', `${PEER_PURGE_PATH}?${q}`, { timeoutMs: 5_000, self: this.members.self, region: this.config.region })
          .then(async (r) => {
            await r.body?.cancel();
            return r.ok;
          })
          .catch(() => {
            this.members.suspect(peer);
            return false;
          }),
      ),
    );
    return { shared, peers: told.filter(Boolean).length };
  }

  /** Deferred copies of a purged path are not written (the purge record would hide them anyway). */
  forgetDeferred(account: string, path: string, prefix: boolean): void {
    for (const [k, d] of this.deferred) {
      if (d.meta.account === account && (prefix ? d.meta.path.startsWith(path) : d.meta.path === path)) {
        this.dropDeferred(k);
        d.done();
      }
    }
  }

  /** A peer's direct notice of a record it wrote: index it; true when it was new here. */
  learn(e: PurgeEntry): boolean {
    return this.purges?.learn(e) ?? false;
  }

  /** The sweeping replica's round: stale and over-bound shared entries, expired purge records. */
  async sweep(): Promise<void> {
    if (!this.active || !this.shared || !this.purges) return;
    try {
      this.lastSweep = await this.shared.sweep(this.purges.index);
      await this.purges.expire(this.config.shared.purgeRetentionMs);
      await SharedTokens.expire(this.bucket!);
      if (this.lastSweep.deletedForSize || this.lastSweep.deletedStale) log.info('shared tier swept', { ...this.lastSweep });
    } catch (e) {
      log.warn('shared tier: sweep failed', { err: String(e) });
    }
  }
}
