/** Signed calls from one replica to another of the same region (same secret, same protocol as every internal call). */
import { AUTH_HEADER, signInternalRequest } from '../../../shared/internal-auth.js';

export const PEER_HEADER = 'x-pixmesh-peer';

export async function peerFetch(
  secret: string,
  baseUrl: string,
  method: string,
  pathAndQuery: string,
  opts: { headers?: Headers; body?: RequestInit["body"]; timeoutMs: number; self: string },
): Promise<Response> {
  const headers = new Headers(opts.headers);
  headers.delete(AUTH_HEADER);
  // Marks the call as coming from a peer: the receiver does the work itself, never passes it on.
  headers.set(PEER_HEADER, opts.self);
  headers.set(AUTH_HEADER, await signInternalRequest(secret, method, pathAndQuery, headers));
  return fetch(baseUrl + pathAndQuery, {
    method,
    headers,
    body: opts.body ?? undefined,
    signal: AbortSignal.timeout(opts.timeoutMs),
    ...(opts.body ? { duplex: 'half' } : {}),
  } as RequestInit);
}
