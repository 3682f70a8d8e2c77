/**
 * Internal-call nonces, refused on replay across the region's replicas: each nonce has an owner
 * among the live replicas (rendezvous hashing of the nonce); a replica that receives a call
 * claims the nonce at its owner (`POST /internal/nonce?n=…&by=<claimant>`, a signed peer call).
 * The owner remembers who claimed it: the same nonce again is refused — unless its claimant is
 * dead (its /healthz does not answer): that is the balancer retrying an idempotent call whose
 * first replica died before answering, which must succeed (docs/deploy.md#replays-and-retries).
 * An owner that does not answer within 1 s is suspected and this replica's memory decides:
 * losing a replica loses its share of the 60 s window, not requests. Claim calls are checked by
 * the owner's own memory only (no claims about claims). What a replica remembers is a NonceWindow
 * (./nonce-window.ts): packed keys, claimants by index, generations dropped whole.
 */
import { DEFAULT_WINDOW_MS } from '../../../shared/internal-auth.js';
import { NonceMemory, type NonceStore } from '../internal-auth.js';
import type { RegionState } from './index.js';
import { NonceWindow, nonceKey } from './nonce-window.js';
import { peerFetch } from './peers.js';

export const NONCE_CLAIM_PATH = '/internal/nonce';
const CAP = 200_000;

export class RegionNonces implements NonceStore {
  /** Nonce key → the index of its claimant in `claimants`, for 2 × the signature window. */
  private readonly seen = new NonceWindow(2 * DEFAULT_WINDOW_MS, CAP);
  /** Claimants (replica URLs, from signed peer calls only) by index, and their indices. */
  private readonly claimants: string[] = [];
  private readonly claimantIds = new Map<string, number>();

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

  private idOf(by: string): number {
    let id = this.claimantIds.get(by);
    if (id === undefined) {
      id = this.claimants.length;
      this.claimants.push(by);
      this.claimantIds.set(by, id);
    }
    return id;
  }

  /** The owner's decision (also used when this replica is the owner or the owner is gone). */
  async take(nonce: string, by: string): Promise<boolean> {
    return this.takeNow(nonce, by);
  }

  /** take, decided at once unless it must ask whether the first claimant (another replica) is alive. */
  private takeNow(nonce: string, by: string): boolean | Promise<boolean> {
    const key = nonceKey(nonce);
    // A new nonce is remembered for its claimant in the same pass that found it new.
    const e = this.seen.getOrSet(key, this.idOf(by), Date.now());
    if (e === undefined) return true;
    const prev = this.claimants[e]!;
    if (prev === by || prev === this.self) return false; // a replay (this replica is alive)
    return this.alive(prev).then((up) => {
      if (up) return false;
      this.seen.set(key, this.idOf(by), Date.now()); // its claimant died before answering: a retry
      return true;
    });
  }

  /** At once (no promise) when this replica owns the nonce and need not ask another replica. */
  remember(nonce: string, _ttlMs?: number): boolean | Promise<boolean> {
    const owner = this.region.ownerOf(`nonce:${nonce}`);
    if (!owner) return this.takeNow(nonce, this.self);
    return this.claim(nonce, owner);
  }

  /** Claims a nonce at its owner, another replica. */
  private async claim(nonce: string, owner: string): Promise<boolean> {
    const key = nonceKey(nonce);
    if (this.seen.get(key, Date.now()) === this.idOf(this.self)) return false;
    try {
      const q = new URLSearchParams({ n: nonce, by: this.self });
      const res = await peerFetch(this.secret, owner, 'POST', `${NONCE_CLAIM_PATH}?${q}`, { timeoutMs: Math.min(1_000, this.timeoutMs), self: this.self, region: this.regionId });
      await res.body?.cancel();
      if (res.status === 409) return false;
      if (res.ok) {
        this.seen.set(key, this.idOf(this.self), Date.now());
        return true;
      }
    } catch {
      /* owner gone: suspected below */
    }
    this.region.members.suspect(owner);
    return this.take(nonce, this.self);
  }
}
