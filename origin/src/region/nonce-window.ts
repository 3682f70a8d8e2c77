/**
 * What a region's nonce owner remembers (./nonces.ts), compact. A nonce's key is its hex digits
 * packed four to a UTF-16 code unit (32 digits → a 9-unit string, which V8 stores flat: the nonce
 * as parsed is a slice of the request's x-pixmesh-auth value and kept that whole string alive);
 * its value is a small integer (the claimant's index, no object per entry); entries live in
 * generations of GENERATION_MS of insert time, dropped whole once their newest entry is older than
 * the window — no timestamp per entry, no sweep over a map. (A Map of {by, at} by raw nonce, pruned
 * only at its cap, grew the origin's heap 18 → 54 MB during a hit benchmark: docs/benchmarks.md
 * "Round 5".) Within a generation a signer's nonce takes no object and no string either: its 128
 * bits sit in typed arrays with an open-addressing index (Generation, below: ≈ 57 instead of ≈ 95
 * bytes of heap and buffers per nonce, docs/benchmarks.md "Round 8 confirmation").
 *
 * Guarantee: a key is remembered for at least `windowMs` after it was last set (at most
 * `windowMs` + GENERATION_MS), unless more than `cap` keys were set within that time — then the
 * oldest go first. The owner keeps a nonce 2 × the signature window (±15 s), which covers every
 * replay the signature check lets through.
 */

/** How much insert time one generation spans (ms). */
export const GENERATION_MS = 5_000;

const HEX = /^[0-9a-f]+$/;

/**
 * A compact key for a nonce, one-to-one: lowercase hex is packed four digits to a code unit behind
 * a first unit holding its length (< 0x8000); anything else is kept as it is behind U+FFFF. The
 * first unit tells the two forms apart, so no packed key equals a kept one.
 */
export function nonceKey(nonce: string): string {
  const len = nonce.length;
  if (len === 32) return key32(nonce);
  if (len === 0 || len >= 0x8000 || !HEX.test(nonce)) return `\uffff${nonce}`;
  const units: number[] = [len];
  let unit = 0;
  for (let i = 0; i < len; i++) {
    const c = nonce.charCodeAt(i);
    unit = (unit << 4) | (c <= 57 ? c - 48 : c - 87);
    if ((i & 3) === 3) {
      units.push(unit);
      unit = 0;
    }
  }
  if (len & 3) units.push(unit << (4 * (4 - (len & 3))));
  return String.fromCharCode(...units);
}

/** A digit's value, or -1 for anything but lowercase hex. */
function hexValue(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
}

/** Four hex digits from `i` as one code unit; negative when any is not lowercase hex (-1 keeps the sign bit through the shifts and ORs). */
function unitAt(s: string, i: number): number {
  return (hexValue(s.charCodeAt(i)) << 12) | (hexValue(s.charCodeAt(i + 1)) << 8) | (hexValue(s.charCodeAt(i + 2)) << 4) | hexValue(s.charCodeAt(i + 3));
}

/**
 * nonceKey of a 32-character nonce (every signer's: 16 random bytes in hex), the same key without
 * the regular expression, the array and the spread call (test/unit/nonce-window.test.ts checks it
 * against the general path on a table and random strings).
 */
function key32(nonce: string): string {
  const u0 = unitAt(nonce, 0);
  const u1 = unitAt(nonce, 4);
  const u2 = unitAt(nonce, 8);
  const u3 = unitAt(nonce, 12);
  const u4 = unitAt(nonce, 16);
  const u5 = unitAt(nonce, 20);
  const u6 = unitAt(nonce, 24);
  const u7 = unitAt(nonce, 28);
  if ((u0 | u1 | u2 | u3 | u4 | u5 | u6 | u7) < 0) return `\uffff${nonce}`;
  return String.fromCharCode(32, u0, u1, u2, u3, u4, u5, u6, u7);
}

/**
 * The key being looked up, split once per call: a packed 32-digit key (`\u0020` + 8 units, every
 * signer's nonce) as four 32-bit words; any other key stays a string.
 */
