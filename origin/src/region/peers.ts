/** Calls from one replica to another of the same region: the one signed internal fetch (shared/internal-fetch.ts), marked as a peer's. */
import { AUTH_HEADER } from '../../../shared/internal-auth.js';
import { internalFetch } from '../../../shared/internal-fetch.js';

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
  // Peers serve the same region: the signature names it (and covers the body digest).
  return internalFetch({ secret, baseUrl, target: opts.region, method, pathAndQuery, headers, body: opts.body, timeoutMs: opts.timeoutMs });
}
