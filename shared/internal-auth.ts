/**
 * Authentication of internal calls (edge → region, region → home region, purge fan-out):
 *
 *   x-pixmesh-auth: t=<unix ms>,n=<nonce>,s=<hex HMAC-SHA256>
 *   x-pixmesh-content-sha256: <hex SHA-256 of the body>   (covered by the HMAC)
 *
 * The HMAC covers the time, the nonce, the TARGET REGION (so a call captured on its way to one
 * region is refused by every other), the method, the path with query, the body digest, and the
 * x-pixmesh-* request headers that steer the work. The window is short (±15 s) and the receiver
 * refuses a nonce it has seen (a NonceStore: per process by default, shared across replicas when
 * backed by a shared store). The receiver checks the body against the signed digest as it reads it
 * (origin/src/internal-auth.ts), so a captured PATCH cannot carry another body.
 * WebCrypto, so the same code runs in workerd and Node. docs/security.md has the threat model.
 */
export const AUTH_HEADER = 'x-pixmesh-auth';
export const CONTENT_SHA256_HEADER = 'x-pixmesh-content-sha256';
/** Headers covered by the signature: changing any of them invalidates the call. */
export const SIGNED_HEADERS = [
  'x-pixmesh-format',
  'x-pixmesh-dpr',
  'x-pixmesh-width',
  'x-pixmesh-signed',
  'x-pixmesh-hop',
  'x-pixmesh-request-id',
  'x-pixmesh-encoding',
  // A background fill (not counted as usage): signed so a fill cannot be made of a user's call.
  'x-pixmesh-fill',
  // Set on calls between replicas of one region (origin/src/region/peers.ts).
  'x-pixmesh-peer',
  // How long the caller waits (shared/deadlines.ts): signed so nobody in between can cut a render short.
  'x-pixmesh-budget-ms',
] as const;
/** How far a signature's time may be from the receiver's clock. */
export const DEFAULT_WINDOW_MS = 15_000;
/** SHA-256 of the empty body. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const encoder = new TextEncoder();
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
const keyCache = new Map<string, Promise<HmacKey>>();

function hmacKey(secret: string, hash: 'SHA-256' | 'SHA-1'): Promise<HmacKey> {
  const id = `${hash}:${secret}`;
  let key = keyCache.get(id);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash }, false, ['sign']);
    if (keyCache.size > 100) keyCache.clear();
    keyCache.set(id, key);
  }
  return key;
}

/** Lowercase hex of some bytes. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return [...(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** An HMAC implementation a runtime may plug in (lowercase hex). */
export type HmacImpl = (secret: string, data: string, hash: 'SHA-256' | 'SHA-1') => string | Promise<string>;
let hmacImpl: HmacImpl | undefined;

/**
 * Replaces WebCrypto for HMACs in this process. The origin (Node) plugs in node:crypto: a ~200-byte
 * HMAC there costs a few µs on the calling thread, against ~50 µs and a thread-pool hop for
 * crypto.subtle.sign (docs/benchmarks.md "Profile"). The edge (workerd) keeps WebCrypto.
 */
export function useHmac(impl: HmacImpl | undefined): void {
  hmacImpl = impl;
}

export async function hmacHex(secret: string, data: string, hash: 'SHA-256' | 'SHA-1' = 'SHA-256'): Promise<string> {
  return hmacNow(secret, data, hash);
}

/** hmacHex, but a string at once when the plugged-in HMAC answers at once (no promise, no await). */
function hmacNow(secret: string, data: string, hash: 'SHA-256' | 'SHA-1'): string | Promise<string> {
  if (hmacImpl) return hmacImpl(secret, data, hash);
  return hmacKey(secret, hash).then(async (key) => toHex(await crypto.subtle.sign('HMAC', key, encoder.encode(data))));
}

/**
 * Constant-time comparison of two strings (length leaks, content does not): every UTF-16 code unit
 * of the longer one is compared, whatever differs first, without encoding either (the encoded
 * compare cost ≈ 2.6 µs per internal call on the hit path: docs/benchmarks.md "Round 5"). Equal
 * code units ⇔ equal strings, so it is also exact where UTF-8 encoding was not (two different lone
 * surrogates both encode as U+FFFD).
 */