let w0 = 0;
let w1 = 0;
let w2 = 0;
let w3 = 0;
/** Splits `key` into w0–w3; false when it is not a packed 32-digit key. */
function split(key: string): boolean {
  if (key.length !== 9 || key.charCodeAt(0) !== 32) return false;
  w0 = ((key.charCodeAt(1) << 16) | key.charCodeAt(2)) >>> 0;
  w1 = ((key.charCodeAt(3) << 16) | key.charCodeAt(4)) >>> 0;
  w2 = ((key.charCodeAt(5) << 16) | key.charCodeAt(6)) >>> 0;
  w3 = ((key.charCodeAt(7) << 16) | key.charCodeAt(8)) >>> 0;
  return true;
}
const hashOf = (a: number, b: number, c: number, d: number): number => {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ b ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ c ^ (h >>> 16), 0x85ebca6b);
  return (h ^ d ^ (h >>> 13)) >>> 0;
};

/**
 * One generation's keys in insertion order, without an object or a string per nonce: a packed
 * 32-digit key's 128 bits in `words` (four per entry), its value in `vals`, whether it is still held
 * in `alive`, and an open-addressing index of entry numbers (load ≤ 1/2) to find it; a key of any
 * other form (not a signer's nonce: rare) has its entry found through `others`. ≈ 57 bytes per
 * nonce instead of ≈ 95 for a Map entry and its 9-unit key string (docs/benchmarks.md "Round 8
 * confirmation"). Deleted and evicted entries stay in place, dead, until the generation goes.
 */
class Generation {
  private words = new Uint32Array(4 * 64);
  private vals = new Int32Array(64);
  private alive = new Uint8Array(64);
  /** Entry number + 1 by hash slot (0: empty slot); alive packed entries only after a rebuild. */
  private index = new Int32Array(128);
  /** Entries appended so far (alive or dead). */
  private n = 0;
  /** The first entry that may still be alive: the cap's eviction goes on from here. */
  private head = 0;
  /** Keys not in packed form: key → entry, and entry → key (to evict in order). */
  private others: Map<string, number> | undefined;
  private otherKeys: Map<number, string> | undefined;
  /** Entries alive. */
  live = 0;
  last: number;

  constructor(readonly from: number) {
    this.last = from;
  }

  /** The alive entry holding `key` (split() has been called for it: `packed` is its answer), or -1. */
  find(key: string, packed: boolean): number {
    if (!packed) {
      const e = this.others?.get(key);
      return e === undefined ? -1 : e;
    }
    const { words, index, alive } = this;
    const mask = index.length - 1;
    for (let i = hashOf(w0, w1, w2, w3) & mask; ; i = (i + 1) & mask) {
      const slot = index[i]!;
      if (slot === 0) return -1;
      const e = slot - 1;
      const o = 4 * e;
      if (alive[e] === 1 && words[o] === w0 && words[o + 1] === w1 && words[o + 2] === w2 && words[o + 3] === w3) return e;
    }
  }

  value(e: number): number {
    return this.vals[e]!;
  }

  /** Drops the entry holding `key` if alive here; true if it was. */
  delete(key: string, packed: boolean): boolean {
    const e = this.find(key, packed);
    if (e < 0) return false;
    this.kill(e);
    return true;
  }

  /** Appends `key` (held by no generation) with `value`. */
  append(key: string, packed: boolean, value: number): void {
    if (this.n === this.vals.length) this.growEntries();
    if (2 * (this.n + 1) > this.index.length) this.rebuildIndex(2 * this.index.length);
    const e = this.n++;
    this.vals[e] = value;
    this.alive[e] = 1;
    this.live++;
    if (packed) {
      const o = 4 * e;
      this.words[o] = w0;
      this.words[o + 1] = w1;
      this.words[o + 2] = w2;
      this.words[o + 3] = w3;
      this.place(e, w0, w1, w2, w3);
    } else {
      (this.others ??= new Map()).set(key, e);
      (this.otherKeys ??= new Map()).set(e, key);
    }
  }

