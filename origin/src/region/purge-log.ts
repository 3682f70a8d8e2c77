/**
 * Purge records in the region's bucket, honoured by every replica: a cached variant (disk L1 or
 * the shared tier) whose render started before a purge that covers its path is a miss, whichever
 * replica took the purge and whether this replica was up at the time. Records are polled
 * (`purges/` listed after the last key seen) and loaded in full at boot, before /readyz says ready.
 *
 * Purges are matched by time: an entry's `createdAt` is when its render (or forward) STARTED, so a
 * render that was already running when the purge arrived is stale too. Clocks between replicas
 * are assumed within a second (NTP); records are kept `retentionMs` (default 30 days).
 */
import crypto from 'node:crypto';
import { log } from '../log.js';
import type { RegionBucket } from './bucket.js';

export interface PurgeEntry {
  account: string;
  /** Path, or a prefix of paths when prefix is true. */
  path: string;
  prefix: boolean;
  /** Unix ms when the purge was taken. */
  at: number;
  id: string;
  /** Replica that took it. */
  by?: string;
}

export const PURGE_RECORD_PREFIX = 'purges/';

export const purgeRecordKey = (e: Pick<PurgeEntry, 'at' | 'id'>) => `${PURGE_RECORD_PREFIX}${String(e.at).padStart(15, '0')}-${e.id}.json`;

/** The purge index: per account, the latest purge time per exact path, and prefix purges. Pure. */
export class PurgeIndex {
  private readonly byAccount = new Map<string, { exact: Map<string, number>; prefixes: Map<string, number> }>();
  private readonly ids = new Set<string>();
  private readonly keys = new Set<string>();

  /** Record keys already read (polls skip them). */
  has(key: string): boolean {
    return this.keys.has(key);
  }
  seenKey(key: string): void {
    this.keys.add(key);
  }

  /** false when already known. */
  add(e: PurgeEntry): boolean {
    if (this.ids.has(e.id)) return false;
    this.ids.add(e.id);
    let a = this.byAccount.get(e.account);
    if (!a) this.byAccount.set(e.account, (a = { exact: new Map(), prefixes: new Map() }));
    const m = e.prefix ? a.prefixes : a.exact;
    m.set(e.path, Math.max(m.get(e.path) ?? 0, e.at));
    return true;
  }

  /** The latest purge covering this path (0: none). */
  purgedAt(account: string, path: string): number {
    const a = this.byAccount.get(account);
    if (!a) return 0;
    let at = a.exact.get(path) ?? 0;
    for (const [prefix, t] of a.prefixes) if (t > at && path.startsWith(prefix)) at = t;
    return at;
  }

  /** Is an entry rendered from `createdAt` on still valid? */
  valid(account: string, path: string, createdAt: number): boolean {
    return createdAt > this.purgedAt(account, path);
  }

  get size(): number {
    return this.ids.size;
  }
}

export class PurgeLog {
  readonly index = new PurgeIndex();
  /** Newest record time seen; polls re-read from 10 s before it (clock skew between replicas), deduplicated by id. */
  private lastAt = 0;
  private timer?: NodeJS.Timeout;
  /** Called for each record taken elsewhere (to drop local copies at once). */
  onRemote?: (e: PurgeEntry) => void;

  constructor(
    private readonly bucket: RegionBucket,
    private readonly self: string,
    private readonly pollMs: number,
  ) {}

  /** Writes a record (the purge is durable once this resolves) and indexes it. */
  async record(account: string, path: string, prefix: boolean, at = Date.now()): Promise<PurgeEntry> {
    const e: PurgeEntry = { account, path, prefix, at, id: crypto.randomBytes(8).toString('hex'), by: this.self };
    await this.bucket.putJson(purgeRecordKey(e), e);
    this.index.add(e);
    this.index.seenKey(purgeRecordKey(e));
    return e;
  }

  /** Indexes a record a peer told us about directly (it is in the bucket already). */
  learn(e: PurgeEntry): boolean {
    return this.index.add(e);
  }

  /** Reads records written since the last poll. */
  async poll(): Promise<number> {
    const startAfter = this.lastAt ? purgeRecordKey({ at: Math.max(0, this.lastAt - 10_000), id: '' }) : undefined;
    const listed = await this.bucket.list(PURGE_RECORD_PREFIX, { startAfter });
    let fresh = 0;
    for (const o of listed) {
      const at = Number(o.key.slice(PURGE_RECORD_PREFIX.length, PURGE_RECORD_PREFIX.length + 15));
      if (this.index.has(o.key)) continue;
      const e = await this.bucket.getJson<PurgeEntry>(o.key).catch(() => null);
      if (e && this.index.add(e)) {
        fresh++;
        if (e.by !== this.self) this.onRemote?.(e);
      }
      this.index.seenKey(o.key);
      if (at > this.lastAt) this.lastAt = at;
    }
    return fresh;
  }

  start(): void {
    const tick = () => {
      this.poll()
        .catch((e) => log.warn('purge log: poll failed', { err: String(e) }))
        .finally(() => {
          this.timer = setTimeout(tick, this.pollMs);
          this.timer.unref();
        });
    };
    this.timer = setTimeout(tick, this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** Removes records older than retentionMs (run by the sweeping replica). */
  async expire(retentionMs: number, now = Date.now()): Promise<number> {
    const horizon = purgeRecordKey({ at: now - retentionMs, id: '' });
    const old = (await this.bucket.list(PURGE_RECORD_PREFIX)).filter((o) => o.key < horizon).map((o) => o.key);
    await this.bucket.deleteMany(old);
    return old.length;
  }
}