export function timingSafeEqualStr(a: string, b: string): boolean {
  const la = a.length;
  const lb = b.length;
  // Equal lengths (every valid signature): the loop below without its modulo, the same diff.
  if (la === lb) {
    let same = 0;
    for (let i = 0; i < la; i++) same |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return same === 0;
  }
  let diff = la ^ lb;
  const n = la > lb ? la : lb;
  // charCodeAt past the end (an empty string) is NaN, and NaN | 0 is 0.
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i % (la || 1)) | 0) ^ (b.charCodeAt(i % (lb || 1)) | 0);
  return diff === 0;
}

type HeaderBag = { get(name: string): string | null | undefined };

export type BodyInput = string | Uint8Array | ArrayBuffer | null | undefined;

/** Hex SHA-256 of a body (empty when absent). */
export async function sha256Hex(body: BodyInput): Promise<string> {
  if (body === null || body === undefined) return EMPTY_SHA256;
  const bytes = typeof body === 'string' ? encoder.encode(body) : body instanceof Uint8Array ? body : new Uint8Array(body);
  if (bytes.byteLength === 0) return EMPTY_SHA256;
  return toHex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/** `\n<name>:` of each signed header, made once (two concatenations fewer per header and call). */
const SIGNED_PREFIXES = SIGNED_HEADERS.map((h) => `\n${h}:`);

function stringToSign(t: string, n: string, region: string, method: string, pathAndQuery: string, bodySha: string, headers: HeaderBag): string {
  let out = `${t}\n${n}\n${region}\n${method.toUpperCase()}\n${pathAndQuery}\n${bodySha}`;
  for (let i = 0; i < SIGNED_HEADERS.length; i++) out += SIGNED_PREFIXES[i]! + (headers.get(SIGNED_HEADERS[i]!) ?? '');
  return out;
}

/**
 * Whether `s` is `min`–`max` characters, each in '0'–'9' (`/^\d{min,max}$/`: \d without the u flag
 * is ASCII digits only), or also in 'a'–'f' with `hex` — what the four regular expressions of the
 * signature check tested, without them (test/unit/internal-auth-parse.test.ts: a table and random
 * strings against the expressions).
 */
export function charsIn(s: string, min: number, max: number, hex: boolean): boolean {
  const n = s.length;
  if (n < min || n > max) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    if (hex && c >= 97 && c <= 102) continue;
    return false;
  }
  return true;
}

/**
 * The t, n and s fields of an x-pixmesh-auth value, read as `Object.fromEntries(value.split(',')
 * .map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]))` read them — the last
 * part of a name wins; a part without '=' is named by its text minus the last character and holds
 * all of it — without building the arrays and the object (≈ 2 µs of each internal call).
 */
export function authFields(value: string): { t: string; n: string; s: string } {
  let t: string | undefined;
  let n: string | undefined;
  let s: string | undefined;
  for (let from = 0; from <= value.length; ) {
    let end = value.indexOf(',', from);
    if (end < 0) end = value.length;
    const eq = value.indexOf('=', from);
    const named = eq >= 0 && eq < end;
    const name = named ? value.slice(from, eq) : value.slice(from, Math.max(from, end - 1));
    if (name.length === 1) {
      const v = named ? value.slice(eq + 1, end) : value.slice(from, end);
      if (name === 't') t = v;
      else if (name === 'n') n = v;
      else if (name === 's') s = v;
    }
    from = end + 1;
  }
  return { t: t ?? '', n: n ?? '', s: s ?? '' };
}

function randomNonce(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return toHex(b);
}

export interface SignTarget {
  method: string;
  /** Path with query, exactly as sent. */
  pathAndQuery: string;
  /** The region the call is addressed to (a region id; the receiver compares it with its own). */
  region: string;
  /** The exact bytes that will be sent (omit for none). */
  body?: BodyInput;
  now?: number;
}

/**
 * Sign an internal call: sets x-pixmesh-content-sha256 and x-pixmesh-auth on `headers` (which
 * must already hold the steering headers it covers).
 */
export async function signInternalRequest(secret: string, headers: Headers, target: SignTarget): Promise<void> {
  const t = String(target.now ?? Date.now());
  const n = randomNonce();
  const bodySha = await sha256Hex(target.body);
  headers.set(CONTENT_SHA256_HEADER, bodySha);
  const s = await hmacHex(secret, stringToSign(t, n, target.region, target.method, target.pathAndQuery, bodySha, headers));
  headers.set(AUTH_HEADER, `t=${t},n=${n},s=${s}`);
}

