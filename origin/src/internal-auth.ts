/**
 * Middleware refusing internal calls without a valid, fresh, never-seen signature addressed to
 * THIS region, and whose body does not match the signed digest (shared/internal-auth.ts).
 */
import crypto, { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { CONTENT_SHA256_HEADER, DEFAULT_WINDOW_MS, EMPTY_SHA256, NonceMemory, useHmac, verifyInternalRequest, type NonceStore } from '../../shared/internal-auth.js';
import { PixmeshError } from '../../shared/errors.js';

// Internal-call HMACs (a few hundred bytes) with node:crypto: µs on this thread instead of a
// WebCrypto job on the thread pool that libvips also uses (docs/benchmarks.md "Profile").
// The secret's key object is made once (a string secret is converted on every call: ≈ 0.2 µs).
const keys = new Map<string, KeyObject>();
const keyOf = (secret: string): KeyObject => {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= 16) keys.clear();
    keys.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  }
  return key;
};
const viaHmacObject = (secret: string, data: string, hash: 'SHA-256' | 'SHA-1'): string => createHmac(hash === 'SHA-1' ? 'sha1' : 'sha256', keyOf(secret)).update(data).digest('hex');

/** SHA-256's block: a key is padded (or first hashed) to it (RFC 2104). */
const BLOCK = 64;
/** Per secret: the key XOR ipad block, written at the head of `inner`, and the key XOR opad block at the head of `outer`. */
const pads = new Map<string, { ipad: Buffer; opad: Buffer }>();
const padsOf = (secret: string) => {
  let p = pads.get(secret);
  if (!p) {
    let key = Buffer.from(secret, 'utf8');
    if (key.length > BLOCK) key = createHash('sha256').update(key).digest();
    const ipad = Buffer.alloc(BLOCK, 0x36);
    const opad = Buffer.alloc(BLOCK, 0x5c);
    for (let i = 0; i < key.length; i++) {
      ipad[i]! ^= key[i]!;
      opad[i]! ^= key[i]!;
    }
    if (pads.size >= 16) pads.clear();
    pads.set(secret, (p = { ipad, opad }));
  }
  return p;
};
/** (key XOR ipad) ‖ UTF-8 data, then (key XOR opad) ‖ inner digest: reused, grown when a string needs more (synchronous, so never shared by two calls). */
let inner = Buffer.allocUnsafe(BLOCK + 1024);
const outer = Buffer.allocUnsafe(BLOCK + 32);
let padsIn: { ipad: Buffer; opad: Buffer } | undefined;
/** The view of `inner` the last call hashed (its pads and data): reused while the data's byte length repeats (signed calls of one kind have one length). */
let innerView = inner.subarray(0, BLOCK);

/**
 * HMAC-SHA-256 (RFC 2104) from two one-shot digests (crypto.hash, Node ≥ 20.12; the inner one as a
 * 'binary' (latin1) string over a view reused while the length repeats: round 8): the same hex as
 * createHmac('sha256', secret).update(data).digest('hex') (test/unit/internal-auth-hmac.test.ts),
 * without an Hmac object per call — its construction and key setup (OpenSSL's HMAC init), the
 * C++ object the garbage collector finalises, and the digest's own object were ≈ 1 µs of every
 * signed internal call (docs/benchmarks.md "Round 7 (hit path").
 */
export function hmacSha256Hex(secret: string, data: string): string {
  const p = padsOf(secret);
  const need = BLOCK + data.length * 3;
  if (need > inner.length) {
    inner = Buffer.allocUnsafe(need);
    innerView = inner.subarray(0, BLOCK);
    padsIn = undefined;
  }
  if (padsIn !== p) {
    p.ipad.copy(inner, 0);
    p.opad.copy(outer, 0);
    padsIn = p;
  }
  const n = inner.write(data, BLOCK, 'utf8');
  if (innerView.length !== BLOCK + n) innerView = inner.subarray(0, BLOCK + n);
  // The inner digest as a one-byte-per-character string written back as bytes: no Buffer made per
  // call (a 'buffer' digest is a new ArrayBuffer each time; with the view's subarray ≈ 1 µs of a call).
  outer.write(crypto.hash('sha256', innerView, 'binary'), BLOCK, 'binary');
  return crypto.hash('sha256', outer, 'hex');
}

/** crypto.hash is Node ≥ 20.12 (21.7): older runtimes keep the Hmac object. */
const oneShot = typeof (crypto as { hash?: unknown }).hash === 'function';
useHmac((secret, data, hash) => (hash === 'SHA-256' && oneShot ? hmacSha256Hex(secret, data) : viaHmacObject(secret, data, hash)));

// The nonce store (what a receiver remembers to refuse a replay) is shared with the edge.
export { NonceMemory, type NonceStore } from '../../shared/internal-auth.js';

const authError = (reason: string) => new PixmeshError(401, 'EAUTH', `internal call refused: ${reason}`);

/** The body, hashed as it is read; the stream errors (401) at its end when the digest differs. */
function digestChecked(body: ReadableStream<Uint8Array>, expected: string): ReadableStream<Uint8Array> {
  const hash = createHash('sha256');
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        hash.update(chunk);
        ctl.enqueue(chunk);
      },
      flush(ctl) {
        if (hash.digest('hex') !== expected) ctl.error(authError('the body does not match the signed digest'));
      },
    }),
  );
}

export function requireInternalAuth(secret: string, region: string, nonces: NonceStore = new NonceMemory(), windowMs = DEFAULT_WINDOW_MS): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const result = await verifyInternalRequest(secret, { method: c.req.method, pathAndQuery: url.pathname + url.search, headers: c.req.raw.headers, region }, Date.now(), windowMs);
    if (!result.ok) throw authError(result.reason);
    if (!(await nonces.remember(result.nonce, 2 * windowMs))) throw authError('replayed request');
    // GET/HEAD carry no body: their Request is not materialised just to ask (@hono/node-server builds it lazily).
    const raw = c.req.method === 'GET' || c.req.method === 'HEAD' ? undefined : c.req.raw;
    if (raw?.body) {
      // The handler reads the body through the digest check (nothing is read here: bodies stay bounded by their readers).
      const checked = new Request(raw, { body: digestChecked(raw.body, result.bodySha256), duplex: 'half' } as RequestInit);
      c.req.raw = checked;
    } else if (result.bodySha256 !== EMPTY_SHA256) {
      throw authError(`the signed ${CONTENT_SHA256_HEADER} names a body but none was sent`);
    }
    await next();
  };
}
