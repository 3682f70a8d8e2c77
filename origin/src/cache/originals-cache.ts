/**
 * Originals kept in memory for a short while, so the variants of one original (several widths,
 * formats, DPRs) fetch it once. Bounded in bytes (least recently used go first) and in time (a
 * changed original is picked up after the TTL, or at once through purge).
 */
import type { Original } from '../sources/types.js';

interface Slot {
  value: Original;
  size: number;
  expires: number;
  account: string;
  path: string;
}

export class OriginalsCache {
  private readonly slots = new Map<string, Slot>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly maxBytes: number,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): Original | undefined {
    const slot = this.slots.get(key);
    if (!slot || slot.expires <= this.now()) {
      if (slot) this.drop(key);
      this.misses++;
      return undefined;
    }
    this.slots.delete(key);
    this.slots.set(key, slot);
    this.hits++;
    return slot.value;
  }

  set(key: string, value: Original, account: string, path: string): void {
    const size = value.body.length + key.length + 256;
    if (size > this.maxBytes || this.ttlMs === 0) return;
    this.drop(key);
    this.slots.set(key, { value, size, expires: this.now() + this.ttlMs, account, path });
    this.bytes += size;
    for (const k of this.slots.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(k);
    }
  }

  purge(account: string, pathOrPrefix: string, prefix: boolean): number {
    let n = 0;
    for (const [k, s] of [...this.slots]) {
      if (s.account === account && (prefix ? s.path.startsWith(pathOrPrefix) : s.path === pathOrPrefix)) {
        this.drop(k);
        n++;
      }
    }
    return n;
  }

  stats(): { entries: number; bytes: number; maxBytes: number } {
    return { entries: this.slots.size, bytes: this.bytes, maxBytes: this.maxBytes };
  }

  private drop(key: string): void {
    const s = this.slots.get(key);
    if (!s) return;
    this.bytes -= s.size;
    this.slots.delete(key);
  }
}
