/**
 * Originals kept in memory for a short while, so the variants of one original (several widths,
 * formats, DPRs) fetch it once. Bounded in bytes (least recently used go first, shared/lru.ts) and
 * in time (a changed original is picked up after the TTL, or at once through purge).
 */
import { ByteLru } from '../../../shared/lru.js';
import type { Original } from '../sources/types.js';

interface Slot {
  value: Original;
  account: string;
  path: string;
}

export class OriginalsCache {
  private readonly lru: ByteLru<Slot>;
  hits = 0;
  misses = 0;

  constructor(
    readonly maxBytes: number,
    readonly ttlMs: number,
    now: () => number = Date.now,
  ) {
    this.lru = new ByteLru<Slot>(maxBytes, { ttlMs, now });
  }

  get(key: string): Original | undefined {
    const slot = this.lru.get(key);
    if (slot) this.hits++;
    else this.misses++;
    return slot?.value;
  }

  set(key: string, value: Original, account: string, path: string): void {
    if (this.ttlMs === 0) return;
    this.lru.set(key, { value, account, path }, value.body.length + key.length + 256);
  }

  purge(account: string, pathOrPrefix: string, prefix: boolean): number {
    return this.lru.deleteWhere((s) => s.account === account && (prefix ? s.path.startsWith(pathOrPrefix) : s.path === pathOrPrefix)).length;
  }

  stats(): { entries: number; bytes: number; maxBytes: number } {
    return { entries: this.lru.size, bytes: this.lru.bytes, maxBytes: this.maxBytes };
  }
}
