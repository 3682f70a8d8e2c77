/** The response headers the edge sets on every image answer (HIT, MISS or STALE). */
import { H } from '../../../shared/headers.js';
import { AUTH_HEADER } from '../../../shared/internal-auth.js';

/** Sets them on headers the caller owns (a copy): the HIT path builds its one Response from them (edge-cache.ts). */
export function setEdgeHeaders(headers: Headers, cacheState: string, timing: string[], varyOn: string[]): void {
  headers.delete(AUTH_HEADER);
  headers.set(H.edgeCache, cacheState);
  headers.set('server-timing', timing.filter(Boolean).join(', '));
  if (varyOn.length) headers.set('vary', varyOn.join(', '));
  else headers.delete('vary');
  const hints = varyOn.filter((h) => h.startsWith('Sec-CH-'));
  if (hints.length) headers.set('accept-ch', hints.join(', '));
}

export function withEdgeHeaders(res: Response, cacheState: string, timing: string[], varyOn: string[], head: boolean): Response {
  const out = new Response(head ? null : res.body, res);
  setEdgeHeaders(out.headers, cacheState, timing, varyOn);
  return out;
}
