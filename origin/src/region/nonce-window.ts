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

  /** Remembers a key with a value from now on (a key already remembered moves to now). */
  set(key: string, value: number, now: number): void {
    this.expire(now);
    for (const g of this.gens) if (g.map.delete(key)) this.total--;
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
