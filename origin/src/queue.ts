/**
 * The bounded transform queue: at most `concurrency` jobs run, at most `maxQueued` wait; a job
 * that finds the queue full is refused at once with 503 EBUSY + Retry-After instead of piling up
 * memory. Waiting jobs whose caller gave up (signal aborted) leave the queue.
 *
 * Fair across tenants (#12 point 7): waiting jobs are kept per tenant (account) and a free slot
 * goes to the waiting tenant with the fewest jobs running (round-robin among equals), so a flood
 * from one account waits behind itself, not in front of everyone; one tenant may also hold at
 * most half of the waiting places.
 */
import { busy } from '../../shared/errors.js';

interface Waiter {
  tenant: string;
  start: () => void;
  reject: (e: unknown) => void;
}

export interface QueueObserver {
  onChange?(active: number, queued: number): void;
  onRejected?(): void;
  onWait?(ms: number): void;
}

export class TransformQueue {
  private active = 0;
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly runningBy = new Map<string, number>();
  private queued = 0;
  private turn = 0;
  rejected = 0;

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
    private readonly observer: QueueObserver = {},
    /** Seconds suggested to clients in Retry-After. */
    readonly retryAfterSeconds = 1,
  ) {}

  get depth(): number {
    return this.queued;
  }
  get running(): number {
    return this.active;
  }
  /** Jobs of one tenant running now. */
  runningFor(tenant: string): number {
    return this.runningBy.get(tenant) ?? 0;
  }

  private startFor(tenant: string): void {
    this.active++;
    this.runningBy.set(tenant, this.runningFor(tenant) + 1);
  }

  /** The next waiter: the tenant with the fewest running jobs, round-robin among equals. */
  private takeNext(): Waiter | undefined {
    const tenants = [...this.waiting.keys()];
    if (!tenants.length) return undefined;
    let best: string | undefined;
    let bestRunning = Infinity;
    for (let i = 0; i < tenants.length; i++) {
      const t = tenants[(this.turn + i) % tenants.length]!;
      const r = this.runningFor(t);
      if (r < bestRunning) {
        best = t;
        bestRunning = r;
      }
    }
    this.turn++;
    const list = this.waiting.get(best!)!;
    const w = list.shift()!;
    if (!list.length) this.waiting.delete(best!);
    this.queued--;
    return w;
  }

  async run<T>(job: () => Promise<T>, signal?: AbortSignal, tenant = ''): Promise<T> {
    const t0 = performance.now();
    if (this.active >= this.concurrency) {
      const mine = this.waiting.get(tenant)?.length ?? 0;
      const tenantCap = Math.max(1, Math.ceil(this.maxQueued / 2));
      if (this.queued >= this.maxQueued || (tenant !== '' && mine >= tenantCap)) {
        this.rejected++;
        this.observer.onRejected?.();
        throw busy(
          this.queued >= this.maxQueued
            ? `transform queue full (${this.active} running, ${this.queued} waiting)`
            : `too many transforms waiting for this account (${mine})`,
          this.retryAfterSeconds,
          503,
        );
      }
      await new Promise<void>((resolve, reject) => {
        const w: Waiter = { tenant, start: resolve, reject };
        const list = this.waiting.get(tenant) ?? [];
        list.push(w);
        this.waiting.set(tenant, list);
        this.queued++;
        this.changed();
        signal?.addEventListener(
          'abort',
          () => {
            const l = this.waiting.get(tenant);
            const i = l?.indexOf(w) ?? -1;
            if (l && i >= 0) {
              l.splice(i, 1);
              if (!l.length) this.waiting.delete(tenant);
              this.queued--;
              this.changed();
              reject(busy('gave up waiting for a transform slot', this.retryAfterSeconds, 503));
            }
          },
          { once: true },
        );
      });
    } else {
      this.startFor(tenant);
      this.changed();
    }
    this.observer.onWait?.(performance.now() - t0);
    try {
      return await job();
    } finally {
      this.active--;
      const left = this.runningFor(tenant) - 1;
      if (left > 0) this.runningBy.set(tenant, left);
      else this.runningBy.delete(tenant);
      const next = this.takeNext();
      if (next) {
        this.startFor(next.tenant);
        next.start();
      }
      this.changed();
    }
  }

  private changed(): void {
    this.observer.onChange?.(this.active, this.queued);
  }
}
