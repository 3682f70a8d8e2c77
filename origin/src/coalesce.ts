/**
 * Singleflight: concurrent calls with the same key share one execution and its outcome (value
 * or error). The key is forgotten as soon as the call settles, so nothing is cached here.
 */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Promise<T>>();
  /** Calls that joined a flight instead of starting one. */
  joined = 0;

  constructor(private readonly onJoin?: () => void) {}

  do(key: string, fn: () => Promise<T>): { promise: Promise<T>; shared: boolean } {
    const existing = this.flights.get(key);
    if (existing) {
      this.joined++;
      this.onJoin?.();
      return { promise: existing, shared: true };
    }
    const promise = (async () => {
      try {
        return await fn();
      } finally {
        this.flights.delete(key);
      }
    })();
    this.flights.set(key, promise);
    return { promise, shared: false };
  }

  get size(): number {
    return this.flights.size;
  }
}