  /** Drops the oldest alive entry; false when none is left. */
  evictOldest(): boolean {
    while (this.head < this.n && this.alive[this.head] === 0) this.head++;
    if (this.head >= this.n) return false;
    this.kill(this.head++);
    return true;
  }

  private kill(e: number): void {
    this.alive[e] = 0;
    this.live--;
    const other = this.otherKeys?.get(e);
    if (other !== undefined) {
      this.otherKeys!.delete(e);
      this.others!.delete(other);
    }
  }

  private place(e: number, a: number, b: number, c: number, d: number): void {
    const { index } = this;
    const mask = index.length - 1;
    let i = hashOf(a, b, c, d) & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = e + 1;
  }

  private growEntries(): void {
    const size = 2 * this.vals.length;
    const words = new Uint32Array(4 * size);
    words.set(this.words);
    const vals = new Int32Array(size);
    vals.set(this.vals);
    const alive = new Uint8Array(size);
    alive.set(this.alive);
    this.words = words;
    this.vals = vals;
    this.alive = alive;
  }

  /** A new index of `size` slots over the alive packed entries (dead ones drop out of it). */
  private rebuildIndex(size: number): void {
    this.index = new Int32Array(size);
    const { words, alive } = this;
    for (let e = 0; e < this.n; e++) {
      if (alive[e] === 0 || this.otherKeys?.has(e)) continue;
      const o = 4 * e;
      this.place(e, words[o]!, words[o + 1]!, words[o + 2]!, words[o + 3]!);
    }
  }
}

/** Keys set within the window, each with a small-integer value. */
export class NonceWindow {
  /** Oldest first; the last one takes the inserts. */
  private readonly gens: Generation[] = [];
  private total = 0;

  constructor(
    private readonly windowMs: number,
    private readonly cap: number,
  ) {}

  /** The value remembered for a key, if any. */
  get(key: string, now: number): number | undefined {
    this.expire(now);
    return this.lookup(key, split(key));
  }

  /** The value of `key` in the newest generation holding it (split() has been called for it). */
  private lookup(key: string, packed: boolean): number | undefined {
    for (let i = this.gens.length - 1; i >= 0; i--) {
      const g = this.gens[i]!;
      const e = g.find(key, packed);
      if (e >= 0) return g.value(e);
    }
    return undefined;
  }

  /**
   * The value remembered for a key, as get; when there is none, remembers `value` for it from now
   * on, as set would (one pass over the generations instead of get's and then set's two).
   */
  getOrSet(key: string, value: number, now: number): number | undefined {
    this.expire(now);
    const packed = split(key);
    const found = this.lookup(key, packed);
    // Absent from every generation: set's deletes would find nothing.
    if (found === undefined) this.insert(key, packed, value, now);
    return found;
  }

  /** Remembers a key with a value from now on (a key already remembered moves to now). */
  set(key: string, value: number, now: number): void {
    this.expire(now);
    const packed = split(key);
    for (const g of this.gens) if (g.delete(key, packed)) this.total--;
    this.insert(key, packed, value, now);
  }

  /** Adds a key held by no generation (expired ones dropped) to the newest, then keeps the cap. */
  private insert(key: string, packed: boolean, value: number, now: number): void {
    let cur = this.gens[this.gens.length - 1];
    if (!cur || now - cur.from >= GENERATION_MS) {
      cur = new Generation(now);
      this.gens.push(cur);
    }
    cur.append(key, packed, value);
    if (now > cur.last) cur.last = now;
    this.total++;
    // Over the cap: the oldest go first.
    while (this.total > this.cap) {
      const oldest = this.gens[0]!;
      if (oldest.evictOldest()) this.total--;
      if (oldest.live === 0) this.gens.shift();
    }
  }

  /** Keys remembered (expired generations not yet dropped included). */
  get size(): number {
    return this.total;
  }

  /** Generations held. */
  get generations(): number {
    return this.gens.length;
  }

  /** Drops the generations whose newest entry is older than the window. */
  private expire(now: number): void {
    while (this.gens.length && now - this.gens[0]!.last > this.windowMs) this.total -= this.gens.shift()!.live;
  }
}
