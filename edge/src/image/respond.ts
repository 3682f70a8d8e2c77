/** The response headers the edge sets on every image answer (HIT, MISS or STALE). */
import { H } from '../../../shared/headers.js';
import { AUTH_HEADER } from '../../../shared/internal-auth.js';

export function withEdgeHeaders(res: Response, cacheState: string, timing: string[], varyOn: string[], head: boolean): Response {
  const out = new Response(head ? null : res.body, res);
  out.headers.delete(AUTH_HEADER);
  out.headers.set(H.edgeCache, cacheState);
  out.headers.set('server-timing', timing.filter(Boolean).join(', '));
  if (varyOn.length) out.headers.set('vary', varyOn.join(', '));
  else out.headers.delete('vary');
  const hints = varyOn.filter((h) => h.startsWith('Sec-CH-'));
  if (hints.length) out.headers.set('accept-ch', hints.join(', '));
  return out;
}
