/**
 * Internal-call nonces, refused on replay across the region's replicas: each nonce has an owner
 * among the live replicas (rendezvous hashing of the nonce); a replica that receives a call
 * claims the nonce at its owner (`POST /internal/nonce?n=…&by=<claimant>`, a signed peer call).
 * The owner remembers who claimed it: the same nonce again is refused — unless its claimant is
 * dead (its /healthz does not answer): that is the balancer retrying an idempotent call whose
 * first replica died before answering, which must succeed (docs/deploy.md#replays-and-retries).
 * An owner that does not answer within 1 s is suspected and this replica's memory decides:
 * losing a replica loses its share of the 60 s window, not requests. Claim calls are checked by
 * the owner's own memory only (no claims about claims).
 */
import { DEFAULT_WINDOW_MS } from '../../../shared/internal-auth.js';
import { NonceMemory, type NonceStore } from '../internal-auth.js';
import type { RegionState } from './index.js';
import { peerFetch } from './peers.js';

export const NONCE_CLAIM_PATH = '/internal/nonce';
const CAP = 200_000;

export class RegionNonces implements NonceStore {
  private readonly seen = new Map<string, { by: string; at: number }>();

  constructor(
    private readonly region: RegionState,
    private readonly secret: string,
    private readonly timeoutMs: number,
    /** The region the replicas serve (signatures name it). */
    private readonly regionId: string,
    /** Nonces of claim calls themselves (this replica's memory). */
    readonly local: NonceStore = new NonceMemory(),
  ) {}

  private get self(): string {
    return this.region.members.self;
  }

  private async alive(url: string): Promise<boolean> {
    if (url === this.self) return true;
    try {
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(500) });
      await r.body?.cancel();
      return r.ok;
    } catch {
      return false;
    }
  }

  private prune(now: number): void {
    for (const [n, e] of this.seen) if (now - e.at > 2 * DEFAULT_WINDOW_MS) this.seen.delete(n);
    for (const n of this.seen.keys()) {
      if (this.seen.size < CAP) break;
      this.seen.delete(n);
    }
  }

  /** The owner's decision (also used when this replica is the owner or the owner is gone). */
  async take(nonce: string, by: string): Promise<boolean> {
    const now = Date.now();
    const e = this.seen.get(nonce);
    if (!e) {
      if (this.seen.size >= CAP) this.prune(now);
      this.seen.set(nonce, { by, at: now });
      return true;
    }
    if (e.by === by || (await this.alive(e.by))) return false;
    e.by = by; // its claimant died before answering: a retry
    return true;
  }

  async remember(nonce: string, _ttlMs?: number): Promise<boolean> {
    const owner = this.region.ownerOf(`nonce:${nonce}`);
    if (!owner) return this.take(nonce, this.self);
    if (this.seen.get(nonce)?.by === this.self) return false;
    try {
      const q = new URLSearchParams({ n: nonce, by: this.self });
      const res = await peerFetch(this.secret, owner, 'POST', `${NONCE_CLAIM_PATH}?${q}`, { timeoutMs: Math.min(1_000, this.timeoutMs), self: this.self, region: this.regionId });
      await res.body?.cancel();
      if (res.status === 409) return false;
      if (res.ok) {
        this.seen.set(nonce, { by: this.self, at: Date.now() });
        return true;
      }
    } catch {
      /* owner gone: suspected below */
    }
    this.region.members.suspect(owner);
    return this.take(nonce, this.self);
  }
}
