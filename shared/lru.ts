/**
 * The one byte-bounded LRU index (origin result cache on disk, originals in memory): entries with
 * a size in bytes, least recently used first out once the total passes `maxBytes`, optionally
 * expiring after `ttlMs`. `set` returns what it evicted so a caller that stores bytes elsewhere
 * (files) can remove them.
 */
export interface LruOptions {
  /** Entries older than this are misses (0 or undefined: no expiry). */
  ttlMs?: number;
  now?: () => number;
}

interface Slot<V> {
  value: V;
  size: number;
  expires: number;
}

export class ByteLru<V> {
  private readonly slots = new Map<string, Slot<V>>();
  private total = 0;
  private readonly now: () => number;

  constructor(
    readonly maxBytes: number,
    private readonly options: LruOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.slots.size;
  }

  get bytes(): number {
    return this.total;
  }

  /** The value without marking it used, or undefined when absent or expired. */
  peek(key: string): V | undefined {
    const slot = this.slots.get(key);
    return slot && slot.expires > this.now() ? slot.value : undefined;
  }

  /** The value (and marks it most recently used), or undefined when absent or expired. */
  get(key: string): V | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    if (slot.expires <= this.now()) {
      this.delete(key);
      return undefined;
    }
    this.slots.delete(key);
    this.slots.set(key, slot);
    return slot.value;
  }

  /**
   * Stores (replacing any entry under the key) and evicts the least recently used beyond the
   * bound; returns the evicted entries. An entry larger than the whole bound is not stored (it
   * is returned as evicted).
   */
  set(key: string, value: V, size: number): [string, V][] {
    this.delete(key);
    if (size > this.maxBytes) return [[key, value]];
    const ttl = this.options.ttlMs;
    this.slots.set(key, { value, size, expires: ttl ? this.now() + ttl : Infinity });
    this.total += size;
    const evicted: [string, V][] = [];
    for (const [k, s] of this.slots) {
      if (this.total <= this.maxBytes) break;
      this.delete(k);
      evicted.push([k, s.value]);
    }
    return evicted;
  }

  delete(key: string): boolean {
    const slot = this.slots.get(key);
    if (!slot) return false;
    this.total -= slot.size;
    this.slots.delete(key);
    return true;
  }

  /** Removes every entry the predicate selects; returns them. */
  deleteWhere(select: (value: V, key: string) => boolean): [string, V][] {
    const removed: [string, V][] = [];
    for (const [k, s] of [...this.slots]) {
      if (!select(s.value, k)) continue;
      this.delete(k);
      removed.push([k, s.value]);
    }
    return removed;
  }
}
