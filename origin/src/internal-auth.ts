/**
 * Middleware refusing internal calls without a valid, fresh, never-seen signature addressed to
 * THIS region, and whose body does not match the signed digest (shared/internal-auth.ts).
 */
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
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
useHmac((secret, data, hash) => createHmac(hash === 'SHA-1' ? 'sha1' : 'sha256', keyOf(secret)).update(data).digest('hex'));

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
