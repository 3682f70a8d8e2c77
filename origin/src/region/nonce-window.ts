/**
 * What a region's nonce owner remembers (./nonces.ts), compact. A nonce's key is its hex digits
 * packed four to a UTF-16 code unit (32 digits → a 9-unit string, which V8 stores flat: the nonce
 * as parsed is a slice of the request's x-pixmesh-auth value and kept that whole string alive);
 * its value is a small integer (the claimant's index, no object per entry); entries live in
 * generations of GENERATION_MS of insert time, dropped whole once their newest entry is older than
 * the window — no timestamp per entry, no sweep over a map. (A Map of {by, at} by raw nonce, pruned
 * only at its cap, grew the origin's heap 18 → 54 MB during a hit benchmark: docs/benchmarks.md
 * "Round 5".)
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

interface Generation {
  readonly map: Map<string, number>;
  /** Time of its first insert. */
  readonly from: number;
  /** Time of its latest insert. */
  last: number;
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
    for (let i = this.gens.length - 1; i >= 0; i--) {
      const v = this.gens[i]!.map.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /**
   * The value remembered for a key, as get; when there is none, remembers `value` for it from now
   * on, as set would (one pass over the generations instead of get's and then set's two).
   */
  getOrSet(key: string, value: number, now: number): number | undefined {
    this.expire(now);
    for (let i = this.gens.length - 1; i >= 0; i--) {
      const v = this.gens[i]!.map.get(key);
      if (v !== undefined) return v;
    }
    // Absent from every generation: set's deletes would find nothing.
    this.insert(key, value, now);
    return undefined;
  }

  /** Remembers a key with a value from now on (a key already remembered moves to now). */
  set(key: string, value: number, now: number): void {
    this.expire(now);
    for (const g of this.gens) if (g.map.delete(key)) this.total--;
    this.insert(key, value, now);
  }

  /** Adds a key held by no generation (expired ones dropped) to the newest, then keeps the cap. */
  private insert(key: string, value: number, now: number): void {
    let cur = this.gens[this.gens.length - 1];
    if (!cur || now - cur.from >= GENERATION_MS) {
      cur = { map: new Map(), from: now, last: now };
      this.gens.push(cur);
    }
    cur.map.set(key, value);
    if (now > cur.last) cur.last = now;
    this.total++;
    // Over the cap: the oldest go first.
    while (this.total > this.cap) {
      const oldest = this.gens[0]!;
      const k = oldest.map.keys().next();
      if (!k.done) {
        oldest.map.delete(k.value);
        this.total--;
      }
      if (oldest.map.size === 0) this.gens.shift();
    }
  }

  /** Keys remembered (expired generations not yet dropped included). */
  get size(): number {
    return this.total;
  }

  /** Generations held (each one Map). */
  get generations(): number {
    return this.gens.length;
  }

  /** Drops the generations whose newest entry is older than the window. */
  private expire(now: number): void {
    while (this.gens.length && now - this.gens[0]!.last > this.windowMs) this.total -= this.gens.shift()!.map.size;
  }
}
