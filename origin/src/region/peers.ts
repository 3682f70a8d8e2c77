/** Signed calls from one replica to another of the same region (same secret, same protocol as every internal call). */
import { AUTH_HEADER, signInternalRequest } from '../../../shared/internal-auth.js';

export const PEER_HEADER = 'x-pixmesh-peer';

export async function peerFetch(
  secret: string,
  baseUrl: string,
  method: string,
  pathAndQuery: string,
  opts: { headers?: Headers; body?: string | Uint8Array; timeoutMs: number; self: string; region: string },
): Promise<Response> {
  const headers = new Headers(opts.headers);
  headers.delete(AUTH_HEADER);
  // Marks the call as coming from a peer: the receiver does the work itself, never passes it on.
  headers.set(PEER_HEADER, opts.self);
  // peers serve the same region: the signature names it (and covers the body digest)
  await signInternalRequest(secret, headers, { method, pathAndQuery, region: opts.region, body: opts.body });
  return fetch(baseUrl + pathAndQuery, {
    method,
    headers,
    body: opts.body ?? undefined,
    signal: AbortSignal.timeout(opts.timeoutMs),
  } as RequestInit);
}