export type InternalAuthResult =
  | { ok: true; nonce: string; timestamp: number; bodySha256: string }
  | { ok: false; reason: string };

/**
 * Checks the signature for THIS region and the time window. Replay (nonce reuse) is the caller's
 * NonceStore to check, and the body against `bodySha256` the caller's reader.
 */
export async function verifyInternalRequest(
  secret: string,
  request: { method: string; pathAndQuery: string; headers: HeaderBag; region: string },
  now = Date.now(),
  windowMs = DEFAULT_WINDOW_MS,
): Promise<InternalAuthResult> {
  return verifyInternalRequestNow(secret, request, now, windowMs);
}

/**
 * verifyInternalRequest, answered at once (no promise) when the plugged-in HMAC is synchronous
 * (the origin's node:crypto, useHmac) — the region-cache hit path then answers with no await at
 * all (origin/src/hit-path.ts); a promise otherwise (WebCrypto). It may throw where
 * verifyInternalRequest rejects.
 */
export function verifyInternalRequestNow(
  secret: string,
  request: { method: string; pathAndQuery: string; headers: HeaderBag; region: string },
  now = Date.now(),
  windowMs = DEFAULT_WINDOW_MS,
): InternalAuthResult | Promise<InternalAuthResult> {
  const value = request.headers.get(AUTH_HEADER);
  if (!value) return { ok: false, reason: 'missing internal signature' };
  const { t, n, s } = authFields(value);
  const bodySha = request.headers.get(CONTENT_SHA256_HEADER) ?? '';
  // /^\d{1,16}$/ t, /^[0-9a-f]{16,64}$/ n, /^[0-9a-f]{64}$/ s and body digest, as char loops (charsIn).
  if (!charsIn(t, 1, 16, false) || !charsIn(n, 16, 64, true) || !charsIn(s, 64, 64, true) || !charsIn(bodySha, 64, 64, true))
    return { ok: false, reason: 'malformed internal signature' };
  const ts = Number(t);
  if (Math.abs(now - ts) > windowMs) return { ok: false, reason: 'internal signature outside the time window' };
  const expected = hmacNow(secret, stringToSign(t, n, request.region, request.method, request.pathAndQuery, bodySha, request.headers), 'SHA-256');
  const conclude = (e: string): InternalAuthResult =>
    timingSafeEqualStr(e, s) ? { ok: true, nonce: n, timestamp: ts, bodySha256: bodySha } : { ok: false, reason: 'bad internal signature (or addressed to another region)' };
  return typeof expected === 'string' ? conclude(expected) : expected.then(conclude);
}

/**
 * Where seen nonces are remembered. The default is this process's memory; replicas of one region
 * plug in a shared store (the signature names the target region, so regions need not share one).
 * `remember` must be atomic: true exactly once per nonce within `ttlMs`.
 */
export interface NonceStore {
  remember(nonce: string, ttlMs: number, now?: number): boolean | Promise<boolean>;
}

/** Nonces seen inside the time window; bounded by the window (entries expire) and a hard cap. */
export class NonceMemory implements NonceStore {
  private readonly seen = new Map<string, number>();
  constructor(private readonly cap = 200_000) {}
  /** true when the nonce is new (and remembers it until now + ttlMs). */
  remember(nonce: string, ttlMs = 2 * DEFAULT_WINDOW_MS, now = Date.now()): boolean {
    const until = this.seen.get(nonce);
    if (until !== undefined && until > now) return false;
    if (this.seen.size >= this.cap) this.prune(now);
    this.seen.set(nonce, now + ttlMs);
    return true;
  }
  private prune(now: number): void {
    for (const [n, until] of this.seen) if (until <= now) this.seen.delete(n);
    // Still full: the oldest go first (Map keeps insertion order). A nonce dropped here is still
    // outside the window before it could be replayed only if cap ≥ calls per window; the cap is sized so.
    for (const n of this.seen.keys()) {
      if (this.seen.size < this.cap) break;
      this.seen.delete(n);
    }
  }
}
