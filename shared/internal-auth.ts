/**
 * Authentication of internal calls (edge → region, region → home region, purge fan-out):
 * `x-pixmesh-auth: t=<unix ms>,n=<nonce>,s=<hex HMAC-SHA256>` over the method, the path with
 * query, and the x-pixmesh-* request headers that steer the work. WebCrypto, so the same code
 * runs in workerd and Node. Replays are refused by the receiver's nonce memory (origin side).
 */
export const AUTH_HEADER = 'x-pixmesh-auth';
/** Headers covered by the signature: changing any of them invalidates the call. */
export const SIGNED_HEADERS = [
  'x-pixmesh-format',
  'x-pixmesh-dpr',
  'x-pixmesh-width',
  'x-pixmesh-signed',
  'x-pixmesh-hop',
  'x-pixmesh-request-id',
  'x-pixmesh-encoding',
] as const;
export const DEFAULT_WINDOW_MS = 60_000;

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

export async function hmacHex(secret: string, data: string, hash: 'SHA-256' | 'SHA-1' = 'SHA-256'): Promise<string> {
  const sig = await crypto.subtle.sign('HMAC', await hmacKey(secret, hash), encoder.encode(data));
  return toHex(sig);
}

/** Constant-time comparison of two strings (length leaks, content does not). */
export function timingSafeEqualStr(a: string, b: string): boolean {
  const ab = encoder.encode(a);
  const bb = encoder.encode(b);
  let diff = ab.length ^ bb.length;
  const n = Math.max(ab.length, bb.length);
  for (let i = 0; i < n; i++) diff |= (ab[i % (ab.length || 1)] ?? 0) ^ (bb[i % (bb.length || 1)] ?? 0);
  return diff === 0;
}

type HeaderBag = { get(name: string): string | null | undefined };

function stringToSign(method: string, pathAndQuery: string, headers: HeaderBag, t: string, n: string): string {
  const signed = SIGNED_HEADERS.map((h) => `${h}:${headers.get(h) ?? ''}`).join('\n');
  return `${t}\n${n}\n${method.toUpperCase()}\n${pathAndQuery}\n${signed}`;
}

function randomNonce(): string {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return toHex(b);
}

/** Returns the value for the x-pixmesh-auth header. */
export async function signInternalRequest(
  secret: string,
  method: string,
  pathAndQuery: string,
  headers: HeaderBag,
  now = Date.now(),
): Promise<string> {
  const t = String(now);
  const n = randomNonce();
  return `t=${t},n=${n},s=${await hmacHex(secret, stringToSign(method, pathAndQuery, headers, t, n))}`;
}

export type InternalAuthResult = { ok: true; nonce: string; timestamp: number } | { ok: false; reason: string };

/** Checks signature and time window; replay (nonce reuse) is the caller's memory to check. */
export async function verifyInternalRequest(
  secret: string,
  method: string,
  pathAndQuery: string,
  headers: HeaderBag,
  now = Date.now(),
  windowMs = DEFAULT_WINDOW_MS,
): Promise<InternalAuthResult> {
  const value = headers.get(AUTH_HEADER);
  if (!value) return { ok: false, reason: 'missing internal signature' };
  const parts = Object.fromEntries(value.split(',').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const t = parts.t ?? '';
  const n = parts.n ?? '';
  const s = parts.s ?? '';
  if (!/^\d{1,16}$/.test(t) || !/^[0-9a-f]{8,64}$/.test(n) || !/^[0-9a-f]{64}$/.test(s)) return { ok: false, reason: 'malformed internal signature' };
  const ts = Number(t);
  if (Math.abs(now - ts) > windowMs) return { ok: false, reason: 'internal signature outside the time window' };
  const expected = await hmacHex(secret, stringToSign(method, pathAndQuery, headers, t, n));
  if (!timingSafeEqualStr(expected, s)) return { ok: false, reason: 'bad internal signature' };
  return { ok: true, nonce: n, timestamp: ts };
}
