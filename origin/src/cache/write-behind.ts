/**
 * Work done after the response (result-cache writes: the L1 file and the shared tier's S3 PUT),
 * tracked so that nothing is lost at shutdown: `flush()` waits for every write in progress.
 * A response never waits for a disk or an S3 write (docs/benchmarks.md "Profile").
 */
export class WriteBehind {
  private readonly pending = new Set<Promise<unknown>>();

  /** Track `work` until it settles; its failures are the caller's to handle (it must not reject unhandled). */
  track(work: Promise<unknown>): void {
    const p = work.finally(() => this.pending.delete(p));
    p.catch(() => undefined);
    this.pending.add(p);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Waits until no tracked work is in progress (work started meanwhile included). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}
