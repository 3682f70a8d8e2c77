/**
 * The one token-bucket mechanism (both tiers): a bucket per key refilled continuously at
 * `perMinute`, holding at most one minute's worth. `take` refuses a cost the bucket cannot pay
 * (429 EBUSY with the seconds until it can); `charge` takes a cost known only afterwards and may
 * leave the bucket in debt, which `take` then refuses until it is paid back.
 *
 * Users: the origin's per-account render budget and purge rate limit (origin/src/budget.ts), the
 * edge's per-client budget of region time (edge/src/client-budget.ts).
 */
import { busy } from './errors.js';

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    readonly perMinute: number,
    /** Costs under this are never refused (cheap work). */
    private readonly free: number,
    private readonly what: (perMinute: number) => string,
    /** Keys remembered at most (the oldest are forgotten first: a forgotten key starts full). */
    private readonly maxKeys = 10_000,
  ) {}

  private refill(key: string, now: number): { tokens: number; at: number } {
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) / 60_000) * this.perMinute);
    b.at = now;
    this.buckets.delete(key); // re-inserted last: Map order is the age order
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) for (const k of this.buckets.keys()) if (this.buckets.size > this.maxKeys / 2) this.buckets.delete(k);
    return b;
  }

  /** Take `cost` from the key's bucket, or throw 429 EBUSY with the seconds until it refills. */
  take(key: string, cost: number, now = Date.now()): void {
    if (cost < this.free) return;
    const b = this.refill(key, now);
    if (b.tokens < cost) {
      const wait = Math.ceil(((cost - b.tokens) / this.perMinute) * 60);
      throw busy(this.what(this.perMinute), Math.max(1, wait), 429);
    }
    b.tokens -= cost;
  }

  /** Take a cost that is known only now (may leave the bucket in debt). */
  charge(key: string, cost: number, now = Date.now()): void {
    if (cost <= 0) return;
    this.refill(key, now).tokens -= cost;
  }
}
