/**
 * Who else serves this region: every replica writes a heartbeat to `members/` in the region's
 * bucket (its URL and its rolling hit counts) every `heartbeatMs` and lists the others; a replica
 * silent for 3 heartbeats is gone. From the live set:
 *   - `owner(key)`: rendezvous (highest-random-weight) hashing, the same function the balancer
 *     uses (shared/rendezvous.ts), so a variant or an account has one owner among live replicas;
 *   - `regionHitRatio()`: the region's hit ratio (Σ hits / Σ lookups over live replicas), which
 *     is what the edge is told — not one replica's.
 * A peer that fails a call is skipped until its next heartbeat proves it alive (`suspect`).
 */
import { log } from '../log.js';
import { rendezvousOwner } from '../../../shared/rendezvous.js';
import { sha256, type RegionBucket } from './bucket.js';

export interface Heartbeat {
  url: string;
  pid: number;
  startedAt: number;
  at: number;
  hits: number;
  lookups: number;
}

export const MEMBER_PREFIX = 'members/';

/** A short, stable id for a replica (its URL hashed): the x-pixmesh-replica response header. */
export const replicaIdOf = (url: string) => sha256(url).slice(0, 8);

export class Membership {
  private peers = new Map<string, Heartbeat>();
  private readonly suspects = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private stopped = false;
  /** Called when the set of live replicas changed (owners moved). */
  onChange?: () => void;

  constructor(
    private readonly bucket: RegionBucket | null,
    /** This replica's advertised URL (its id). */
    readonly self: string,
    private readonly heartbeatMs: number,
    private readonly counts: () => { hits: number; lookups: number },
  ) {}

  private key(url: string): string {
    return `${MEMBER_PREFIX}${sha256(url).slice(0, 32)}.json`;
  }

  /** One heartbeat + one read of the others. */
  async beat(): Promise<void> {
    if (!this.bucket) return;
    const now = Date.now();
    const me: Heartbeat = { url: this.self, pid: process.pid, startedAt: this.startedAt, at: now, ...this.counts() };
    await this.bucket.putJson(this.key(this.self), me);
    const listed = await this.bucket.list(MEMBER_PREFIX);
    const next = new Map<string, Heartbeat>();
    await Promise.all(
      listed.map(async (o) => {
        if (o.key === this.key(this.self)) return;
        const hb = await this.bucket!.getJson<Heartbeat>(o.key).catch(() => null);
        if (!hb) return;
        if (now - hb.at > 3 * this.heartbeatMs) {
          // Long gone (10 heartbeats): tidy its record away.
          if (now - hb.at > 10 * this.heartbeatMs) await this.bucket!.delete(o.key).catch(() => undefined);
          return;
        }
        next.set(hb.url, hb);
        const suspectedAt = this.suspects.get(hb.url);
        if (suspectedAt !== undefined && hb.at > suspectedAt) this.suspects.delete(hb.url);
      }),
    );
    const before = [...this.peers.keys()].sort().join(' ');
    this.peers = next;
    if ([...next.keys()].sort().join(' ') !== before) this.onChange?.();
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.beat()
        .catch((e) => log.warn('membership: heartbeat failed', { err: String(e) }))
        .finally(() => {
          if (this.stopped) return;
          this.timer = setTimeout(tick, this.heartbeatMs);
          this.timer.unref();
        });
    };
    tick();
  }

  /** Leave at once (SIGTERM): peers stop routing to us without waiting for the heartbeat to age. */
  async leave(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.bucket) await this.bucket.delete(this.key(this.self)).catch(() => undefined);
  }

  /** A call to this peer failed: skip it until it heartbeats again. */
  suspect(url: string): void {
    this.suspects.set(url, Date.now());
  }

  /** Live replicas, this one included. */
  live(): string[] {
    return [this.self, ...[...this.peers.keys()].filter((u) => !this.suspects.has(u))];
  }

  /** Other live replicas. */
  others(): string[] {
    return this.live().filter((u) => u !== this.self);
  }

  owner(key: string): string {
    // Alone (no peer, or every one suspected): rendezvousOwner of [self] is self — without the
    // three arrays live() builds, on every internal call's nonce (origin/src/region/nonces.ts).
    if (!this.hasLivePeer()) return this.self;
    return rendezvousOwner(key, this.live());
  }

  private hasLivePeer(): boolean {
    for (const url of this.peers.keys()) if (!this.suspects.has(url)) return true;
    return false;
  }

  regionHitRatio(): number {
    let { hits, lookups } = this.counts();
    for (const [url, hb] of this.peers) {
      if (this.suspects.has(url)) continue;
      hits += hb.hits;
      lookups += hb.lookups;
    }
    return lookups === 0 ? 0 : hits / lookups;
  }
}
